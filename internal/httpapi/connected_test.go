package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/crowd"
	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/vend/vendtest"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const adminToken = "admin-token-0123456789"

// connectedFixture is the whole service with connected accounts on, against the emulator, on a
// SQLite store; every answer is checked against the OpenAPI document.
type connectedFixture struct {
	srv    *testServer
	emu    *zoomemu.Emulator
	store  connections.Store
	events outbox.Store
	clock  *fakeclock.Clock
	vault  *connections.Vault
}

func newConnectedFixture(tb testing.TB, emuCfg func(*zoomemu.Config), successURL string, options ...func(*Deps, string)) *connectedFixture {
	tb.Helper()
	return newConnectedFixtureOn(tb, sqlitetest.Open(tb, sqlstore.Options{}), emuCfg, successURL, options...)
}

// newConnectedFixtureOn is newConnectedFixture on the given store.
func newConnectedFixtureOn(tb testing.TB, db *sqlstore.DB, emuCfg func(*zoomemu.Config), successURL string, options ...func(*Deps, string)) *connectedFixture {
	tb.Helper()
	store := db.Connections()
	var handler atomic.Pointer[http.Handler]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	tb.Cleanup(front.Close)
	cfg := zoomemu.Config{
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret", RedirectURI: front.URL + "/oauth/callback"},
		Users: []zoomemu.User{
			{ID: "alice-id", Email: "alice@example.com", AccountID: "acct-a", PMI: 5551112222, Meetings: []int64{81112223333}},
			{ID: "bob-id", Email: "bob@example.com", AccountID: "acct-b"},
		},
	}
	if emuCfg != nil {
		emuCfg(&cfg)
	}
	emu := zoomemu.New(cfg)
	upstream := httptest.NewServer(emu)
	tb.Cleanup(func() { emu.Close(); upstream.Close() })

	clk := fakeclock.New(time.Now())
	logs := &logtest.Buffer{}
	logger := zerolog.New(logs).Level(zerolog.DebugLevel)
	m := metrics.New()
	accounts := vendtest.Connected(tb, store, upstream.URL, front.URL+"/oauth/callback", vendtest.Config{Budget: 2 * time.Second,
		RefusalGrace: 50 * time.Millisecond, Refreshed: m.ObserveRefresh, Logger: logger})
	key, ring, vault := accounts.Key, accounts.Ring, accounts.Vault
	d := Deps{
		Metrics: m,
		App: vend.App{Connected: accounts.Connected,
			// The RTMS app is the connected-accounts app; its routes answer once webhooks are on.
			RTMSClientID: "oauth-client", RTMS: rtms.NewService(rtms.Config{Store: db.Streams(),
				Sign: func(id, stream string) string { return zoom.RTMSSignature("oauth-client", "oauth-secret", id, stream) }})},
		ConnectFlow: &ConnectFlow{Links: connectlink.NewSigner(front.URL, [][]byte{key}, clk.Now), Cookies: ring,
			SuccessURL: successURL, Now: clk.Now},
		CallbackSecrets: []string{botSecret},
		AdminTokens:     []string{adminToken},
		Events:          db.Outbox(),
		// These tests ask for connected accounts' tokens with ?secret=, as
		// CALLBACK_SECRETS_REACH=connected allows; access_test.go proves the default reach.
		CallbackReach: vend.ReachConnected,
	}
	for _, option := range options {
		option(&d, upstream.URL)
	}
	// The handler is made once the server's URL (PUBLIC_URL) is known.
	d.Logger = logger
	h := NewHandler(d)
	handler.Store(&h)
	srv := &testServer{Server: front, deps: d, logs: logs, spec: loadSpec(tb)}
	return &connectedFixture{srv: srv, emu: emu, store: store, events: db.Outbox(), clock: clk, vault: vault}
}

