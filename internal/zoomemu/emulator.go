// Package zoomemu is an in-process emulator of the Zoom endpoints zoomtoken calls: the
// Server-to-Server OAuth token endpoint, ZAKs and meeting join tokens, the user-managed OAuth
// app, webhooks, and Realtime Media Streams (rtms.go). It speaks Zoom's wire
// format (error bodies, codes, statuses, x-zm-trackingid, rate-limit headers) and can be told to
// misbehave: latency, scripted faults, revoked tokens. It is an http.Handler, so tests run it with
// httptest and cmd/zoomemu serves it on a port.
package zoomemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scopes an S2S app needs for each endpoint.
const (
	ScopeZAK                 = "user:read:token:admin"
	ScopeLocalRecordingToken = "meeting:read:local_recording_token:admin"
	ScopeLiveStreamingToken  = "meeting:read:live_streaming_token:admin"
	ScopeLocalArchivingToken = "meeting:read:local_archiving_token:admin"
	// ScopeRTMSControl starts and stops a meeting's Realtime Media Streams (an S2S app's form;
	// a user's token has it without ":admin").
	ScopeRTMSControl = "meeting:update:participant_rtms_app_status:admin"
)

// AllScopes returns every scope the emulated endpoints check.
func AllScopes() []string {
	return []string{ScopeZAK, ScopeLocalRecordingToken, ScopeLiveStreamingToken, ScopeLocalArchivingToken, ScopeRTMSControl}
}

// joinTokenScopes maps a join token kind, as it appears in the path, to its scope.
var joinTokenScopes = map[string]string{
	"local_recording": ScopeLocalRecordingToken,
	"live_streaming":  ScopeLiveStreamingToken,
	"local_archiving": ScopeLocalArchivingToken,
}

// Endpoint names a group of emulated routes, for counters and scripted faults.
type Endpoint string

// The emulated endpoints.
const (
	EndpointToken     Endpoint = "oauth_token"
	EndpointZAK       Endpoint = "zak"
	EndpointJoinToken Endpoint = "join_token"
)

// App is a Server-to-Server OAuth app the emulator accepts.
type App struct {
	AccountID    string
	ClientID     string
	ClientSecret string
	// Scopes granted to the app's tokens; nil grants AllScopes.
	Scopes []string
}

// User is a Zoom user: an S2S app asks for its ZAK by id or email, and it can authorize the
// user-managed OAuth app (connect its account).
type User struct {
	ID    string
	Email string
	// AccountID and PMI are what GET /v2/users/me says of the user.
	AccountID string
	PMI       int64
	// Meetings are those the user hosts: the listing, and the only meetings its own token gets
	// join tokens for.
	Meetings []int64
}

// Config describes the emulated Zoom account.
type Config struct {
	Apps []App
	// OAuthApp is the user-managed (General) OAuth app; nil: none.
	OAuthApp *OAuthApp
	Users    []User
	Meetings []int64
	// TokenLifetime is the expires_in of access tokens; default one hour.
	TokenLifetime time.Duration
	// APIURL is the api_url of token responses; empty omits it.
	APIURL string
	// RateLimitPerSecond caps REST calls per second for the account (Zoom's "Light" category);
	// zero means no limit. DailyLimit caps them per UTC day; zero means no limit.
	RateLimitPerSecond int
	DailyLimit         int
	// WebhookSecretToken signs the webhooks the emulator sends (the event subscription's
	// Secret Token).
	WebhookSecretToken string
	// RTMS is the Realtime Media Streams app; nil: none.
	RTMS *RTMS
	// Now is the emulator's clock, for token expiry and rate limits; default time.Now.
	Now func() time.Time
}

// Call is one request the emulator received.
type Call struct {
	Endpoint Endpoint
	Method   string
	Path     string
	Query    string
	// Form is the parsed request body of token requests.
	Form   map[string][]string
	Header http.Header
}

// accessToken is an issued access token: an S2S app's (app set) or a user's (user set).
type accessToken struct {
	app     *App
	user    *User
	scopes  []string
	expires time.Time
}

func (at accessToken) has(scope string) bool {
	if at.app != nil {
		return at.app.has(scope)
	}
	return slices.Contains(at.scopes, scope)
}

