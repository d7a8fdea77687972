package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// The user-level client's operations.
var (
	opExchange     = operation{name: "code exchange", endpoint: EndpointToken}
	opRefresh      = operation{name: "refresh", endpoint: EndpointToken}
	opRevoke       = operation{name: "revoke", endpoint: EndpointRevoke}
	opUsersMe      = operation{name: "users/me", endpoint: EndpointUsersMe}
	opOBF          = operation{name: "obf token", endpoint: EndpointUserToken}
	opUserZAK      = operation{name: "user zak", endpoint: EndpointUserToken}
	opListMeetings = operation{name: "meeting listing", endpoint: EndpointMeetings, maxAnswer: maxListingAnswer}
)

// Endpoint names of the user-level client, as Hooks receive them.
const (
	EndpointUsersMe   = "users_me"
	EndpointUserToken = "user_token"
	EndpointMeetings  = "meetings"
	EndpointRevoke    = "oauth_revoke"
)

// Grant is what Zoom gives for an authorization code or a refresh token.
type Grant struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	Scopes       []string
	// APIBase is the REST base to use with AccessToken.
	APIBase string
}

// Me is who a user-level token belongs to (GET /v2/users/me).
type Me struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	PMI       int64  `json:"pmi"`
}

// UserClient calls Zoom for the user-managed (General) OAuth app: it exchanges codes, refreshes
// and revokes tokens, and asks Zoom for OBF tokens, ZAKs, join tokens and meeting listings with
// a user's access token. It shares the S2S client's transport (timeouts, retries, typed errors)
// and keeps a rate gate per Zoom account. Refreshes are never retried: Zoom may have rotated the
// refresh token even when its answer was lost, and presenting the old one again would kill the
// connection.
type UserClient struct {
	tr    *transport
	oauth oauth2.Config

	mu    sync.Mutex
	gates map[string]*rateGate // by Zoom account: connected users live in many accounts
}

// NewUserClient returns the client of the user-managed app whose credentials cfg holds
// (ClientID, ClientSecret; AccountID is not used). redirectURI is the app's registered redirect
// URL.
func NewUserClient(cfg Config, redirectURI string) *UserClient {
	tr := newTransport(cfg)
	return &UserClient{tr: tr, gates: map[string]*rateGate{}, oauth: oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   tr.cfg.OAuthBaseURL + "/oauth/authorize",
			TokenURL:  tr.cfg.OAuthBaseURL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}}
}

// AuthCodeURL returns Zoom's authorize URL for state, with the S256 challenge of verifier.
func (u *UserClient) AuthCodeURL(state, verifier string) string {
	return u.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades an authorization code for a grant.
func (u *UserClient) Exchange(ctx context.Context, code, verifier string) (Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, u.tr.cfg.Budget)
	defer cancel()
	return u.token(ctx, opExchange, code, func(ctx context.Context) (*oauth2.Token, error) {
		return u.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
}

// Refresh trades a refresh token for a new grant, in one attempt. Zoom rotates the refresh token:
// the one given is dead once this succeeds.
func (u *UserClient) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, u.tr.cfg.Budget)
	defer cancel()
	return u.token(ctx, opRefresh, refreshToken, func(ctx context.Context) (*oauth2.Token, error) {
		// An expired token makes the source refresh at once.
		return u.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
	})
}

// RefreshTokens is Refresh for callers that keep only the tokens and the access token's expiry
// (the connections domain).
func (u *UserClient) RefreshTokens(ctx context.Context, refreshToken string) (access, refresh string, expiresAt time.Time, err error) {
	g, err := u.Refresh(ctx, refreshToken)
	return g.AccessToken, g.RefreshToken, g.ExpiresAt, err
}

