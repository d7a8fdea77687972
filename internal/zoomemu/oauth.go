package zoomemu

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scopes a user-managed (General) OAuth app's users grant, granular names as Zoom issues them.
const (
	ScopeUserToken               = "user:read:token"
	ScopeUserRead                = "user:read:user"
	ScopeListMeetings            = "meeting:read:list_meetings"
	ScopeUserLocalRecordingToken = "meeting:read:local_recording_token"
	ScopeUserLiveStreamingToken  = "meeting:read:live_streaming_token"
	ScopeUserLocalArchivingToken = "meeting:read:local_archiving_token"
)

// UserScopes returns every scope the emulated user-level endpoints check.
func UserScopes() []string {
	return []string{ScopeUserToken, ScopeUserRead, ScopeListMeetings, ScopeUserLocalRecordingToken,
		ScopeUserLiveStreamingToken, ScopeUserLocalArchivingToken, strings.TrimSuffix(ScopeRTMSControl, ":admin")}
}

// More emulated endpoints: the user-level OAuth app's.
const (
	EndpointAuthorize Endpoint = "oauth_authorize"
	EndpointRevoke    Endpoint = "oauth_revoke"
	EndpointUsersMe   Endpoint = "users_me"
	EndpointUserToken Endpoint = "user_token" // OBF and the user's own ZAK
	EndpointMeetings  Endpoint = "meetings"
)

// OAuthApp is the user-managed (General) OAuth app people connect their accounts to.
type OAuthApp struct {
	// Name is the app's name as its consent page shows it; empty shows "this app".
	Name                   string
	ClientID, ClientSecret string
	// RedirectURI is the registered redirect URL; authorize and code exchange must name it
	// exactly. Empty accepts any.
	RedirectURI string
	// Scopes are those a user grants; nil grants UserScopes.
	Scopes []string
}

func (a *OAuthApp) scopes() []string {
	if a.Scopes == nil {
		return UserScopes()
	}
	return a.Scopes
}

// Zoom's lifetimes for codes and user access tokens.
const codeLifetime = 5 * time.Minute

type authCode struct {
	user        *User
	challenge   string
	redirectURI string
	expires     time.Time
	used        bool
}

// grant is what one authorization gave: the live refresh token of a user's token set.
type grant struct {
	user    *User
	scopes  []string
	refresh string
	dead    bool
}

// userStats are the counters a test reads about one user's tokens.
type userStats struct {
	refreshes, staleRefreshes int
}

// SetOAuthApp sets (or replaces) the user-managed OAuth app.
func (e *Emulator) SetOAuthApp(app OAuthApp) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg.OAuthApp = &app
}

// ApproveOnce is AutoApprove for the next consent only: the one after shows the page again.
func (e *Emulator) ApproveOnce(user string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.autoApprove, e.approveOnce = user, user != ""
}

// AutoApprove makes GET /oauth/authorize approve at once as the user with this id or email,
// without the consent page; empty brings the page back.
func (e *Emulator) AutoApprove(user string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.autoApprove, e.approveOnce = user, false
}

// IssueTokens gives a user a token set as if they had just authorized the app (for seeding
// benchmarks with many connections without running the consent for each).
func (e *Emulator) IssueTokens(user string) (access, refresh string, expires time.Time, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	if u == nil || e.cfg.OAuthApp == nil {
		return "", "", time.Time{}, fmt.Errorf("zoomemu: no user %q or no OAuth app", user)
	}
	g := &grant{user: u, scopes: e.cfg.OAuthApp.scopes(), refresh: "emu_rt_" + randomString(40)}
	e.grants = append(e.grants, g)
	access, expires = "emu_uat_"+randomString(32), e.cfg.Now().Add(e.cfg.TokenLifetime)
	e.tokens[access] = accessToken{user: u, scopes: g.scopes, expires: expires}
	return access, g.refresh, expires, nil
}

// SetTokenRateLimit caps the token endpoint's refreshes per second (0: no cap); past it, Zoom's
// 429 with Retry-After 1.
func (e *Emulator) SetTokenRateLimit(perSecond int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenRateLimit = perSecond
}

// ExpireUserTokens makes every access token of a user invalid, as expiry or a revocation does;
// the refresh token still works.
func (e *Emulator) ExpireUserTokens(user string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for token, at := range e.tokens {
		if at.user != nil && at.user.matches(user) {
			delete(e.tokens, token)
		}
	}
}

