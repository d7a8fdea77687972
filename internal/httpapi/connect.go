package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// ConnectFlow is what GET /connect and GET /oauth/callback need beside Connected.
type ConnectFlow struct {
	Links *connectlink.Signer
	// Cookies seals the cookie that binds a state to the browser that started the flow.
	Cookies *seal.Keyring
	// SecureCookie marks the cookie Secure (PUBLIC_URL is https).
	SecureCookie bool
	// SuccessURL, when set, is where a connected browser is sent instead of the page.
	SuccessURL string
	// Branding names the operator's app on the flow's pages.
	Branding Branding
	Now      func() time.Time
}

// Branding is what the connect flow's pages show of the operator's app, so a person knows whom
// they are connecting their Zoom account to. Every field is optional.
type Branding struct {
	// AppName is the app's name (CONNECT_APP_NAME).
	AppName string
	// LogoURL is an https image shown above the name (CONNECT_LOGO_URL).
	LogoURL string
	// SupportURL is where a person finds help (CONNECT_SUPPORT_URL): https, http or mailto.
	SupportURL string
}

const (
	stateCookie   = "zoomtoken_connect"
	stateLifetime = 10 * time.Minute
)

// flowState is what the cookie holds between /connect and the callback.
type flowState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Ref      string `json:"r,omitempty"`
	IssuedAt int64  `json:"t"`
}

var cookieAD = []byte("zoomtoken connect state cookie")

