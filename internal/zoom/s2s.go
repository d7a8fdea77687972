// Package zoom is Zoom's API as zoomtoken uses it: the Server-to-Server client (s2s.go: ZAKs,
// join tokens, RTMS control), the user-managed OAuth app's client (user.go: code exchange,
// refresh, revoke, users/me, OBF tokens, ZAKs, join tokens, meeting listings), Zoom's webhooks
// (webhook.go: verify and parse), RTMS signatures and control (rtms.go), and meeting ids read out
// of Zoom links (meetingurl.go). Both clients share one transport (transport.go): each call names
// its operation (its metrics endpoint and answer limit), and gets a budget, retries with
// backoff, a rate gate per Zoom account, and typed errors that carry what Zoom said and never a
// token. It knows none of its callers.
package zoom

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The S2S client's operations. A user's join token is the same operation as the app's.
var (
	opAccessToken = operation{name: "access token", endpoint: EndpointToken}
	opZAK         = operation{name: "zak", endpoint: EndpointZAK}
	opJoinToken   = operation{name: "join token", endpoint: EndpointJoinToken}
)

// Client talks to Zoom for one S2S OAuth app. It is safe for concurrent use.
type Client struct {
	tr     *transport
	oauth  clientcredentials.Config
	tokens *tokenCache
	gate   *rateGate // the app's account's: every call of this client counts against it
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	tr := newTransport(cfg)
	cfg = tr.cfg
	c := &Client{
		tr: tr,
		oauth: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.OAuthBaseURL + "/oauth/token",
			// clientcredentials lets grant_type be overridden; Zoom wants account_credentials.
			EndpointParams: url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.AccountID}},
			AuthStyle:      oauth2.AuthStyleInHeader,
		},
		gate: newRateGate(cfg.RateLimit, time.Now), // waits are real time, whatever clock expiry uses
	}
	c.tokens = &tokenCache{fetch: c.fetchToken, now: cfg.Now, timeout: cfg.Budget}
	return c
}

// ZAK returns a ZAK for user (a Zoom user id or email). A zero ttl leaves the lifetime to Zoom.
func (c *Client) ZAK(ctx context.Context, user string, ttl time.Duration) (string, error) {
	query := url.Values{"type": {"zak"}}
	if ttl > 0 {
		query.Set("ttl", strconv.FormatInt(int64(ttl/time.Second), 10))
	}
	return c.call(ctx, opZAK, "/v2/users/"+url.PathEscape(user)+"/token", query)
}

// JoinToken returns a fresh single-use join token of the given kind for a meeting.
func (c *Client) JoinToken(ctx context.Context, meetingID int64, kind JoinTokenKind, bypassWaitingRoom bool) (string, error) {
	path, query, err := joinTokenRequest(meetingID, kind, bypassWaitingRoom)
	if err != nil {
		return "", err
	}
	return c.call(ctx, opJoinToken, path, query)
}

// call GETs a Zoom endpoint that answers {"token": "..."} with the S2S access token, and
// returns the token. After a 401 (code 124) it fetches a new access token and tries once more;
// tokenAs retries the rest.
func (c *Client) call(ctx context.Context, op operation, path string, query url.Values) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.tr.cfg.Budget)
	defer cancel()
	for refreshed := false; ; refreshed = true {
		at, err := c.tokens.get(ctx)
		if err != nil {
			return "", err
		}
		token, err := c.tr.tokenAs(ctx, op, at, path, query)
		if IsInvalidAccessToken(err) && !refreshed {
			c.tokens.invalidate(at.value)
			continue
		}
		return token, err
	}
}

// TokenExpiry returns when the cached access token expires, or the zero time when none is cached.
func (c *Client) TokenExpiry() time.Time { return c.tokens.cached().expiresAt }

// GrantedScopes returns the scopes of the access token, fetching one if none is cached.
func (c *Client) GrantedScopes(ctx context.Context) ([]string, error) {
	at, err := c.tokens.get(ctx)
	if err != nil {
		return nil, err
	}
	return at.scopes, nil
}

// fetchToken asks the token endpoint for a new access token, retrying 5xx answers and network
// errors with backoff inside ctx.
func (c *Client) fetchToken(ctx context.Context) (accessToken, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.tr.http)
	for attempt := 1; ; attempt++ {
		start := c.tr.cfg.Now()
		began := time.Now()
		actx, cancel := context.WithTimeout(ctx, c.tr.cfg.AttemptTimeout)
		tok, err := c.oauth.Token(actx)
		cancel()
		if err == nil {
			at := c.tr.accessToken(tok, start)
			at.gate = c.gate
			c.tr.observe(opAccessToken, nil, time.Since(began))
			if c.tr.cfg.Hooks.TokenFetched != nil {
				c.tr.cfg.Hooks.TokenFetched(at.expiresAt)
			}
			return at, nil
		}
		zerr := c.tr.tokenError(err)
		c.tr.observe(opAccessToken, zerr, time.Since(began))
		if !c.tr.retryAfter(ctx, zerr, attempt) {
			return accessToken{}, zerr
		}
	}
}
