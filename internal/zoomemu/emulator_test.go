package zoomemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
)

func start(tb testing.TB, cfg Config) (*Emulator, *httptest.Server) {
	tb.Helper()
	if cfg.Apps == nil {
		cfg.Apps = []App{{AccountID: "acct", ClientID: "id", ClientSecret: "secret"}}
	}
	cfg.Users = []User{{ID: "u1", Email: "Bot@Example.com"}}
	cfg.Meetings = []int64{123456789}
	e := New(cfg)
	srv := httptest.NewServer(e)
	tb.Cleanup(func() { e.Close(); srv.Close() })
	return e, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func send(tb testing.TB, req *http.Request) answer {
	tb.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &a.body); err != nil {
		tb.Fatalf("body %q is not JSON: %v", b, err)
	}
	if resp.Header.Get("x-zm-trackingid") == "" {
		tb.Errorf("no x-zm-trackingid on %s", req.URL.Path)
	}
	return a
}

func tokenRequest(tb testing.TB, base, id, secret, form string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return req
}

func newAccessToken(tb testing.TB, base string) string {
	tb.Helper()
	a := send(tb, tokenRequest(tb, base, "id", "secret", "grant_type=account_credentials&account_id=acct"))
	if a.status != 200 {
		tb.Fatalf("token: %d %v", a.status, a.body)
	}
	return a.body["access_token"].(string)
}

func get(tb testing.TB, base, path, token string) answer {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return send(tb, req)
}

func TestTokenEndpointChecks(t *testing.T) {
	_, srv := start(t, Config{APIURL: "https://api.example"})
	tests := []struct {
		name, id, secret, form string
		status                 int
		oauthError             string
	}{
		{"ok", "id", "secret", "grant_type=account_credentials&account_id=acct", 200, ""},
		{"no basic auth", "", "", "grant_type=account_credentials&account_id=acct", 401, "invalid_client"},
		{"wrong secret", "id", "nope", "grant_type=account_credentials&account_id=acct", 401, "invalid_client"},
		{"wrong grant", "id", "secret", "grant_type=client_credentials&account_id=acct", 400, "unsupported_grant_type"},
		{"wrong account", "id", "secret", "grant_type=account_credentials&account_id=other", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, tokenRequest(t, srv.URL, tt.id, tt.secret, tt.form))
			if a.status != tt.status {
				t.Fatalf("status: got %d, want %d (%v)", a.status, tt.status, a.body)
			}
			if tt.oauthError != "" && a.body["error"] != tt.oauthError {
				t.Errorf("error: got %v, want %s", a.body["error"], tt.oauthError)
			}
			if tt.status == 200 && (a.body["expires_in"] != float64(3600) || a.body["api_url"] != "https://api.example" ||
				a.body["token_type"] != "bearer" || !strings.Contains(a.body["scope"].(string), ScopeZAK)) {
				t.Errorf("token answer: %v", a.body)
			}
		})
	}
	// account_id in the query rather than the body is not read.
	req := tokenRequest(t, srv.URL, "id", "secret", "grant_type=account_credentials")
	req.URL.RawQuery = url.Values{"account_id": {"acct"}}.Encode()
	if a := send(t, req); a.status != 400 {
		t.Errorf("account_id in the query: got %d, want 400", a.status)
	}
}

func TestTokensExpireAndRevoke(t *testing.T) {
	clk := fakeclock.New(time.Unix(1_800_000_000, 0))
	e, srv := start(t, Config{Now: clk.Now, TokenLifetime: time.Minute})
	tok := newAccessToken(t, srv.URL)
	if a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok); a.status != 200 || a.body["token"] == "" {
		t.Fatalf("zak: %d %v", a.status, a.body)
	}
	clk.Add(time.Minute)
	if a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok); a.status != 401 || a.body["code"] != float64(124) {
		t.Errorf("expired token: got %d %v, want 401 code 124", a.status, a.body)
	}
	tok = newAccessToken(t, srv.URL)
	e.RevokeAll()
	if a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok); a.status != 401 {
		t.Errorf("revoked token: got %d, want 401", a.status)
	}
}

func TestRESTAnswers(t *testing.T) {
	e, srv := start(t, Config{Apps: []App{{AccountID: "acct", ClientID: "id", ClientSecret: "secret",
		Scopes: []string{ScopeZAK, ScopeLocalRecordingToken}}}})
	tok := newAccessToken(t, srv.URL)
	tests := []struct {
		path   string
		status int
		code   float64
	}{
		{"/v2/users/u1/token?type=zak", 200, 0},
		{"/v2/users/bot@example.com/token?type=zak&ttl=60", 200, 0},
		{"/v2/users/nobody/token?type=zak", 404, 1001},
		{"/v2/users/u1/token?type=zak&ttl=0", 400, 300},
		{"/v2/meetings/123456789/jointoken/local_recording?bypass_waiting_room=true", 200, 0},
		{"/v2/meetings/987/jointoken/local_recording", 404, 3001},
		{"/v2/meetings/abc/jointoken/local_recording", 400, 300},
		{"/v2/meetings/123456789/jointoken/live_streaming", 400, 4711},
	}
	for _, tt := range tests {
		a := get(t, srv.URL, tt.path, tok)
		if a.status != tt.status || (tt.code != 0 && a.body["code"] != tt.code) {
			t.Errorf("%s: got %d %v, want %d code %v", tt.path, a.status, a.body, tt.status, tt.code)
		}
		if tt.status == 200 && a.body["token"] == "" {
			t.Errorf("%s: empty token", tt.path)
		}
	}
	if got := len(e.Issued(EndpointJoinToken)); got != 1 {
		t.Errorf("join tokens issued: got %d, want 1", got)
	}
	if got := e.Calls(EndpointZAK); got != 4 {
		t.Errorf("zak calls: got %d, want 4", got)
	}
}

func TestPerSecondRateLimit(t *testing.T) {
	clk := fakeclock.New(time.Unix(1_800_000_000, 0))
	_, srv := start(t, Config{Now: clk.Now, RateLimitPerSecond: 2})
	tok := newAccessToken(t, srv.URL)
	for i := range 2 {
		a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok)
		if a.status != 200 || a.header.Get("X-RateLimit-Remaining") != string(rune('1'-i)) {
			t.Errorf("call %d: got %d remaining %q", i, a.status, a.header.Get("X-RateLimit-Remaining"))
		}
	}
	a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok)
	if a.status != 429 || a.header.Get("X-RateLimit-Type") != "QPS" || a.header.Get("Retry-After") != "1" {
		t.Errorf("third call: got %d %v", a.status, a.header)
	}
	clk.Add(time.Second)
	if a := get(t, srv.URL, "/v2/users/u1/token?type=zak", tok); a.status != 200 {
		t.Errorf("next second: got %d", a.status)
	}
}

func TestHangIsReleasedByClose(t *testing.T) {
	e, srv := start(t, Config{})
	e.Script(EndpointToken, Hang())
	done := make(chan error, 1)
	go func() {
		_, err := http.Post(srv.URL+"/oauth/token", "application/x-www-form-urlencoded", nil)
		done <- err
	}()
	for e.Calls(EndpointToken) == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("a hung request was answered")
	case <-time.After(50 * time.Millisecond):
	}
	e.Close()
	<-done
}