// handleConnect serves GET /connect?ref=R&expires=T&sig=S, the link an operator gives a user: it
// checks the link, binds a fresh state and PKCE verifier to this browser with a sealed cookie,
// and sends the browser to Zoom's consent page. A bad link never reaches Zoom.
func handleConnect(cd *vend.Connected, flow *ConnectFlow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref, err := flow.Links.Verify(r.URL.Query())
		if err != nil {
			page, why := pageBadLink, "the connect link was changed or signed with another key"
			if errors.Is(err, connectlink.ErrExpired) {
				page, why = pageExpiredLink, "the connect link has expired"
			}
			writePageFailure(w, r, flow.Branding, badPage(page, why))
			return
		}
		if err := cd.Manager.Ready(r.Context()); err != nil {
			writePageFailure(w, r, flow.Branding, err)
			return
		}
		fs := flowState{State: randomToken(), Verifier: oauth2.GenerateVerifier(), Ref: ref, IssuedAt: flow.Now().Unix()}
		plain, _ := json.Marshal(fs)
		sealed, err := flow.Cookies.Seal(plain, cookieAD)
		if err != nil {
			writePageFailure(w, r, flow.Branding, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: base64.RawURLEncoding.EncodeToString(sealed),
			Path: "/oauth/callback", MaxAge: int(stateLifetime / time.Second), HttpOnly: true, Secure: flow.SecureCookie,
			SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, cd.Zoom.AuthCodeURL(fs.State, fs.Verifier), http.StatusFound)
	}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// readFlowState opens the state cookie and checks it against the state Zoom sent back: issued
// here, for this browser, under 10 minutes ago.
func readFlowState(r *http.Request, flow *ConnectFlow) (flowState, bool) {
	var fs flowState
	cookie, err := r.Cookie(stateCookie)
	if err != nil {
		return fs, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(cookie.Value)
	if err != nil {
		return fs, false
	}
	plain, err := flow.Cookies.Open(sealed, cookieAD)
	if err != nil || json.Unmarshal(plain, &fs) != nil {
		return fs, false
	}
	state := r.URL.Query().Get("state")
	age := flow.Now().Sub(time.Unix(fs.IssuedAt, 0))
	ok := state != "" && subtle.ConstantTimeCompare([]byte(state), []byte(fs.State)) == 1 && age >= -time.Minute && age < stateLifetime
	return fs, ok
}

// Scopes a connection needs: each requirement is met by the granular scope, its :admin form, or
// the classic one.
var requiredScopes = []struct {
	name      string
	satisfied []string
}{
	{"user:read:token", []string{"user:read:token", "user:read:token:admin", "user:read"}},
	{"user:read:user", []string{"user:read:user", "user:read:user:admin", "user:read"}},
}

func missingScopes(granted []string) []string {
	var missing []string
	for _, req := range requiredScopes {
		if !slices.ContainsFunc(req.satisfied, func(s string) bool { return slices.Contains(granted, s) }) {
			missing = append(missing, req.name)
		}
	}
	return missing
}

// handleCallback serves GET /oauth/callback?code=C&state=S, where Zoom sends the browser back:
// it checks the state first (a bad one never exchanges the code), exchanges the code with the
// PKCE verifier, checks the granted scopes, reads who connected, and stores the connection.
func handleCallback(cd *vend.Connected, flow *ConnectFlow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := requestLogger(w)
		q := r.URL.Query()
		fs, ok := readFlowState(r, flow)
		// The cookie has done its job, whatever happens next.
		http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/oauth/callback", MaxAge: -1, HttpOnly: true,
			Secure: flow.SecureCookie, SameSite: http.SameSiteLaxMode})
		if !ok {
			writePageFailure(w, r, flow.Branding, badPage(pageBadState,
				"no state cookie of this browser matches (another browser, over 10 minutes, or a forged state)"))
			return
		}
		first, err := cd.Manager.UseState(ctx, fs.State, time.Unix(fs.IssuedAt, 0).Add(stateLifetime))
		switch {
		case err != nil:
			writePageFailure(w, r, flow.Branding, err)
			return
		case !first:
			writePageFailure(w, r, flow.Branding, badPage(pageBadState, "this sign-in was finished before (its state was used)"))
			return
		}
		if zoomErr := q.Get("error"); zoomErr != "" {
			if !plainWord(zoomErr) {
				zoomErr = "(not a plain word)"
			}
			writePageFailure(w, r, flow.Branding, badPage(pageDeclined, "Zoom answered error="+zoomErr+": the user declined"))
			return
		}
		grant, err := cd.Zoom.Exchange(ctx, q.Get("code"), fs.Verifier)
		if err != nil {
			writePageFailure(w, r, flow.Branding, err)
			return
		}
		if missing := missingScopes(grant.Scopes); len(missing) > 0 {
			if err := cd.Zoom.Revoke(ctx, grant.RefreshToken); err != nil {
				log.Warn().Err(err).Msg("connect: revoking the tokens of a refused grant failed")
			}
			writePageFailure(w, r, flow.Branding, badPage(pageMissingScopes(missing), "the granted scopes lack "+strings.Join(missing, ", ")))
			return
		}
		me, err := cd.Zoom.Me(ctx, zoom.UserToken{Value: grant.AccessToken, APIBase: grant.APIBase})
		if err != nil {
			cd.Zoom.Revoke(ctx, grant.RefreshToken) // best effort: tokens nobody will store
			writePageFailure(w, r, flow.Branding, err)
			return
		}
		c, created, err := cd.Manager.Connect(ctx, connections.Connection{ZoomUserID: me.ID, ZoomAccountID: me.AccountID,
			Email: me.Email, Ref: fs.Ref, Scopes: grant.Scopes},
			connections.Tokens{Access: grant.AccessToken, Refresh: grant.RefreshToken, AccessExpiresAt: grant.ExpiresAt}, me.PMI)
		if err != nil {
			writePageFailure(w, r, flow.Branding, fmt.Errorf("connect: storing the connection: %w", err))
			return
		}
		// The listing can take a while for a busy host: it runs after the answer. If the process
		// stops first, the daily listing finds the connection never listed and does it.
		go func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := cd.Manager.ListMeetings(ctx, c.ID, true); err != nil {
				log.Warn().Str("connection", c.ID).Err(err).Msg("connect: listing the user's meetings failed; retrying in the daily listing")
			}
		}(context.WithoutCancel(ctx))
		log.Info().Str("connection", c.ID).Bool("created", created).Msg("Zoom account connected")
		if flow.SuccessURL != "" {
			target, _ := url.Parse(flow.SuccessURL)
			query := target.Query()
			query.Set("connection_id", c.ID)
			query.Set("ref", c.Ref)
			target.RawQuery = query.Encode()
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, target.String(), http.StatusSeeOther)
			return
		}
		writePage(w, http.StatusOK, flow.Branding, pageConnected(c.Email, flow.Branding.AppName))
	}
}