// Emulator is the emulated Zoom. The zero value is not usable; call New.
type Emulator struct {
	cfg Config
	mux *http.ServeMux

	mu      sync.Mutex
	tokens  map[string]accessToken
	script  map[Endpoint][]Fault
	calls   []Call
	issued  map[Endpoint][]string
	latency time.Duration
	window  rateWindow
	day     rateWindow

	// The user-level OAuth app's state.
	codes       map[string]*authCode
	grants      []*grant
	usedRefresh map[string]string // rotated-away refresh token → user id
	stats       map[string]userStats
	autoApprove string
	// approveOnce makes autoApprove end with the consent it approves.
	approveOnce bool
	// schedule guards every user's PMI and Meetings, which controls change while Zoom's
	// endpoints read them.
	schedule       sync.RWMutex
	revoked        []string
	userTokenCalls []UserTokenCall
	tokenRateLimit int
	tokenWindow    rateWindow
	joinTokenCalls []JoinTokenCall

	rtms rtmsState

	counts map[Endpoint]*atomic.Int64
	closed chan struct{}
	once   sync.Once
}

// New returns an emulator for cfg.
func New(cfg Config) *Emulator {
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Emulator{
		cfg:    cfg,
		tokens: map[string]accessToken{},
		script: map[Endpoint][]Fault{},
		issued: map[Endpoint][]string{},
		counts: map[Endpoint]*atomic.Int64{},
		closed: make(chan struct{}),

		codes:       map[string]*authCode{},
		usedRefresh: map[string]string{},
		stats:       map[string]userStats{},
		rtms:        rtmsState{streams: map[string]*rtmsStream{}},
	}
	for _, ep := range Endpoints() {
		e.counts[ep] = &atomic.Int64{}
	}
	e.rtms.sent = sync.NewCond(&e.mu)
	e.mux = http.NewServeMux()
	e.mux.Handle("POST /oauth/token", e.endpoint(EndpointToken, e.handleToken))
	e.mux.Handle("/oauth/authorize", e.endpoint(EndpointAuthorize, e.handleAuthorize))
	e.mux.Handle("POST /oauth/revoke", e.endpoint(EndpointRevoke, e.handleRevoke))
	e.mux.Handle("GET /v2/users/{userId}/token", e.endpoint(EndpointZAK, e.authorized(e.handleZAK)))
	e.mux.Handle("GET /v2/users/me", e.endpoint(EndpointUsersMe, e.authorized(userOnly(e.handleMe))))
	e.mux.Handle("GET /v2/users/me/token", e.endpoint(EndpointUserToken, e.authorized(userOnly(e.handleUserToken))))
	e.mux.Handle("GET /v2/users/me/meetings", e.endpoint(EndpointMeetings, e.authorized(userOnly(e.handleMeetings))))
	e.mux.Handle("GET /v2/meetings/{meetingId}/jointoken/{kind}", e.endpoint(EndpointJoinToken, e.authorized(e.handleJoinToken)))
	e.mux.Handle("PATCH /v2/live_meetings/{meetingId}/rtms_app/status", e.endpoint(EndpointRTMSControl, e.authorized(e.handleRTMSControl)))
	e.mux.HandleFunc("GET /rtms/{server}/signaling", e.handleRTMSSignaling)
	e.mux.HandleFunc("GET /rtms/{server}/media", e.handleRTMSMedia)
	e.mux.HandleFunc("GET /rtms/{server}/media/{kind}", e.handleRTMSMedia)
	return e
}

// Endpoints lists every emulated endpoint.
func Endpoints() []Endpoint {
	return []Endpoint{EndpointToken, EndpointZAK, EndpointJoinToken, EndpointAuthorize, EndpointRevoke,
		EndpointUsersMe, EndpointUserToken, EndpointMeetings, EndpointRTMSControl}
}

// userOnly refuses S2S tokens on the endpoints that are about "me".
func userOnly(next func(http.ResponseWriter, *http.Request, accessToken)) func(http.ResponseWriter, *http.Request, accessToken) {
	return func(w http.ResponseWriter, r *http.Request, at accessToken) {
		if at.user == nil {
			writeZoomError(w, http.StatusBadRequest, 124, "This API only supports OAuth2 user-level access tokens.")
			return
		}
		next(w, r, at)
	}
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-zm-trackingid", "emu_"+randomString(12))
	// Zoom's clock, as the emulator keeps it (a test can skew it).
	w.Header().Set("Date", e.cfg.Now().UTC().Format(http.TimeFormat))
	e.mux.ServeHTTP(w, r)
}