// KillRefreshToken makes a user's refresh token invalid for good (as a revocation in Zoom's
// app management does); the next refresh gets invalid_grant.
func (e *Emulator) KillRefreshToken(user string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.grants {
		if g.user.matches(user) {
			g.dead = true
		}
	}
}

// Refreshes returns how many refreshes of a user's tokens succeeded.
func (e *Emulator) Refreshes(user string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.user(user); u != nil {
		return e.stats[u.ID].refreshes
	}
	return 0
}

// StaleRefreshes returns how many refreshes, for any user, presented a refresh token that had
// already been used (rotated away): each is a connection lost to a race.
func (e *Emulator) StaleRefreshes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.stats {
		n += s.staleRefreshes
	}
	return n
}

// RefreshTokenOf returns a user's live refresh token, or "" (for tests that look for it where
// it must not be).
func (e *Emulator) RefreshTokenOf(user string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.grants {
		if g.user.matches(user) && !g.dead {
			return g.refresh
		}
	}
	return ""
}

func (u *User) matches(idOrEmail string) bool {
	return u.ID == idOrEmail || (u.Email != "" && strings.EqualFold(u.Email, idOrEmail))
}

func (e *Emulator) user(idOrEmail string) *User {
	for i := range e.cfg.Users {
		if e.cfg.Users[i].matches(idOrEmail) {
			return &e.cfg.Users[i]
		}
	}
	return nil
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Zoom emulator: authorize {{.AppName}}</title></head>
<body>
<h1>Allow {{.AppName}} to use your Zoom account?</h1>
<p>The app asks for: {{.Scopes}}</p>
<form method="post" action="/oauth/authorize">
{{range $k, $v := .Query}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label>Sign in as <select name="user">{{range .Users}}<option value="{{.ID}}">{{.Email}}</option>{{end}}</select></label>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
</body></html>`))

// handleAuthorize is GET /oauth/authorize (the consent page) and POST /oauth/authorize (its
// buttons): Allow redirects back with a code, Deny with error=access_denied.
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	q := r.Form
	e.mu.Lock()
	app, auto := e.cfg.OAuthApp, e.autoApprove
	if auto != "" && e.approveOnce && r.Method == http.MethodGet {
		e.autoApprove, e.approveOnce = "", false
	}
	e.mu.Unlock()
	redirect := q.Get("redirect_uri")
	switch {
	case app == nil || q.Get("client_id") != app.ClientID:
		http.Error(w, "Invalid client_id", http.StatusBadRequest)
		return
	case app.RedirectURI != "" && redirect != app.RedirectURI:
		http.Error(w, "Invalid redirect: 4709", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "response_type=code and a S256 code_challenge are required", http.StatusBadRequest)
		return
	}
	decision, chosen := q.Get("decision"), q.Get("user")
	if r.Method == http.MethodGet {
		if auto == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			params := map[string]string{}
			for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method"} {
				params[k] = q.Get(k)
			}
			name := cmp.Or(app.Name, "this app")
			consentPage.Execute(w, map[string]any{"AppName": name, "Scopes": strings.Join(app.scopes(), ", "), "Query": params, "Users": e.cfg.Users})
			return
		}
		decision, chosen = "allow", auto
	}
	back, err := url.Parse(redirect)
	if err != nil || redirect == "" {
		http.Error(w, "Invalid redirect_uri", http.StatusBadRequest)
		return
	}
	answer := back.Query()
	answer.Set("state", q.Get("state"))
	user := e.user(chosen)
	if decision != "allow" || user == nil {
		answer.Set("error", "access_denied")
	} else {
		code := "emu_code_" + randomString(24)
		e.mu.Lock()
		e.codes[code] = &authCode{user: user, challenge: q.Get("code_challenge"), redirectURI: redirect, expires: e.cfg.Now().Add(codeLifetime)}
		e.mu.Unlock()
		answer.Set("code", code)
	}
	back.RawQuery = answer.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// handleUserGrant serves POST /oauth/token for grant_type authorization_code and refresh_token.
func (e *Emulator) handleUserGrant(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	e.mu.Lock()
	app := e.cfg.OAuthApp
	e.mu.Unlock()
	if !ok || app == nil || id != app.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	var g *grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		c := e.codes[r.PostForm.Get("code")]
		switch {
		case c == nil || c.used:
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid authorization code "+r.PostForm.Get("code"))
			return
		case !now.Before(c.expires):
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Authorization code expired")
			return
		case r.PostForm.Get("redirect_uri") != c.redirectURI:
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Redirect URI mismatch.")
			return
		case pkceChallenge(r.PostForm.Get("code_verifier")) != c.challenge:
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid code_verifier")
			return
		}
		c.used = true
		// A new authorization revokes the user's earlier token set.
		e.revokeUser(c.user)
		g = &grant{user: c.user, scopes: app.scopes()}
		e.grants = append(e.grants, g)
	case "refresh_token":
		if second := now.Truncate(time.Second); e.tokenRateLimit > 0 {
			if !e.tokenWindow.start.Equal(second) {
				e.tokenWindow = rateWindow{start: second}
			}
			if e.tokenWindow.count >= e.tokenRateLimit {
				f := RateLimitedPerSecond("1")
				f.play(w, nil, nil)
				return
			}
			e.tokenWindow.count++
		}
		presented := r.PostForm.Get("refresh_token")
		for _, candidate := range e.grants {
			if candidate.refresh == presented {
				g = candidate
			}
		}
		if g == nil || g.dead {
			if used, ok := e.usedRefresh[presented]; ok {
				s := e.stats[used]
				s.staleRefreshes++
				e.stats[used] = s
			}
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid Token!")
			return
		}
		e.usedRefresh[presented] = g.user.ID
		s := e.stats[g.user.ID]
		s.refreshes++
		e.stats[g.user.ID] = s
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	// Rotation: every grant and refresh issues a new refresh token; the one used is dead at once.
	g.refresh = "emu_rt_" + randomString(40)
	access := "emu_uat_" + randomString(32)
	e.tokens[access] = accessToken{user: g.user, scopes: g.scopes, expires: now.Add(e.cfg.TokenLifetime)}
	e.issued[EndpointToken] = append(e.issued[EndpointToken], access, g.refresh)
	resp := map[string]any{
		"access_token":  access,
		"token_type":    "bearer",
		"refresh_token": g.refresh,
		"expires_in":    int(e.cfg.TokenLifetime / time.Second),
		"scope":         strings.Join(g.scopes, " "),
	}
	if e.cfg.APIURL != "" {
		resp["api_url"] = e.cfg.APIURL
	}
	writeJSON(w, http.StatusOK, resp)
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleRevoke is POST /oauth/revoke: the token's whole set (access and refresh) dies.
// revokeUser ends every grant and access token of the user-level app's user u, as Zoom does when
// the app is removed or a token revoked. The caller holds e.mu.
func (e *Emulator) revokeUser(u *User) {
	for _, g := range e.grants {
		if g.user == u {
			g.dead = true
		}
	}
	for t, at := range e.tokens {
		if at.user == u {
			delete(e.tokens, t)
		}
	}
}

func (e *Emulator) handleRevoke(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	r.ParseForm()
	e.mu.Lock()
	defer e.mu.Unlock()
	app := e.cfg.OAuthApp
	if !ok || app == nil || id != app.ClientID || secret != app.ClientSecret {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	token := r.PostForm.Get("token")
	var user *User
	if at, ok := e.tokens[token]; ok && at.user != nil {
		user = at.user
	}
	for _, g := range e.grants {
		if g.refresh == token && !g.dead {
			user = g.user
		}
	}
	if user == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid Token!")
		return
	}
	e.revokeUser(user)
	e.revoked = append(e.revoked, user.ID)
	writeJSON(w, http.StatusOK, map[string]any{"status": "success"})
}

// Revoked returns the ids of the users whose tokens were revoked through POST /oauth/revoke.
func (e *Emulator) Revoked() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.revoked)
}

// handleMe is GET /v2/users/me.
func (e *Emulator) handleMe(w http.ResponseWriter, r *http.Request, at accessToken) {
	if !at.has(ScopeUserRead) && !at.has("user:read:user:admin") && !at.has("user:read") {
		writeMissingScope(w, ScopeUserRead)
		return
	}
	u := at.user
	e.schedule.RLock()
	pmi := u.PMI
	e.schedule.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "account_id": u.AccountID, "email": u.Email,
		"status": "active", "type": 2, "pmi": pmi, "display_name": u.Email})
}

// handleUserToken is GET /v2/users/me/token?type=onbehalf|zak[&meeting_id=N][&ttl=S].
func (e *Emulator) handleUserToken(w http.ResponseWriter, r *http.Request, at accessToken) {
	if !at.has(ScopeUserToken) && !at.has("user:read:token:admin") && !at.has("user:read") {
		writeMissingScope(w, ScopeUserToken)
		return
	}
	q := r.URL.Query()
	var prefix string
	switch q.Get("type") {
	case "onbehalf":
		prefix = "emu_obf_"
		if m := q.Get("meeting_id"); m != "" {
			if id, err := strconv.ParseInt(m, 10, 64); err != nil || id <= 0 {
				writeZoomError(w, http.StatusBadRequest, 300, "Invalid meeting id.")
				return
			}
		}
	case "zak":
		prefix = "emu_zak_"
	default:
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid type: "+q.Get("type"))
		return
	}
	token := prefix + randomString(48)
	e.mu.Lock()
	e.issued[EndpointUserToken] = append(e.issued[EndpointUserToken], token)
	e.userTokenCalls = append(e.userTokenCalls, UserTokenCall{User: at.user.ID, Type: q.Get("type"), MeetingID: q.Get("meeting_id"), Token: token})
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token": token})
}

// UserTokenCall is one token a user's access token obtained from /v2/users/me/token.
type UserTokenCall struct {
	User, Type, MeetingID, Token string
}

// UserTokenCalls returns every OBF token and user ZAK handed out, oldest first.
func (e *Emulator) UserTokenCalls() []UserTokenCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.userTokenCalls)
}

// meetingsPageSize bounds a page of the listing, as Zoom does (page_size at most 300).
const maxMeetingsPageSize = 300

// handleMeetings is GET /v2/users/me/meetings?type=scheduled&page_size=N[&next_page_token=T]:
// the meetings the user hosts, a page at a time.
// listingAgenda is the agenda every listed meeting carries: 2,000 characters, the most Zoom
// allows, so a listing page is as large as Zoom's can be.
var listingAgenda = strings.Repeat("Quarterly planning: goals, risks, owners and dates. ", 39)[:2000]

// listedMeeting is one entry of a meeting listing, with every field Zoom sends for a scheduled
// meeting (pmi is only sent for meetings held on the personal meeting id).
func listedMeeting(u *User, id int64) map[string]any {
	created := time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC).Add(time.Duration(id%1000) * time.Hour)
	return map[string]any{
		"uuid":       "emu" + strconv.FormatInt(id, 36) + "Qm9va2VkTWVldGluZw==",
		"id":         id,
		"host_id":    u.ID,
		"topic":      "Weekly sync with the customer success team — meeting " + strconv.FormatInt(id, 10),
		"type":       2,
		"start_time": created.Add(48 * time.Hour).Format(time.RFC3339),
		"duration":   60,
		"timezone":   "America/Los_Angeles",
		"agenda":     listingAgenda,
		"created_at": created.Format(time.RFC3339),
		"join_url":   "https://us02web.zoom.us/j/" + strconv.FormatInt(id, 10) + "?pwd=" + strings.Repeat("aBcD", 8) + ".1",
	}
}

func (e *Emulator) handleMeetings(w http.ResponseWriter, r *http.Request, at accessToken) {
	if !at.has(ScopeListMeetings) && !at.has("meeting:read:list_meetings:admin") && !at.has("meeting:read") {
		writeMissingScope(w, ScopeListMeetings)
		return
	}
	e.schedule.RLock()
	scheduled := slices.Clone(at.user.Meetings)
	e.schedule.RUnlock()
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size < 1 {
		size = 30
	}
	size = min(size, maxMeetingsPageSize)
	start := 0
	if t := q.Get("next_page_token"); t != "" {
		if start, err = strconv.Atoi(strings.TrimPrefix(t, "page-")); err != nil || start < 0 || start > len(scheduled) {
			writeZoomError(w, http.StatusBadRequest, 300, "Invalid next_page_token.")
			return
		}
	}
	end := min(start+size, len(scheduled))
	meetings := []map[string]any{}
	for _, id := range scheduled[start:end] {
		meetings = append(meetings, listedMeeting(at.user, id))
	}
	next := ""
	if end < len(scheduled) {
		next = "page-" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"page_size": size, "total_records": len(scheduled),
		"next_page_token": next, "meetings": meetings})
}