// page is one small self-contained HTML page: what happened and what to do next.
type page struct {
	Title, What, Next string
}

var (
	pageBadLink     = page{"This link does not work", "The link was changed or is incomplete.", "Ask whoever sent it for a new link."}
	pageExpiredLink = page{"This link has expired", "Connect links work for a limited time.", "Ask whoever sent it for a new link."}
	pageBadState    = page{"This sign-in could not be finished", "It was started in another browser, took longer than 10 minutes, or was already used.",
		"Open the connect link you were given again, in this browser."}
	pageDeclined = page{"Your Zoom account was not connected", "You chose not to allow access on Zoom's page. Nothing was stored.",
		"If that was a mistake, open the connect link again and choose Allow."}
	pageUnavailable = page{"Please try again in a moment", "The service could not save your connection just now. Nothing was stored.",
		"Open the connect link again in a few minutes."}
	pageZoomDown = page{"Zoom did not answer", "Zoom was unavailable or too slow. Nothing was stored.",
		"Open the connect link again in a few minutes."}
	pageInternal = page{"Something went wrong", "The service failed to finish this step. Nothing was stored.",
		"Open the connect link again; if it keeps failing, tell whoever sent it."}
	pageZoomRefused = page{"Zoom refused the connection", "Zoom did not accept the sign-in. Nothing was stored.",
		"Open the connect link again; if it keeps failing, tell whoever sent it (the app's setup needs attention)."}
)

func pageMissingScopes(missing []string) page {
	return page{"Your Zoom account was not connected",
		"The permissions granted on Zoom's page lack " + strings.Join(missing, " and ") + ", which the service needs. Nothing was stored, and the access given was revoked.",
		"Tell whoever sent the link: the Zoom app must request these scopes. Then open the link again."}
}

func pageConnected(email, appName string) page {
	what := "Connected: " + email + "."
	if appName != "" {
		what = "Connected " + email + " to " + appName + "."
	}
	return page{"Your Zoom account is connected", what, "You can close this window."}
}

// pageStyle is the only style the pages have; the Content-Security-Policy allows exactly it.
const pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#1a1a1a}h1{font-size:1.4em}`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}{{with .Brand.AppName}} · {{.}}{{end}}</title><style>` + pageStyle + `</style></head>
<body><main>{{with .Brand.LogoURL}}<img src="{{.}}" alt="" height="48">{{end}}{{with .Brand.AppName}}<p><strong>{{.}}</strong></p>{{end}}
<h1>{{.Title}}</h1><p>{{.What}}</p><p>{{.Next}}</p>{{with .Brand.SupportURL}}
<p>Need help? <a href="{{.}}">Contact support</a>.</p>{{end}}</main></body></html>
`))

// pageStyleSource is the CSP source that allows pageStyle and nothing else.
var pageStyleSource = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// pageCSP is the pages' Content-Security-Policy: their one style, and the logo's origin when
// there is a logo; nothing else loads.
func pageCSP(b Branding) string {
	img := ""
	if u, err := url.Parse(b.LogoURL); err == nil && b.LogoURL != "" {
		img = "img-src " + u.Scheme + "://" + u.Host + "; "
	}
	return "default-src 'none'; style-src " + pageStyleSource + "; " + img +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

func writePage(w http.ResponseWriter, status int, b Branding, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP(b))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	pageTemplate.Execute(w, struct {
		page
		Brand Branding
	}{p, b})
}