// Close releases requests held by Hang faults.
func (e *Emulator) Close() { e.once.Do(func() { close(e.closed) }) }

// Calls returns how many requests reached an endpoint, faults included.
func (e *Emulator) Calls(ep Endpoint) int { return int(e.counts[ep].Load()) }

// Requests returns every request received so far, oldest first.
func (e *Emulator) Requests() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Issued returns every token an endpoint handed out, oldest first: access tokens, ZAKs, join
// tokens.
func (e *Emulator) Issued(ep Endpoint) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.issued[ep])
}

// SetLatency delays every answer by d.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = d
}

// Script queues faults for an endpoint: each of its next requests consumes one, in order, then
// the endpoint behaves normally again.
func (e *Emulator) Script(ep Endpoint, faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script[ep] = append(e.script[ep], faults...)
}

// RevokeAll invalidates every access token issued so far, as rotating an app's secret does.
func (e *Emulator) RevokeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.tokens)
}

// endpoint counts and records the request, applies latency, and plays a scripted fault if one is
// queued.
func (e *Emulator) endpoint(ep Endpoint, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.counts[ep].Add(1)
		call := Call{Endpoint: ep, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
		if ep == EndpointToken || ep == EndpointRevoke {
			r.ParseForm()
			call.Form = r.PostForm
		}
		e.mu.Lock()
		e.calls = append(e.calls, call)
		latency := e.latency
		var fault *Fault
		if queue := e.script[ep]; len(queue) > 0 {
			fault, e.script[ep] = &queue[0], queue[1:]
		}
		e.mu.Unlock()

		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			case <-e.closed:
				return
			}
		}
		if fault != nil && fault.slow > 0 {
			select {
			case <-time.After(fault.slow):
			case <-e.closed:
				return
			}
			fault = nil // then answered as usual, whether or not the caller still waits
		}
		if fault != nil {
			fault.play(w, r, e.closed)
			return
		}
		next(w, r)
	})
}

// handleToken is POST /oauth/token: grant_type=account_credentials for S2S apps, the others for
// the user-managed app.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if gt := r.PostForm.Get("grant_type"); gt == "authorization_code" || gt == "refresh_token" {
		e.handleUserGrant(w, r)
		return
	}
	id, secret, ok := r.BasicAuth()
	app := e.app(id)
	if !ok || app == nil || app.ClientSecret != secret {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "account_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	if r.PostForm.Get("account_id") != app.AccountID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid account_id")
		return
	}
	token := "emu_at_" + randomString(32)
	e.mu.Lock()
	e.tokens[token] = accessToken{app: app, expires: e.cfg.Now().Add(e.cfg.TokenLifetime)}
	e.issued[EndpointToken] = append(e.issued[EndpointToken], token)
	e.mu.Unlock()

	resp := map[string]any{
		"access_token": token,
		"token_type":   "bearer",
		"expires_in":   int(e.cfg.TokenLifetime / time.Second),
		"scope":        strings.Join(app.scopes(), " "),
	}
	if e.cfg.APIURL != "" {
		resp["api_url"] = e.cfg.APIURL
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorized checks the bearer token and the account's rate limits before a REST handler, and
// hands it the token: an S2S app's or a user's.
func (e *Emulator) authorized(next func(http.ResponseWriter, *http.Request, accessToken)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		e.mu.Lock()
		at, known := e.tokens[token]
		e.mu.Unlock()
		if !ok || !known || !e.cfg.Now().Before(at.expires) {
			writeZoomError(w, http.StatusUnauthorized, 124, "Invalid access token.")
			return
		}
		if !e.allow(w) {
			return
		}
		next(w, r, at)
	}
}

// handleZAK is GET /v2/users/{userId}/token?type=zak[&ttl=seconds].
func (e *Emulator) handleZAK(w http.ResponseWriter, r *http.Request, at accessToken) {
	if at.app == nil {
		writeZoomError(w, http.StatusBadRequest, 124, "Use /v2/users/me/token with a user-level token.")
		return
	}
	if !at.has(ScopeZAK) {
		writeMissingScope(w, ScopeZAK)
		return
	}
	if typ := r.URL.Query().Get("type"); typ != "zak" {
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid type: "+typ)
		return
	}
	if ttl := r.URL.Query().Get("ttl"); ttl != "" {
		if n, err := strconv.Atoi(ttl); err != nil || n < 1 || n > 31536000 {
			writeZoomError(w, http.StatusBadRequest, 300, "Invalid ttl.")
			return
		}
	}
	userID := r.PathValue("userId")
	if !e.knownUser(userID) {
		writeZoomError(w, http.StatusNotFound, 1001, "User does not exist: "+userID+".")
		return
	}
	token := "emu_zak_" + randomString(48)
	e.record(EndpointZAK, token)
	writeJSON(w, http.StatusOK, map[string]any{"token": token})
}