// token runs one token request. presented is the code or refresh token sent, scrubbed from
// Zoom's reason text (Zoom echoes a bad code back), so an error never carries it into a log.
func (u *UserClient) token(ctx context.Context, op operation, presented string, get func(context.Context) (*oauth2.Token, error)) (Grant, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, u.tr.http)
	start, began := u.tr.cfg.Now(), time.Now()
	actx, cancel := context.WithTimeout(ctx, u.tr.cfg.AttemptTimeout)
	defer cancel()
	tok, err := get(actx)
	if err != nil {
		zerr := u.tr.tokenError(err)
		zerr.Op = op.name
		if presented != "" {
			zerr.Message = strings.ReplaceAll(zerr.Message, presented, "[redacted]")
		}
		u.tr.observe(op, zerr, time.Since(began))
		return Grant{}, zerr
	}
	u.tr.observe(op, nil, time.Since(began))
	if tok.RefreshToken == "" {
		return Grant{}, &Error{Kind: KindRefused, Op: op.name, Message: "answer has no refresh token"}
	}
	at := u.tr.accessToken(tok, start)
	return Grant{AccessToken: at.value, RefreshToken: tok.RefreshToken, ExpiresAt: at.expiresAt, Scopes: at.scopes, APIBase: at.apiBase}, nil
}

