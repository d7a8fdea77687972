package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	botSecret  = "bot-secret-0123456789"
	botUser    = "bot@example.com"
	botMeeting = "85746065432"
)

// botServer is the handler with the bot routes on, backed by the emulator over HTTP.
func botServer(tb testing.TB, zakUser string, emuCfg func(*zoomemu.Config)) (*testServer, *zoomemu.Emulator) {
	tb.Helper()
	cfg := zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}},
		Users:    []zoomemu.User{{ID: "u-1", Email: botUser}},
		Meetings: []int64{85746065432},
	}
	if emuCfg != nil {
		emuCfg(&cfg)
	}
	emu := zoomemu.New(cfg)
	upstream := httptest.NewServer(emu)
	tb.Cleanup(func() { emu.Close(); upstream.Close() })
	client := zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
		OAuthBaseURL: upstream.URL, APIBaseURL: upstream.URL, Budget: time.Second, AttemptTimeout: 300 * time.Millisecond})
	srv := newTestServer(tb, Deps{App: vend.App{S2S: client, ZAKUser: zakUser}, CallbackSecrets: []string{botSecret}})
	return srv, emu
}

func TestBotRoutesAnswerPerContract(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		script     func(*zoomemu.Emulator)
		emuCfg     func(*zoomemu.Config)
		wantStatus int
		wantBody   string // exact, or "" for any
	}{
		{name: "zak", path: "/zak?secret=" + botSecret, wantStatus: 200},
		{name: "join token", path: "/join-token?meeting_id=" + botMeeting + "&secret=" + botSecret, wantStatus: 200},
		{name: "no secret", path: "/zak", wantStatus: 401,
			wantBody: "unauthorized: no credential: send a bot link (…&expires=…&sig=…), ?secret=, or a request signed the Standard Webhooks way"},
		{name: "a wrong secret", path: "/zak?secret=not-the-secret", wantStatus: 401, wantBody: "unauthorized: secret matches none of CALLBACK_SECRETS"},
		{name: "bad meeting id", path: "/join-token?meeting_id=12a&secret=" + botSecret, wantStatus: 400},
		{name: "bad type", path: "/join-token?meeting_id=1&type=cloud&secret=" + botSecret, wantStatus: 400},
		{name: "bad bypass", path: "/join-token?meeting_id=1&bypass_waiting_room=maybe&secret=" + botSecret, wantStatus: 400},
		{name: "unknown meeting", path: "/join-token?meeting_id=999&secret=" + botSecret, wantStatus: 404},
		{name: "missing scope", path: "/zak?secret=" + botSecret, wantStatus: 502,
			emuCfg: func(c *zoomemu.Config) { c.Apps[0].Scopes = []string{zoomemu.ScopeLocalRecordingToken} }},
		{name: "rate limited", path: "/zak?secret=" + botSecret, wantStatus: 503,
			script: func(e *zoomemu.Emulator) { e.Script(zoomemu.EndpointZAK, zoomemu.RateLimitedDaily("")) }},
		{name: "empty token", path: "/join-token?meeting_id=" + botMeeting + "&secret=" + botSecret, wantStatus: 502,
			script: func(e *zoomemu.Emulator) { e.Script(zoomemu.EndpointJoinToken, zoomemu.EmptyToken()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, emu := botServer(t, botUser, tt.emuCfg)
			if tt.script != nil {
				tt.script(emu)
			}
			resp, body := srv.do(t, http.MethodGet, tt.path, nil, "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%q)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body: got %q, want %q", body, tt.wantBody)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q", got)
			}
			if tt.wantStatus == 200 {
				var issued []string
				issued = append(issued, emu.Issued(zoomemu.EndpointZAK)...)
				issued = append(issued, emu.Issued(zoomemu.EndpointJoinToken)...)
				if len(issued) != 1 || body != issued[0] {
					t.Errorf("body %q is not the token the emulator issued (%v)", body, issued)
				}
			}
			if tt.wantStatus == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
}

func TestBotRoutesOff(t *testing.T) {
	srv := newTestServer(t, Deps{})
	for _, path := range []string{"/zak?secret=x", "/join-token?secret=x&meeting_id=1"} {
		resp, body := srv.do(t, http.MethodGet, path, nil, "")
		if resp.StatusCode != 404 || !strings.Contains(body, "ZOOM_CLIENT_SECRET") || !strings.Contains(body, "CALLBACK_SECRETS") {
			t.Errorf("%s: got %d %q", path, resp.StatusCode, body)
		}
	}
	// Every route of a feature that is off says how to turn it on, the connect flow's too.
	for _, path := range []string{"/connect?ref=r", "/oauth/callback?code=c&state=s", "/obf-token?secret=x"} {
		resp, body := srv.do(t, http.MethodGet, path, nil, "")
		if resp.StatusCode != 404 || !strings.Contains(body, "turn it on") || !strings.Contains(body, "ZOOM_OAUTH_CLIENT_ID") {
			t.Errorf("%s: got %d %q", path, resp.StatusCode, body)
		}
	}
	// GET / says what the service is, rather than an empty 405.
	if resp, body := srv.do(t, http.MethodGet, "/", nil, ""); resp.StatusCode != 200 || !strings.Contains(body, "zoomtoken") || !strings.Contains(body, "github.com/zoomtoken/zoomtoken") {
		t.Errorf("GET /: %d %q", resp.StatusCode, body)
	}
	// S2S on, no ZAK user: /zak is off (behind the secret), /join-token is on.
	srv, _ = botServer(t, "", nil)
	resp, body := srv.do(t, http.MethodGet, "/zak?secret="+botSecret, nil, "")
	if resp.StatusCode != 404 || !strings.Contains(body, "ZOOM_ZAK_USER") {
		t.Errorf("/zak without a ZAK user: got %d %q", resp.StatusCode, body)
	}
	resp, _ = srv.do(t, http.MethodGet, "/zak?secret=wrong", nil, "")
	if resp.StatusCode != 401 {
		t.Errorf("/zak without a ZAK user, wrong secret: got %d, want 401", resp.StatusCode)
	}
	resp, _ = srv.do(t, http.MethodGet, "/join-token?meeting_id="+botMeeting+"&secret="+botSecret, nil, "")
	if resp.StatusCode != 200 {
		t.Errorf("/join-token without a ZAK user: got %d, want 200", resp.StatusCode)
	}
}

func TestCallbackSecretsMatch(t *testing.T) {
	cs := newSecretSet([]string{"first-secret", "second-secret"})
	tests := []struct {
		got  string
		want int // the matching secret's index, -1 for none
	}{
		{"first-secret", 0}, {"second-secret", 1}, {"", -1}, {"first", -1},
		{"first-secret ", -1}, {"FIRST-SECRET", -1}, {"first-secretsecond-secret", -1},
	}
	for _, tt := range tests {
		if got := cs.match(tt.got); got != tt.want {
			t.Errorf("match(%q): got %v, want %v", tt.got, got, tt.want)
		}
	}
	if newSecretSet(nil).match("anything") >= 0 {
		t.Error("no secrets configured must match nothing")
	}
}

func TestParseMeetingID(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
	}{
		{"123456789", 123456789}, {"123-456-789", 123456789}, {"123 456 789", 123456789},
		{"85746065432", 85746065432}, {"9223372036854775807", 9223372036854775807},
		{"", 0}, {"12a", 0}, {"../../users/me", 0}, {"../", 0}, {"0", 0}, {"-", 0}, {" ", 0}, {strings.Repeat("1", 40), 0},
		{"https://us02web.zoom.us/j/85012345678?pwd=x", 0},
		{"+123", 0}, {"１２３", 0}, {"9223372036854775808", 0}, {"123\n", 0},
	}
	for _, tt := range tests {
		got, err := parseMeetingID(tt.raw)
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("parseMeetingID(%q): got %d %v, want %d", tt.raw, got, err, tt.want)
		}
		if f := classify(err); err != nil && f.status != http.StatusBadRequest {
			t.Errorf("parseMeetingID(%q): its error answers %d, want 400", tt.raw, f.status)
		}
	}
	// The reason says what is wrong.
	for raw, says := range map[string]string{
		strings.Repeat("1", 40):                       "has 40 digits: Zoom's meeting ids have 9 to 11",
		"https://us02web.zoom.us/j/85012345678?pwd=x": "is a Zoom link: give the meeting id alone, 85012345678",
		"12a": "such as 85012345678",
	} {
		if _, err := parseMeetingID(raw); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("parseMeetingID(%.30q): %v, want it to say %q", raw, err, says)
		}
	}
}