// handleJoinToken is GET /v2/meetings/{meetingId}/jointoken/{kind}.
func (e *Emulator) handleJoinToken(w http.ResponseWriter, r *http.Request, at accessToken) {
	scope, ok := joinTokenScopes[r.PathValue("kind")]
	if !ok {
		writeZoomError(w, http.StatusNotFound, 404, "Not found.")
		return
	}
	if at.user != nil {
		scope = strings.TrimSuffix(scope, ":admin") // a user's token has the granular scope
	}
	if !at.has(scope) {
		writeMissingScope(w, scope)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("meetingId"), 10, 64)
	if err != nil || id <= 0 {
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid meeting id.")
		return
	}
	if !slices.Contains(e.cfg.Meetings, id) && !e.hostedByAnyone(id) {
		writeZoomError(w, http.StatusNotFound, 3001, fmt.Sprintf("Meeting does not exist: %d.", id))
		return
	}
	if at.user != nil && !e.hostsMeeting(at.user, id) {
		// Only the host's own token makes join tokens for a meeting.
		writeZoomError(w, http.StatusBadRequest, 3000, "You are not the host of this meeting.")
		return
	}
	token := "emu_jt_" + randomString(48)
	e.record(EndpointJoinToken, token)
	by := "s2s"
	if at.user != nil {
		by = at.user.ID
	}
	e.mu.Lock()
	e.joinTokenCalls = append(e.joinTokenCalls, JoinTokenCall{By: by, MeetingID: id, Token: token,
		BypassWaitingRoom: r.URL.Query().Get("bypass_waiting_room") == "true"})
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"expire_in": 120, "token": token})
}

func (e *Emulator) app(clientID string) *App {
	for i := range e.cfg.Apps {
		if e.cfg.Apps[i].ClientID == clientID {
			return &e.cfg.Apps[i]
		}
	}
	return nil
}

func (e *Emulator) knownUser(idOrEmail string) bool { return e.user(idOrEmail) != nil }

// JoinTokenCall is one join token handed out, and whose token asked: a user id, or "s2s".
type JoinTokenCall struct {
	By        string
	MeetingID int64
	Token     string
	// BypassWaitingRoom says the call asked bypass_waiting_room=true.
	BypassWaitingRoom bool
}

// JoinTokenCalls returns every join token handed out, oldest first.
func (e *Emulator) JoinTokenCalls() []JoinTokenCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.joinTokenCalls)
}

func (e *Emulator) hostedByAnyone(meetingID int64) bool {
	e.schedule.RLock()
	defer e.schedule.RUnlock()
	return slices.ContainsFunc(e.cfg.Users, func(u User) bool { return u.hosts(meetingID) })
}

// hostsMeeting is u.hosts under the schedule's lock.
func (e *Emulator) hostsMeeting(u *User, meetingID int64) bool {
	e.schedule.RLock()
	defer e.schedule.RUnlock()
	return u.hosts(meetingID)
}

// hosts reports whether the user hosts the meeting: a scheduled one of theirs, or their PMI.
func (u *User) hosts(meetingID int64) bool {
	return slices.Contains(u.Meetings, meetingID) || (u.PMI != 0 && u.PMI == meetingID)
}

func (e *Emulator) record(ep Endpoint, token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.issued[ep] = append(e.issued[ep], token)
}

func (a *App) scopes() []string {
	if a.Scopes == nil {
		return AllScopes()
	}
	return a.Scopes
}

func (a *App) has(scope string) bool { return slices.Contains(a.scopes(), scope) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeZoomError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{"code": code, "message": message})
}

func writeOAuthError(w http.ResponseWriter, status int, code, reason string) {
	writeJSON(w, status, map[string]any{"reason": reason, "error": code})
}

func writeMissingScope(w http.ResponseWriter, scope string) {
	writeZoomError(w, http.StatusBadRequest, 4711, "Invalid access token, does not contain scopes:["+scope+"].")
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