// Revoke revokes a user's access or refresh token (and with it the user's whole token set).
func (u *UserClient) Revoke(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, u.tr.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.tr.cfg.OAuthBaseURL+"/oauth/revoke",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return &Error{Kind: KindRefused, Op: opRevoke.name, Message: "bad request URL", Err: err}
	}
	req.SetBasicAuth(url.QueryEscape(u.oauth.ClientID), url.QueryEscape(u.oauth.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	began := time.Now()
	resp, err := u.tr.http.Do(req)
	if err != nil {
		zerr := &Error{Kind: KindUnavailable, Op: opRevoke.name, Message: transportProblem(err), Err: stripURL(err)}
		u.tr.observe(opRevoke, zerr, time.Since(began))
		return zerr
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode == http.StatusOK {
		u.tr.observe(opRevoke, nil, time.Since(began))
		return nil
	}
	var answer struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	json.Unmarshal(body, &answer)
	zerr := &Error{Kind: KindRefused, Op: opRevoke.name, Status: resp.StatusCode, OAuthError: answer.Error,
		Message: clip(cmpOr(answer.Reason, http.StatusText(resp.StatusCode))), TrackingID: resp.Header.Get("x-zm-trackingid")}
	if resp.StatusCode >= 500 {
		zerr.Kind = KindUnavailable
	}
	u.tr.observe(opRevoke, zerr, time.Since(began))
	return zerr
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// UserToken is a user's access token, the REST base to use it with, and the user's Zoom account
// (whose rate limits the call counts against; empty shares one gate among unknown accounts).
type UserToken struct {
	Value   string
	APIBase string
	Account string
}

// at is the token with its REST base: its own, else the configured one, else Zoom's default.
func (u *UserClient) at(t UserToken) accessToken {
	base := cmpOr(t.APIBase, cmpOr(u.tr.cfg.APIBaseURL, DefaultAPIBaseURL))
	return accessToken{value: t.Value, apiBase: strings.TrimRight(base, "/"), gate: u.gate(t.Account)}
}

// gate returns the rate-limit gate of a Zoom account.
func (u *UserClient) gate(account string) *rateGate {
	u.mu.Lock()
	defer u.mu.Unlock()
	g, ok := u.gates[account]
	if !ok {
		g = newRateGate(u.tr.cfg.RateLimit, time.Now)
		u.gates[account] = g
	}
	return g
}

// Me returns who the token belongs to.
func (u *UserClient) Me(ctx context.Context, t UserToken) (Me, error) {
	var me Me
	err := u.tr.callAs(ctx, opUsersMe, u.at(t), "/v2/users/me", nil, func(body []byte) error {
		if json.Unmarshal(body, &me) != nil || me.ID == "" {
			return errors.New("no user id")
		}
		return nil
	})
	return me, err
}

// OBF returns an on-behalf-of token of the token's user, for meetingID when it is not zero.
func (u *UserClient) OBF(ctx context.Context, t UserToken, meetingID int64) (string, error) {
	query := url.Values{"type": {"onbehalf"}}
	if meetingID > 0 {
		query.Set("meeting_id", strconv.FormatInt(meetingID, 10))
	}
	return u.tr.tokenAs(ctx, opOBF, u.at(t), "/v2/users/me/token", query)
}

// ZAK returns the ZAK of the token's user. A zero ttl leaves the lifetime to Zoom.
func (u *UserClient) ZAK(ctx context.Context, t UserToken, ttl time.Duration) (string, error) {
	query := url.Values{"type": {"zak"}}
	if ttl > 0 {
		query.Set("ttl", strconv.FormatInt(int64(ttl/time.Second), 10))
	}
	return u.tr.tokenAs(ctx, opUserZAK, u.at(t), "/v2/users/me/token", query)
}

// JoinToken returns a join token for a meeting the token's user hosts.
func (u *UserClient) JoinToken(ctx context.Context, t UserToken, meetingID int64, kind JoinTokenKind, bypassWaitingRoom bool) (string, error) {
	path, query, err := joinTokenRequest(meetingID, kind, bypassWaitingRoom)
	if err != nil {
		return "", err
	}
	return u.tr.tokenAs(ctx, opJoinToken, u.at(t), path, query)
}

// maxListedMeetings bounds how many meetings one listing follows, so a huge or looping listing
// cannot hold a caller forever.
const maxListedMeetings = 30000

// Meetings lists the ids of the scheduled meetings the token's user hosts, following every page.
func (u *UserClient) Meetings(ctx context.Context, t UserToken) ([]int64, error) {
	var ids []int64
	next := ""
	for {
		query := url.Values{"type": {"scheduled"}, "page_size": {"300"}}
		if next != "" {
			query.Set("next_page_token", next)
		}
		var page struct {
			NextPageToken string `json:"next_page_token"`
			Meetings      []struct {
				ID int64 `json:"id"`
			} `json:"meetings"`
		}
		err := u.tr.callAs(ctx, opListMeetings, u.at(t), "/v2/users/me/meetings", query, func(body []byte) error {
			return json.Unmarshal(body, &page)
		})
		if err != nil {
			return ids, err
		}
		for _, m := range page.Meetings {
			ids = append(ids, m.ID)
		}
		if page.NextPageToken == "" || page.NextPageToken == next || len(ids) >= maxListedMeetings {
			return ids, nil
		}
		next = page.NextPageToken
	}
}

// ListMeetings is Meetings for callers that hold the access token alone.
func (u *UserClient) ListMeetings(ctx context.Context, accessToken string) ([]int64, error) {
	return u.Meetings(ctx, UserToken{Value: accessToken})
}

// IsInvalidAccessToken reports whether Zoom refused a call because the access token is invalid
// (401, code 124: expired or revoked), which a refresh can cure.
func IsInvalidAccessToken(err error) bool {
	var zerr *Error
	return errors.As(err, &zerr) && zerr.AccessTokenRejected()
}

// IsRefreshTokenDead reports whether the token endpoint refused a refresh token for good.
func IsRefreshTokenDead(err error) bool {
	var zerr *Error
	return errors.As(err, &zerr) && zerr.RefreshTokenDead()
}

// AccessTokenRejected reports whether Zoom refused the call because its access token is invalid
// (401, code 124: expired or revoked), which a refresh can cure. The connections domain asks it
// of an error through errors.As.
func (e *Error) AccessTokenRejected() bool {
	return e.Status == http.StatusUnauthorized && e.Code == codeInvalidAccessToken
}

// RefreshTokenDead reports whether the token endpoint refused a refresh token for good:
// invalid_grant (used, revoked or expired), or 4711 (the app's scopes changed). invalid_client is
// not: that is the app's configuration, not the connection.
func (e *Error) RefreshTokenDead() bool {
	return e.Op == opRefresh.name && (e.OAuthError == "invalid_grant" || e.OAuthError == "4711" || e.Code == codeMissingScope)
}