func TestBotRoutesRefuseAmbiguousInput(t *testing.T) {
	srv, emu := botServer(t, botUser, nil)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/zak?secret=" + botSecret + "&secret=" + botSecret, 400},
		{http.MethodGet, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting + "&meeting_id=1", 400},
		{http.MethodGet, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting + "&type=live_streaming&type=local_recording", 400},
		{http.MethodGet, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting + "&bypass_waiting_room=1", 400},
		{http.MethodGet, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting + "&bypass_waiting_room=TRUE", 400},
		{http.MethodGet, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting + "&bypass_waiting_room=true&bypass_waiting_room=false", 400},
		{http.MethodGet, "/zak?secret=" + botSecret + "&user=a&user=b", 400},
		{http.MethodGet, "/join-token?secret=wrong&meeting_id=1&meeting_id=2", 401}, // the secret first
		{http.MethodPost, "/zak?secret=" + botSecret, 405},
		{http.MethodDelete, "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting, 405},
		{http.MethodPut, "/obf-token?secret=" + botSecret, 405},
	} {
		resp, body := srv.do(t, tc.method, tc.path, nil, "")
		if resp.StatusCode != tc.status || resp.Header.Get("Cache-Control") != "no-store" || body == "" {
			t.Errorf("%s %s: %d %q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
	if calls := emu.Requests(); len(calls) != 0 {
		t.Errorf("%d Zoom calls for refused requests", len(calls))
	}
	if resp, _ := srv.do(t, http.MethodGet, "/join-token?secret="+botSecret+"&meeting_id="+botMeeting+"&bypass_waiting_room=false", nil, ""); resp.StatusCode != 200 {
		t.Errorf("bypass_waiting_room=false: %d", resp.StatusCode)
	}
}

func TestOnlyRealTokensAreServed(t *testing.T) {
	for name, body := range map[string]string{
		"blanks":     `{"token":"                    "}`,
		"HTML":       `{"token":"<html><body>Service unavailable</body></html>"}`,
		"a newline":  `{"token":"emu_zak_abcdefghijklmnop\nX-Injected: 1"}`,
		"too short":  `{"token":"abc"}`,
		"a tab":      `{"token":"abcdefghijklmnop\tqrstuvwxyz"}`,
		"not ASCII":  `{"token":"abcdefghijklmnopé"}`,
		"empty":      `{"token":""}`,
		"whitespace": `{"token":" emu_zak_abcdefghijklmnop"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, emu := botServer(t, botUser, nil)
			emu.Script(zoomemu.EndpointZAK, zoomemu.Status(200, body))
			resp, got := srv.do(t, http.MethodGet, "/zak?secret="+botSecret, nil, "")
			if resp.StatusCode != 502 || strings.Contains(got, "html") {
				t.Errorf("got %d %q, want 502", resp.StatusCode, got)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
		})
	}
	// And a 404 says what failed in our words, not Zoom's (which names the user).
	srv, _ := botServer(t, "nobody@example.com", nil)
	resp, got := srv.do(t, http.MethodGet, "/zak?secret="+botSecret, nil, "")
	if resp.StatusCode != 404 || strings.Contains(got, "nobody@example.com") || !strings.Contains(got, "does not know this user") {
		t.Errorf("unknown ZAK user: %d %q", resp.StatusCode, got)
	}
}

func TestAHangUpIsNotZoomsFault(t *testing.T) {
	for _, tc := range []struct{ route, path string }{
		{"/join-token", "/join-token?secret=" + botSecret + "&meeting_id=" + botMeeting},
		{"/zak", "/zak?secret=" + botSecret}, // shared call: the handler has nothing to write
	} {
		t.Run(tc.route, func(t *testing.T) {
			m := metrics.New()
			srv, emu := botServer(t, botUser, nil)
			d := srv.deps
			d.Metrics = m
			srv = newTestServer(t, d)
			emu.Script(zoomemu.EndpointJoinToken, zoomemu.Hang())
			emu.Script(zoomemu.EndpointZAK, zoomemu.Hang())
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+tc.path, nil)
			if _, err := srv.Client().Do(req); err == nil {
				t.Fatal("the request did not time out")
			}
			// Close waits for the handler, and so for its access line.
			srv.Close()
			want := `"route":"` + tc.route + `","status":499,"size":0`
			logs := srv.logs.String()
			if !strings.Contains(logs, want) {
				t.Errorf("no 499 access line:\n%s", logs)
			}
			if strings.Contains(logs, "zoom call failed") || strings.Contains(logs, `"level":"warn"`) {
				t.Errorf("a hang-up was logged as Zoom failing:\n%s", logs)
			}
			assertCounter(t, m, `zoomtoken_http_requests_total{route="`+tc.route+`",status="499"} 1`)
		})
	}
}

// A base64 secret (as Render generates) pasted into a bot URL without percent-encoding: its +
// arrives as a space, and is still accepted.
func TestSecretWithAPlusInAnUnescapedURL(t *testing.T) {
	const secret = "ab+cd/ef+gh=ijkl01234"
	srv, _ := botServer(t, botUser, nil)
	d := srv.deps
	d.CallbackSecrets = []string{secret}
	srv = newTestServer(t, d)
	for _, q := range []string{"ab+cd/ef+gh=ijkl01234", url.QueryEscape(secret)} {
		if resp, _ := srv.do(t, http.MethodGet, "/zak?secret="+q, nil, ""); resp.StatusCode != 200 {
			t.Errorf("secret=%s: %d", q, resp.StatusCode)
		}
	}
	if resp, _ := srv.do(t, http.MethodGet, "/zak?secret=ab+cd/ef+gh=ijkl0123X", nil, ""); resp.StatusCode != 401 {
		t.Errorf("a wrong secret with spaces: %d", resp.StatusCode)
	}
}