// browser is a person's browser: it keeps cookies and follows redirects.
func (f *connectedFixture) browser(tb testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// noFollow is a browser that stops at each redirect, to look at it.
func noFollow(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *connectedFixture) admin(tb testing.TB, method, path, body string) (*http.Response, string) {
	tb.Helper()
	return f.srv.do(tb, method, path, header("Authorization", "Bearer "+adminToken, "Content-Type", "application/json"), body)
}

func (f *connectedFixture) link(tb testing.TB, ref string) string {
	tb.Helper()
	body := `{}`
	if ref != "" {
		body = `{"ref":` + strconvQuote(ref) + `}`
	}
	resp, got := f.admin(tb, http.MethodPost, "/admin/connect-links", body)
	var answer struct{ URL, ExpiresAt string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(got), &answer) != nil || !strings.HasPrefix(answer.URL, f.srv.URL+"/connect?") {
		tb.Fatalf("connect link: %d %s", resp.StatusCode, got)
	}
	return answer.URL
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// get fetches target with a browser; when the last answer came from the service, it is checked
// against the OpenAPI document.
func (f *connectedFixture) get(tb testing.TB, c *http.Client, target string) (*http.Response, string) {
	tb.Helper()
	resp, err := c.Get(target)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Request.URL.String(), f.srv.URL) {
		f.srv.checkSpec(tb, resp.Request, resp, b)
	}
	return resp, string(b)
}

// connect runs the whole flow in a new browser as user and returns the final page.
func (f *connectedFixture) connect(tb testing.TB, user, ref string) (*http.Response, string) {
	tb.Helper()
	f.emu.AutoApprove(user)
	return f.get(tb, f.browser(tb), f.link(tb, ref))
}

func TestConnectFlowEndToEnd(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	resp, page := f.connect(t, "alice-id", "customer-42")
	if resp.StatusCode != 200 || !strings.Contains(page, "alice@example.com") || !strings.Contains(page, "connected") {
		t.Fatalf("final page: %d %s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(page, "<script") {
		t.Errorf("the page's policy: %q", csp)
	}
	c, err := f.store.FindByRef(context.Background(), "customer-42")
	if err != nil || c.ZoomUserID != "alice-id" || c.ZoomAccountID != "acct-a" || c.Email != "alice@example.com" {
		t.Fatalf("stored: %+v %v", c.Fields(), err)
	}
	if host, err := f.store.MeetingHost(context.Background(), 5551112222); err != nil || host.ID != c.ID {
		t.Errorf("the PMI is not mapped: %v", err)
	}

	// A bot asks for tokens by ref, Zoom user id and email.
	for _, q := range []string{"ref=customer-42", "user=alice-id", "user=ALICE%40example.com"} {
		resp, body := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&"+q, nil, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "emu_obf_") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("/obf-token?%s: %d %q", q, resp.StatusCode, body)
		}
	}
	resp, body := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=customer-42&meeting_id=811-1222-3333", nil, "")
	calls := f.emu.UserTokenCalls()
	if resp.StatusCode != 200 || calls[len(calls)-1].MeetingID != "81112223333" || calls[len(calls)-1].Token != body {
		t.Errorf("meeting_id not forwarded: %d %+v", resp.StatusCode, calls[len(calls)-1])
	}
	resp, body = f.srv.do(t, http.MethodGet, "/zak?secret="+botSecret+"&ref=customer-42", nil, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "emu_zak_") {
		t.Errorf("/zak?ref: %d %q", resp.StatusCode, body)
	}
	resp, body = f.srv.do(t, http.MethodGet, "/join-token?secret="+botSecret+"&ref=customer-42&meeting_id=81112223333", nil, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "emu_jt_") {
		t.Errorf("/join-token?ref: %d %q", resp.StatusCode, body)
	}

	// The admin API shows it, with no token.
	resp, body = f.admin(t, http.MethodGet, "/admin/connections?ref=customer-42", "")
	var list struct{ Connections []connections.Fields }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Connections) != 1 ||
		list.Connections[0].ID != c.ID || list.Connections[0].Status != "active" || strings.Contains(body, "emu_") {
		t.Errorf("admin list: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.admin(t, http.MethodGet, "/admin/connections/"+c.ID, ""); resp.StatusCode != 200 || !strings.Contains(body, `"last_error":null`) {
		t.Errorf("admin get: %d %s", resp.StatusCode, body)
	}

	// A reconnect keeps the id.
	if resp, _ := f.connect(t, "alice-id", ""); resp.StatusCode != 200 {
		t.Fatalf("reconnect: %d", resp.StatusCode)
	}
	again, _ := f.store.FindByZoomUserID(context.Background(), "alice-id")
	if again.ID != c.ID || again.Ref != "customer-42" {
		t.Errorf("reconnect: id %s ref %q, want %s customer-42", again.ID, again.Ref, c.ID)
	}
	assertNoSecretsLogged(t, f)
}

func TestConnectSuccessRedirect(t *testing.T) {
	f := newConnectedFixture(t, nil, "https://app.example.com/zoom/connected?from=zt")
	f.emu.AutoApprove("alice-id")
	browser := noFollow(f.browser(t))
	target := f.link(t, "c-9")
	for range 3 { // /connect → Zoom → /oauth/callback
		resp, _ := f.get(t, browser, target)
		target = resp.Header.Get("Location")
	}
	u, _ := url.Parse(target)
	c, _ := f.store.FindByRef(context.Background(), "c-9")
	if u.Host != "app.example.com" || u.Query().Get("connection_id") != c.ID || u.Query().Get("ref") != "c-9" || u.Query().Get("from") != "zt" {
		t.Errorf("redirected to %s", target)
	}
}

// stepToCallback runs the flow up to the URL Zoom sends the browser back to.
func (f *connectedFixture) stepToCallback(tb testing.TB, browser *http.Client, user string) string {
	tb.Helper()
	f.emu.AutoApprove(user)
	stop := noFollow(browser)
	resp, _ := f.get(tb, stop, f.link(tb, ""))
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("/connect: %d", resp.StatusCode)
	}
	resp, _ = f.get(tb, stop, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/oauth/callback?") {
		tb.Fatalf("Zoom's consent: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.Header.Get("Location")
}

func (f *connectedFixture) exchanges() int {
	n := 0
	for _, c := range f.emu.Requests() {
		if c.Endpoint == zoomemu.EndpointToken && c.Form["grant_type"][0] == "authorization_code" {
			n++
		}
	}
	return n
}

func TestConnectFlowRefusals(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	none := func(t *testing.T) {
		t.Helper()
		if list, _ := f.store.List(context.Background(), connections.Filter{}); len(list) != 0 {
			t.Errorf("%d connections stored", len(list))
		}
	}
	t.Run("a link preview's HEAD", func(t *testing.T) {
		before := tokenCalls(f.emu)
		req, _ := http.NewRequest(http.MethodHead, f.link(t, "customer-42"), nil)
		resp, err := noFollow(f.browser(t)).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/oauth/authorize") {
			t.Errorf("HEAD /connect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n := tokenCalls(f.emu) - before; n != 0 {
			t.Errorf("%d Zoom calls for a HEAD", n)
		}
		none(t)
	})
	t.Run("declined on Zoom's page", func(t *testing.T) {
		f.emu.AutoApprove("nobody") // the emulator answers error=access_denied
		resp, page := f.get(t, f.browser(t), f.link(t, ""))
		if resp.StatusCode != 400 || !strings.Contains(page, "not connected") {
			t.Errorf("%d %s", resp.StatusCode, page)
		}
		none(t)
		// The operator reads why, and Zoom's error code is no secret.
		logs := f.srv.logs.String()
		if !strings.Contains(logs, "connect flow refused: Zoom answered error=access_denied") || !strings.Contains(logs, "error=access_denied") {
			t.Errorf("the log does not say the user declined:\n%s", logs)
		}
	})
	t.Run("Zoom failing", func(t *testing.T) {
		for _, tc := range []struct {
			ep     zoomemu.Endpoint
			faults []zoomemu.Fault
			status int
		}{
			// A code exchange is not retried (a code is single-use).
			{zoomemu.EndpointToken, []zoomemu.Fault{zoomemu.ServerError()}, 503},
			{zoomemu.EndpointToken, []zoomemu.Fault{zoomemu.Status(400, `{"error":"invalid_request","reason":"Invalid authorization code"}`)}, 502},
			// users/me is retried within the budget: it fails only when Zoom keeps failing.
			{zoomemu.EndpointUsersMe, slices.Repeat([]zoomemu.Fault{zoomemu.ServerError()}, 6), 503},
			{zoomemu.EndpointUsersMe, []zoomemu.Fault{zoomemu.Status(400, `{"code":4711,"message":"Invalid access token, does not contain scopes:[user:read:user]."}`)}, 502},
		} {
			f.emu.Script(tc.ep, tc.faults...)
			if resp, page := f.connect(t, "alice-id", ""); resp.StatusCode != tc.status || !strings.Contains(page, "Nothing was stored") {
				t.Errorf("%s failing: %d, want %d", tc.ep, resp.StatusCode, tc.status)
			}
			none(t)
		}
	})
	t.Run("forged, altered and expired links never reach Zoom", func(t *testing.T) {
		before := f.emu.Calls(zoomemu.EndpointAuthorize)
		link := f.link(t, "a")
		altered := strings.Replace(link, "ref=a", "ref=b", 1)
		forged := f.srv.URL + "/connect?ref=a&expires=9999999999&sig=AAAA"
		for _, target := range []string{altered, forged, f.srv.URL + "/connect"} {
			if resp, page := f.get(t, f.browser(t), target); resp.StatusCode != 400 || !strings.Contains(page, "does not work") {
				t.Errorf("%s: %d", target, resp.StatusCode)
			}
		}
		f.clock.Add(connectlink.DefaultTTL + time.Second)
		if resp, page := f.get(t, f.browser(t), link); resp.StatusCode != 400 || !strings.Contains(page, "expired") {
			t.Errorf("expired link: %d", resp.StatusCode)
		}
		f.clock.Add(-connectlink.DefaultTTL - time.Second)
		if got := f.emu.Calls(zoomemu.EndpointAuthorize); got != before {
			t.Errorf("%d requests reached Zoom's authorize page", got-before)
		}
	})
	t.Run("state from another browser", func(t *testing.T) {
		callback := f.stepToCallback(t, f.browser(t), "alice-id")
		before := f.exchanges()
		if resp, page := f.get(t, f.browser(t), callback); resp.StatusCode != 400 || !strings.Contains(page, "another browser") {
			t.Errorf("%d %s", resp.StatusCode, page)
		}
		if f.exchanges() != before {
			t.Errorf("the code was exchanged")
		}
		none(t)
	})
	t.Run("state older than 10 minutes", func(t *testing.T) {
		browser := f.browser(t)
		callback := f.stepToCallback(t, browser, "alice-id")
		before := f.exchanges()
		f.clock.Add(11 * time.Minute)
		defer f.clock.Add(-11 * time.Minute)
		if resp, _ := f.get(t, browser, callback); resp.StatusCode != 400 || f.exchanges() != before {
			t.Errorf("%d, %d exchanges", resp.StatusCode, f.exchanges()-before)
		}
		none(t)
	})
	t.Run("state used twice", func(t *testing.T) {
		browser := f.browser(t)
		callback := f.stepToCallback(t, browser, "bob-id")
		cookies := browser.Jar.Cookies(mustURL(t, f.srv.URL+"/oauth/callback"))
		if resp, _ := f.get(t, browser, callback); resp.StatusCode != 200 {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		before := f.exchanges()
		replay := f.browser(t)
		replay.Jar.SetCookies(mustURL(t, f.srv.URL+"/oauth/callback"), cookies) // the same cookie, kept
		if resp, _ := f.get(t, replay, callback); resp.StatusCode != 400 || f.exchanges() != before {
			t.Errorf("replay: %d, %d exchanges", resp.StatusCode, f.exchanges()-before)
		}
		f.admin(t, http.MethodDelete, "/admin/connections/"+mustFind(t, f, "bob-id").ID, "")
	})
}

func mustURL(tb testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func mustFind(tb testing.TB, f *connectedFixture, zid string) connections.Connection {
	c, err := f.store.FindByZoomUserID(context.Background(), zid)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestConnectWithoutTheNeededScopes(t *testing.T) {
	f := newConnectedFixture(t, func(c *zoomemu.Config) { c.OAuthApp.Scopes = []string{zoomemu.ScopeUserRead} }, "")
	resp, page := f.connect(t, "alice-id", "")
	if resp.StatusCode != 400 || !strings.Contains(page, "user:read:token") || strings.Contains(page, "user:read:user and") {
		t.Errorf("%d %s", resp.StatusCode, page)
	}
	if list, _ := f.store.List(context.Background(), connections.Filter{}); len(list) != 0 {
		t.Errorf("stored %d connections", len(list))
	}
	if got := f.emu.Revoked(); !slices.Equal(got, []string{"alice-id"}) {
		t.Errorf("the granted tokens were not revoked: %v", got)
	}
}

func TestConnectedBotRoutes(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "r1")
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/obf-token?secret=" + botSecret, 400, "name the connected user"},
		{"/obf-token?secret=" + botSecret + "&user=alice-id&ref=r1", 400, "not both"},
		{"/obf-token?secret=" + botSecret + "&user=nobody%40example.com", 404, "no connected Zoom account"},
		{"/obf-token?secret=" + botSecret + "&ref=r1&meeting_id=12a", 400, "meeting_id"},
		{"/zak?secret=" + botSecret, 404, "ZOOM_ACCOUNT_ID"}, // no S2S app here
		{"/join-token?secret=" + botSecret + "&meeting_id=1", 404, "no connected host owns this meeting"},
	} {
		resp, body := f.srv.do(t, http.MethodGet, tc.path, nil, "")
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d with %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	// Wrong or missing secret: 401, and Zoom is never called (once the listing that follows a
	// connect has run).
	for deadline := time.Now().Add(5 * time.Second); f.emu.Calls(zoomemu.EndpointMeetings) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	before := tokenCalls(f.emu)
	for _, path := range []string{"/obf-token?user=alice-id", "/obf-token?secret=wrong&user=alice-id", "/zak?user=alice-id&secret=x"} {
		if resp, body := f.srv.do(t, http.MethodGet, path, nil, ""); resp.StatusCode != 401 || !strings.HasPrefix(body, "unauthorized") {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	if got := tokenCalls(f.emu); got != before {
		t.Errorf("%d Zoom calls for refused requests", got-before)
	}
}

func TestConcurrentOBFAfterRevocationRefreshOnce(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "r1")
	f.emu.ExpireUserTokens("alice-id")
	ok := crowd.Count(100, func() bool {
		resp, err := http.Get(f.srv.URL + "/obf-token?secret=" + botSecret + "&ref=r1")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.HasPrefix(string(b), "emu_obf_")
	})
	if ok != 100 {
		t.Errorf("%d of 100 failed", 100-ok)
	}
	if got, stale := f.emu.Refreshes("alice-id"), f.emu.StaleRefreshes(); got != 1 || stale != 0 {
		t.Errorf("%d refreshes, %d stale; want 1 and 0", got, stale)
	}
	assertCounter(t, f.srv.deps.Metrics, `zoomtoken_connection_refreshes_total{outcome="refreshed"} 1`)
	assertNoSecretsLogged(t, f)
}

func TestDeadConnectionTellsTheUserToConnectAgain(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "r1")
	c := mustFind(t, f, "alice-id")
	f.emu.KillRefreshToken("alice-id")
	f.emu.ExpireUserTokens("alice-id")
	resp, body := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=r1", nil, "")
	if resp.StatusCode != 404 || !strings.Contains(body, "connect their Zoom account again") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	assertCounter(t, f.srv.deps.Metrics, `zoomtoken_connection_refreshes_total{outcome="reauthorization_required"} 1`)
	_, got := f.admin(t, http.MethodGet, "/admin/connections/"+c.ID, "")
	var fields connections.Fields
	json.Unmarshal([]byte(got), &fields)
	if fields.Status != connections.StatusReauthorizationRequired || fields.LastError == nil || strings.Contains(*fields.LastError, "emu_") {
		t.Errorf("admin view: %s", got)
	}
	if _, got := f.admin(t, http.MethodGet, "/admin/connections?status=reauthorization_required", ""); !strings.Contains(got, c.ID) {
		t.Errorf("status filter: %s", got)
	}
	f.connect(t, "alice-id", "")
	if again := mustFind(t, f, "alice-id"); again.ID != c.ID || again.Status != connections.StatusActive {
		t.Errorf("after reconnecting: %+v", again.Fields())
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=r1", nil, ""); resp.StatusCode != 200 {
		t.Errorf("after reconnecting: %d", resp.StatusCode)
	}
	assertNoSecretsLogged(t, f)
}

func TestAdminAPI(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "r1")
	c := mustFind(t, f, "alice-id")
	for _, h := range []http.Header{nil, header("Authorization", "Bearer wrong-token-0123456789"), header("Authorization", adminToken)} {
		resp, body := f.srv.do(t, http.MethodGet, "/admin/connections", h, "")
		if resp.StatusCode != 401 || body != `{"error":"unauthorized"}` || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %s", h, resp.StatusCode, body)
		}
	}
	for body, want := range map[string]int{
		`{"ttl_seconds":60}`:                         201,
		`{"ttl_seconds":2592000,"ref":"x"}`:          201,
		`{}`:                                         201,
		`{"ttl_seconds":0}`:                          400,
		`{"ttl_seconds":2592001}`:                    400,
		`{"ttl_seconds":1.5}`:                        400,
		`{"ttl_seconds":"60"}`:                       400,
		`{"ref":"` + strings.Repeat("é", 201) + `"}`: 400,
		`{"ref":"` + strings.Repeat("é", 200) + `"}`: 201,
		`[`: 400,
	} {
		if resp, got := f.admin(t, http.MethodPost, "/admin/connect-links", body); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", body, resp.StatusCode, got, want)
		}
	}
	// Mistakes that would silently do something else are refused, saying what is wrong.
	for body, says := range map[string]string{
		`{"ref":"customer-42","ttl":60}`:    `this route does not take, \"ttl\"`,
		`{"ref":""}`:                        "ref is empty",
		`{"ref":"a,b"}`:                     "must not contain a comma",
		`{"ref":"a\u0000b"}`:                "control characters",
		`{"ref":7}`:                         "ref must be a string",
		`{"ref":"customer-42"} {"ref":"x"}`: "one JSON object",
	} {
		if resp, got := f.admin(t, http.MethodPost, "/admin/connect-links", body); resp.StatusCode != 400 || !strings.Contains(got, says) {
			t.Errorf("%s: %d %s, want 400 saying %q", body, resp.StatusCode, got, says)
		}
	}
	if resp, _ := f.admin(t, http.MethodGet, "/admin/connections/conn_nope", ""); resp.StatusCode != 404 {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
	if resp, _ := f.admin(t, http.MethodDelete, "/admin/connections/"+c.ID, ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if got := f.emu.Revoked(); !slices.Equal(got, []string{"alice-id"}) {
		t.Errorf("revoked at Zoom: %v", got)
	}
	if resp, _ := f.admin(t, http.MethodDelete, "/admin/connections/"+c.ID, ""); resp.StatusCode != 404 {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=r1", nil, ""); resp.StatusCode != 404 {
		t.Errorf("a deleted connection still vends: %d", resp.StatusCode)
	}
	off := newTestServer(t, Deps{})
	if resp, body := off.do(t, http.MethodGet, "/admin/connections", nil, ""); resp.StatusCode != 404 || !strings.Contains(body, "ADMIN_TOKENS") {
		t.Errorf("admin off: %d %s", resp.StatusCode, body)
	}
}

func TestAdminEvents(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "r1")
	c := mustFind(t, f, "alice-id")
	ctx := context.Background()
	type listing struct {
		Events []struct {
			ID, Type, Key, State string
			LastError            string `json:"last_error"`
			Attempts             int
		}
		Delivery struct {
			Paused bool
			Reason string
		}
	}
	list := func(query string) listing {
		t.Helper()
		resp, body := f.admin(t, http.MethodGet, "/admin/events"+query, "")
		var l listing
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &l) != nil {
			t.Fatalf("GET /admin/events%s: %d %s", query, resp.StatusCode, body)
		}
		if strings.Contains(body, "alice@example.com") || strings.Contains(body, "payload") {
			t.Errorf("the listing shows an event's payload: %s", body)
		}
		return l
	}
	l := list("")
	if len(l.Events) != 1 || l.Events[0].Type != "connection.created" || l.Events[0].Key != c.ID || l.Events[0].State != "pending" || l.Delivery.Paused {
		t.Fatalf("listing %+v, want connection.created for %s, pending", l, c.ID)
	}
	id := l.Events[0].ID
	if err := f.events.EventExhausted(ctx, id, time.Now(), "EVENTS_URL answered 500"); err != nil {
		t.Fatal(err)
	}
	if l := list("?state=failed&type=connection.created"); len(l.Events) != 1 || l.Events[0].State != "failed" || l.Events[0].LastError != "EVENTS_URL answered 500" {
		t.Errorf("failed listing: %+v", l)
	}
	for _, query := range []string{"?state=pending", "?type=connection.deleted"} {
		if l := list(query); len(l.Events) != 0 {
			t.Errorf("%s lists %+v", query, l.Events)
		}
	}
	if resp, body := f.admin(t, http.MethodGet, "/admin/events?state=lost", ""); resp.StatusCode != 400 || !strings.Contains(body, "pending or failed") {
		t.Errorf("a bad state: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.admin(t, http.MethodPost, "/admin/events/evt_nope/retry", ""); resp.StatusCode != 404 {
		t.Errorf("retrying an unknown event: %d", resp.StatusCode)
	}
	if resp, body := f.admin(t, http.MethodPost, "/admin/events/"+id+"/retry", ""); resp.StatusCode != 200 || !strings.Contains(body, `"state":"pending"`) {
		t.Errorf("retrying it: %d %s", resp.StatusCode, body)
	}
	if l := list("?state=pending"); len(l.Events) != 1 || l.Events[0].ID != id || l.Events[0].Attempts != 0 {
		t.Errorf("after the retry: %+v", l)
	}
	// A paused delivery shows, and POST /admin/events/retry resumes it with the failed events.
	f.events.EventExhausted(ctx, id, time.Now(), "EVENTS_URL answered 500")
	f.events.PauseDelivery(ctx, time.Now(), "EVENTS_URL answered 410")
	if l := list(""); !l.Delivery.Paused || l.Delivery.Reason != "EVENTS_URL answered 410" {
		t.Errorf("paused delivery shown as %+v", l.Delivery)
	}
	if resp, body := f.admin(t, http.MethodPost, "/admin/events/retry", ""); resp.StatusCode != 200 || body != `{"replayed":1,"resumed":true}` {
		t.Errorf("retrying every failed event: %d %s", resp.StatusCode, body)
	}
	if l := list(""); l.Delivery.Paused || len(l.Events) != 1 || l.Events[0].State != "pending" {
		t.Errorf("after resuming: %+v", l)
	}
	if resp, _ := f.srv.do(t, http.MethodPost, "/admin/events/retry", nil, ""); resp.StatusCode != 401 {
		t.Errorf("without the admin token: %d", resp.StatusCode)
	}
}

// assertNoSecretsLogged checks the debug-level logs for every code, token and secret the
// emulator issued or the test used.
func assertNoSecretsLogged(tb testing.TB, f *connectedFixture) {
	tb.Helper()
	logs := f.srv.logs.String()
	if !strings.Contains(logs, `"route"`) {
		tb.Fatalf("no access lines captured")
	}
	secrets := append(f.emu.Issued(zoomemu.EndpointToken), f.emu.Issued(zoomemu.EndpointUserToken)...)
	secrets = append(secrets, botSecret, adminToken, "oauth-secret")
	for _, c := range f.emu.Requests() {
		if code := c.Form["code"]; len(code) > 0 {
			secrets = append(secrets, code[0])
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			tb.Errorf("the log holds a secret (%.12s…)", s)
		}
	}
	for _, word := range []string{"state=", "code=", "sig="} {
		if i := strings.Index(logs, word); i >= 0 && !strings.HasPrefix(logs[i+len(word):], "REDACTED") {
			tb.Errorf("the log holds %s unredacted: %.60s", word, logs[i:])
		}
	}
}

// With the database down, the connected-account routes answer 503 and nothing else changes.
func TestConnectedRoutesWithTheDatabaseDown(t *testing.T) {
	key := bytes.Repeat([]byte{3}, seal.KeySize)
	ring, _ := seal.NewKeyring(key)
	links := connectlink.NewSigner("http://127.0.0.1", [][]byte{key}, time.Now)
	manager := connections.NewManager(connections.ManagerConfig{Store: new(sqlstore.DB).Connections(),
		Vault: connections.NewVault(ring), Logger: zerolog.Nop()})
	srv := newTestServer(t, Deps{
		App:             vend.App{Connected: &vend.Connected{Manager: manager, Zoom: zoom.NewUserClient(zoom.Config{OAuthBaseURL: "http://127.0.0.1:1"}, "")}},
		ConnectFlow:     &ConnectFlow{Links: links, Cookies: ring, Now: time.Now},
		CallbackSecrets: []string{botSecret},
		CallbackReach:   vend.ReachConnected,
		AdminTokens:     []string{adminToken},
	})
	link, _ := links.Mint("r", time.Hour)
	u, _ := url.Parse(link)
	for _, tc := range []struct {
		path   string
		header http.Header
	}{
		{"/obf-token?secret=" + botSecret + "&ref=r", nil},
		{"/zak?secret=" + botSecret + "&user=a%40example.com", nil},
		{"/connect?" + u.RawQuery, nil},
		{"/admin/connections", header("Authorization", "Bearer "+adminToken)},
		{"/admin/connections/conn_1", header("Authorization", "Bearer "+adminToken)},
	} {
		resp, body := srv.do(t, http.MethodGet, tc.path, tc.header, "")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %q, want 503", tc.path, resp.StatusCode, body)
		}
	}
}

// Links for two refs approved by the same Zoom user leave one connection that both refs
// resolve to; the admin API shows both and can remove one.
func TestTwoRefsOneZoomUser(t *testing.T) {
	f := newConnectedFixture(t, nil, "")
	f.connect(t, "alice-id", "customer-42")
	f.connect(t, "alice-id", "mobile-user")
	for _, ref := range []string{"customer-42", "mobile-user"} {
		if resp, body := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref="+ref, nil, ""); resp.StatusCode != 200 {
			t.Errorf("ref %s: %d %q", ref, resp.StatusCode, body)
		}
	}
	c := mustFind(t, f, "alice-id")
	resp, body := f.admin(t, http.MethodGet, "/admin/connections/"+c.ID, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ref":"mobile-user","refs":["customer-42","mobile-user"]`) {
		t.Errorf("admin view: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(f.srv.logs.String(), "connection: a ref was added") {
		t.Error("adding a ref was not logged")
	}
	resp, body = f.admin(t, http.MethodDelete, "/admin/connections/"+c.ID+"/refs/mobile-user", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ref":"customer-42","refs":["customer-42"]`) {
		t.Errorf("remove: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=mobile-user", nil, ""); resp.StatusCode != 404 {
		t.Errorf("a removed ref: %d", resp.StatusCode)
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&ref=customer-42", nil, ""); resp.StatusCode != 200 {
		t.Errorf("the ref left: %d", resp.StatusCode)
	}
	if resp, body := f.admin(t, http.MethodDelete, "/admin/connections/"+c.ID+"/refs/mobile-user", ""); resp.StatusCode != 404 || !strings.Contains(body, "has this ref") {
		t.Errorf("removing it again: %d %s", resp.StatusCode, body)
	}
}

// The pages name the operator's app, show its logo (and the CSP allows that origin only), and
// link its support; without branding they name nobody.
func TestConnectPagesNameTheApp(t *testing.T) {
	brand := Branding{AppName: "Acme <Notes>", LogoURL: "https://cdn.acme.example/logo.png", SupportURL: "mailto:help@acme.example"}
	f := newConnectedFixture(t, func(c *zoomemu.Config) { c.OAuthApp.Name = "Acme Notes" }, "", func(d *Deps, _ string) { d.ConnectFlow.Branding = brand })
	resp, page := f.connect(t, "alice-id", "r1")
	for _, want := range []string{"Connected alice@example.com to Acme &lt;Notes&gt;.", `<img src="https://cdn.acme.example/logo.png"`,
		`<a href="mailto:help@acme.example">Contact support</a>`, "<title>Your Zoom account is connected · Acme &lt;Notes&gt;</title>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the success page lacks %q:\n%s", want, page)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src https://cdn.acme.example;") {
		t.Errorf("CSP %q", csp)
	}
	// An error page is branded too.
	_, page = f.get(t, f.browser(t), f.srv.URL+"/connect?ref=x&expires=1&sig=bad")
	if !strings.Contains(page, "This link does not work") || !strings.Contains(page, "Acme &lt;Notes&gt;") || !strings.Contains(page, "Contact support") {
		t.Errorf("the error page is not branded:\n%s", page)
	}
	// The emulator's consent page names the app and fits a phone.
	f.emu.AutoApprove("")
	resp, consent := f.get(t, noFollow(f.browser(t)), f.link(t, "r2"))
	if loc := resp.Header.Get("Location"); loc != "" {
		_, consent = f.get(t, f.browser(t), loc)
	}
	if !strings.Contains(consent, "Allow Acme Notes to use your Zoom account?") || !strings.Contains(consent, `name="viewport"`) {
		t.Errorf("consent page:\n%s", consent)
	}

	plain := newConnectedFixture(t, nil, "")
	resp, page = plain.connect(t, "alice-id", "r1")
	if !strings.Contains(page, "Connected: alice@example.com.") || strings.Contains(page, "<img") || strings.Contains(page, "support") ||
		strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src") {
		t.Errorf("unbranded page:\n%s", page)
	}
}
