package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// End-to-end tests of the bot routes: the real run() on a loopback port, wired through its
// configuration to the Zoom emulator over HTTP, logging at debug level.

const (
	firstSecret    = "first-callback-secret-7f3a"
	secondSecret   = "second-callback-secret-9c1d"
	e2eClientID    = "e2e-client"
	e2eClientSec   = "e2e-client-secret-51ab"
	e2eAccount     = "e2e-account"
	e2eSDKSecret   = "e2e-sdk-secret-aa77"
	e2eZAKUser     = "bot@example.com"
	e2eMeeting     = int64(123456789)
	e2eZoomTimeout = 1500 * time.Millisecond
)

type botFixture struct {
	inst *instance
	emu  *zoomemu.Emulator
	// seen collects every token and signature a response carried, for the leak check.
	mu   sync.Mutex
	seen []string
}

type botOption func(env map[string]string, emu *zoomemu.Config)

// startBots starts the emulator and the service wired to it. When the test ends it checks that
// no secret, access token, ZAK, join token or signature ever reached the log.
func startBots(t *testing.T, opts ...botOption) *botFixture {
	t.Helper()
	ecfg := zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: e2eAccount, ClientID: e2eClientID, ClientSecret: e2eClientSec}},
		Users:    []zoomemu.User{{ID: "u-1", Email: e2eZAKUser}},
		Meetings: []int64{e2eMeeting},
	}
	env := map[string]string{
		"ZOOM_ACCOUNT_ID":         e2eAccount,
		"ZOOM_CLIENT_ID":          e2eClientID,
		"ZOOM_CLIENT_SECRET":      e2eClientSec,
		"CALLBACK_SECRETS":        firstSecret + "," + secondSecret,
		"ZOOM_ZAK_USER":           e2eZAKUser,
		"ZOOM_MEETING_SDK_KEY":    "e2eKey",
		"ZOOM_MEETING_SDK_SECRET": e2eSDKSecret,
		"LOG_LEVEL":               "debug",
		"ZOOM_TIMEOUT":            e2eZoomTimeout.String(),
		"SHUTDOWN_TIMEOUT":        "5s",
	}
	for _, o := range opts {
		o(env, &ecfg)
	}
	emu := zoomemu.New(ecfg)
	upstream := httptest.NewServer(emu)
	if env["ZOOM_OAUTH_BASE_URL"] == "" {
		env["ZOOM_OAUTH_BASE_URL"] = upstream.URL
	}
	if env["ZOOM_API_BASE_URL"] == "" {
		env["ZOOM_API_BASE_URL"] = upstream.URL
	}
	f := &botFixture{emu: emu}
	// Registered first, so it runs last: after the service has stopped and logged everything.
	t.Cleanup(func() { f.checkLogs(t, env) })
	t.Cleanup(func() { emu.Close(); upstream.Close() })
	f.inst = start(t, env)
	return f
}

func (f *botFixture) checkLogs(t *testing.T, env map[string]string) {
	logs := f.inst.stdout.String()
	if !strings.Contains(logs, `"level":"debug"`) && !strings.Contains(logs, `"level":"info"`) {
		t.Errorf("no log captured")
	}
	f.mu.Lock()
	leaks := slices.Clone(f.seen)
	f.mu.Unlock()
	leaks = append(leaks, firstSecret, secondSecret, e2eClientSec, e2eSDKSecret, env["CALLBACK_SECRETS"], env["ZOOM_CLIENT_SECRET"])
	for _, ep := range []zoomemu.Endpoint{zoomemu.EndpointToken, zoomemu.EndpointZAK, zoomemu.EndpointJoinToken} {
		leaks = append(leaks, f.emu.Issued(ep)...)
	}
	for _, leak := range leaks {
		if leak != "" && strings.Contains(logs, leak) {
			t.Errorf("the log contains %q", leak)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// get requests a path of the service and records any token it answers with.
func (f *botFixture) get(t *testing.T, path string) answer {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(f.inst.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if a.status == 200 {
		f.mu.Lock()
		f.seen = append(f.seen, a.body)
		f.mu.Unlock()
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", redactedPath(path), a.header.Get("Cache-Control"))
	}
	return a
}

// redactedPath keeps secrets out of test failure messages too.
func redactedPath(path string) string {
	return strings.NewReplacer(firstSecret, "FIRST", secondSecret, "SECOND").Replace(path)
}

func (f *botFixture) upstreamCalls() int {
	return f.emu.Calls(zoomemu.EndpointToken) + f.emu.Calls(zoomemu.EndpointZAK) + f.emu.Calls(zoomemu.EndpointJoinToken)
}

func joinPath(secret, meetingID string, extra ...string) string {
	q := url.Values{"secret": {secret}, "meeting_id": {meetingID}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/join-token?" + q.Encode()
}

func TestBotTokensAreZoomsBytes(t *testing.T) {
	f := startBots(t)
	zak := f.get(t, "/zak?secret="+firstSecret)
	if issued := f.emu.Issued(zoomemu.EndpointZAK); zak.status != 200 || len(issued) != 1 || zak.body != issued[0] {
		t.Errorf("/zak: got %d %q, want 200 and the emulator's %v", zak.status, zak.body, issued)
	}
	if got := zak.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type: got %q", got)
	}
	jt := f.get(t, joinPath(secondSecret, "123456789"))
	if issued := f.emu.Issued(zoomemu.EndpointJoinToken); jt.status != 200 || len(issued) != 1 || jt.body != issued[0] {
		t.Errorf("/join-token: got %d %q, want 200 and the emulator's %v", jt.status, jt.body, issued)
	}
	// Join tokens are single-use: a second request gets a new one from Zoom.
	again := f.get(t, joinPath(firstSecret, "123456789"))
	if again.status != 200 || again.body == jt.body || f.emu.Calls(zoomemu.EndpointJoinToken) != 2 {
		t.Errorf("second join token: got %q after %q (%d Zoom calls)", again.body, jt.body, f.emu.Calls(zoomemu.EndpointJoinToken))
	}
}

func TestBotSecretIsCheckedBeforeAnything(t *testing.T) {
	f := startBots(t)
	for _, tt := range []struct{ name, path string }{
		{"missing", "/zak"},
		{"empty", "/zak?secret="},
		{"wrong", "/zak?secret=not-the-secret"},
		{"prefix of a real one", "/zak?secret=" + firstSecret[:len(firstSecret)-1]},
		{"real one with a suffix", "/zak?secret=" + firstSecret + "x"},
		{"both joined", "/zak?secret=" + url.QueryEscape(firstSecret+","+secondSecret)},
		{"join token, wrong secret", joinPath("nope", "123456789")},
		{"join token, wrong secret and bad meeting", joinPath("nope", "../../users/me")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := f.get(t, tt.path)
			if a.status != 401 || !strings.HasPrefix(a.body, "unauthorized") {
				t.Errorf("got %d %q, want 401 unauthorized", a.status, a.body)
			}
		})
	}
	if got := f.upstreamCalls(); got != 0 {
		t.Errorf("Zoom was called %d times for unauthorized requests", got)
	}
	for _, secret := range []string{firstSecret, secondSecret} {
		if a := f.get(t, "/zak?secret="+secret); a.status != 200 {
			t.Errorf("rotated secret %s: got %d", redactedPath(secret), a.status)
		}
	}
}

func TestJoinTokenParameters(t *testing.T) {
	f := startBots(t)
	for _, raw := range []string{"../../users/me", "%2e%2e%2f", "12a", "", "0", "1e9", "123_456"} {
		if a := f.get(t, "/join-token?secret="+firstSecret+"&meeting_id="+raw); a.status != 400 || a.body == "" {
			t.Errorf("meeting_id %q: got %d %q, want 400 with a reason", raw, a.status, a.body)
		}
	}
	if a := f.get(t, "/join-token?secret="+firstSecret); a.status != 400 {
		t.Errorf("no meeting_id: got %d, want 400", a.status)
	}
	if a := f.get(t, joinPath(firstSecret, "123456789", "type", "cloud_recording")); a.status != 400 {
		t.Errorf("bad type: got %d, want 400", a.status)
	}
	if got := f.upstreamCalls(); got != 0 {
		t.Fatalf("Zoom was called %d times for bad parameters", got)
	}

	for _, tt := range []struct {
		path, wantZoomPath string
	}{
		{joinPath(firstSecret, "123-456-789"), "/v2/meetings/123456789/jointoken/local_recording?"},
		{joinPath(firstSecret, "123 456 789"), "/v2/meetings/123456789/jointoken/local_recording?"},
		{joinPath(firstSecret, "123456789", "type", "live_streaming"), "/v2/meetings/123456789/jointoken/live_streaming?"},
		{joinPath(firstSecret, "123456789", "type", "local_archiving"), "/v2/meetings/123456789/jointoken/local_archiving?"},
		{joinPath(firstSecret, "123456789", "type", "local_recording", "bypass_waiting_room", "true"),
			"/v2/meetings/123456789/jointoken/local_recording?bypass_waiting_room=true"},
	} {
		a := f.get(t, tt.path)
		reqs := f.emu.Requests()
		last := reqs[len(reqs)-1]
		if a.status != 200 || last.Path+"?"+last.Query != tt.wantZoomPath {
			t.Errorf("%s: got %d, Zoom asked for %s?%s, want %s", redactedPath(tt.path), a.status, last.Path, last.Query, tt.wantZoomPath)
		}
	}
}

func TestBotUpstreamFailures(t *testing.T) {
	t.Parallel() // its own ports, database and configuration
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "http://" + ln.Addr().String()
	}()
	tests := []struct {
		name       string
		opt        botOption
		script     func(*zoomemu.Emulator)
		path       string
		wantStatus int
	}{
		{name: "unknown meeting", path: joinPath(firstSecret, "987654321"), wantStatus: 404},
		{name: "unknown ZAK user", path: "/zak?secret=" + firstSecret, wantStatus: 404,
			opt: func(env map[string]string, _ *zoomemu.Config) { env["ZOOM_ZAK_USER"] = "ghost@example.com" }},
		{name: "daily rate limit", path: "/zak?secret=" + firstSecret, wantStatus: 503,
			script: func(e *zoomemu.Emulator) {
				e.Script(zoomemu.EndpointZAK, zoomemu.RateLimitedDaily(time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339)))
			}},
		{name: "missing scope", path: joinPath(firstSecret, "123456789", "type", "live_streaming"), wantStatus: 502,
			opt: func(_ map[string]string, c *zoomemu.Config) {
				c.Apps[0].Scopes = []string{zoomemu.ScopeZAK, zoomemu.ScopeLocalRecordingToken}
			}},
		{name: "bad S2S credentials", path: "/zak?secret=" + firstSecret, wantStatus: 502,
			opt: func(env map[string]string, _ *zoomemu.Config) { env["ZOOM_CLIENT_SECRET"] = "wrong-client-secret" }},
		{name: "malformed answer", path: "/zak?secret=" + firstSecret, wantStatus: 502,
			script: func(e *zoomemu.Emulator) { e.Script(zoomemu.EndpointZAK, zoomemu.MalformedJSON()) }},
		{name: "empty token", path: joinPath(firstSecret, "123456789"), wantStatus: 502,
			script: func(e *zoomemu.Emulator) { e.Script(zoomemu.EndpointJoinToken, zoomemu.EmptyToken()) }},
		{name: "Zoom down", path: "/zak?secret=" + firstSecret, wantStatus: 503,
			opt: func(env map[string]string, _ *zoomemu.Config) { env["ZOOM_OAUTH_BASE_URL"] = closedPort }},
		{name: "Zoom hanging", path: joinPath(firstSecret, "123456789"), wantStatus: 503,
			script: func(e *zoomemu.Emulator) {
				for range 10 {
					e.Script(zoomemu.EndpointJoinToken, zoomemu.Hang())
				}
			}},
		{name: "Zoom failing", path: "/zak?secret=" + firstSecret, wantStatus: 503,
			script: func(e *zoomemu.Emulator) {
				for range 10 {
					e.Script(zoomemu.EndpointZAK, zoomemu.ServerError())
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []botOption
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			f := startBots(t, opts...)
			if tt.script != nil {
				tt.script(f.emu)
			}
			began := time.Now()
			a := f.get(t, tt.path)
			if a.status != tt.wantStatus {
				t.Fatalf("got %d %q, want %d", a.status, a.body, tt.wantStatus)
			}
			if a.body == "" || strings.HasPrefix(a.body, "emu_") {
				t.Errorf("error body %q", a.body)
			}
			if tt.wantStatus == 503 {
				if ra := a.header.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" {
					t.Errorf("Retry-After: got %q, want whole seconds", ra)
				}
				// ZOOM_TIMEOUT is the budget; a second of slack keeps a loaded machine from failing this.
				if took := time.Since(began); took > e2eZoomTimeout+time.Second {
					t.Errorf("answered after %v, budget %v", took, e2eZoomTimeout)
				}
			}
			if !strings.Contains(f.inst.stdout.String(), `"message":"zoom call failed"`) {
				t.Errorf("the failure was not logged")
			}
		})
	}
}

func TestDailyRateLimitRetryAfter(t *testing.T) {
	f := startBots(t)
	f.emu.Script(zoomemu.EndpointZAK, zoomemu.RateLimitedDaily(time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339)))
	a := f.get(t, "/zak?secret="+firstSecret)
	var seconds int
	fmt.Sscan(a.header.Get("Retry-After"), &seconds)
	if a.status != 503 || seconds < 7000 || seconds > 7201 {
		t.Errorf("got %d with Retry-After %q, want 503 and about 7200", a.status, a.header.Get("Retry-After"))
	}
	if got := f.emu.Calls(zoomemu.EndpointZAK); got != 1 {
		t.Errorf("Zoom ZAK calls: got %d, want 1 (a daily limit is not retried)", got)
	}
}

func TestColdZAKBurstMakesOneTokenRequest(t *testing.T) {
	f := startBots(t)
	f.emu.SetLatency(20 * time.Millisecond)
	const callers = 200
	var wg sync.WaitGroup
	answers := make([]answer, callers)
	for i := range callers {
		wg.Go(func() { answers[i] = f.get(t, "/zak?secret="+firstSecret) })
	}
	wg.Wait()
	issued := f.emu.Issued(zoomemu.EndpointZAK)
	for i, a := range answers {
		if a.status != 200 || !slices.Contains(issued, a.body) {
			t.Fatalf("caller %d: got %d %q", i, a.status, a.body)
		}
	}
	if got := f.emu.Calls(zoomemu.EndpointToken); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
}

func TestSIGTERMWhileZAKInFlight(t *testing.T) {
	f := startBots(t)
	f.emu.SetLatency(300 * time.Millisecond)
	got := make(chan answer, 1)
	go func() { got <- f.get(t, "/zak?secret="+firstSecret) }()
	// The request is inside the handler once the service has asked Zoom for a token.
	waitFor(t, func() bool { return f.emu.Calls(zoomemu.EndpointToken) > 0 })
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if issued := f.emu.Issued(zoomemu.EndpointZAK); a.status != 200 || len(issued) != 1 || a.body != issued[0] {
		t.Errorf("in-flight /zak: got %d %q, want 200 and the ZAK", a.status, a.body)
	}
	select {
	case err := <-f.inst.done:
		if err != nil {
			t.Errorf("run: got %v, want nil (exit 0)", err)
		}
		f.inst.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
	if !strings.Contains(f.inst.stdout.String(), "shutting down") {
		t.Errorf("no shutdown line")
	}
}

func TestUpstreamFailureLogLine(t *testing.T) {
	f := startBots(t, func(_ map[string]string, c *zoomemu.Config) {
		c.Apps[0].Scopes = []string{zoomemu.ScopeLocalRecordingToken}
	})
	a := f.get(t, "/zak?secret="+firstSecret)
	if a.status != 502 {
		t.Fatalf("got %d", a.status)
	}
	var line map[string]any
	for _, l := range strings.Split(f.inst.stdout.String(), "\n") {
		if strings.Contains(l, "zoom call failed") {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["level"] != "error" || line["zoom_code"] != float64(4711) || line["zoom_tracking_id"] == "" ||
		!strings.Contains(fmt.Sprint(line["zoom_message"]), zoomemu.ScopeZAK) || line["request_id"] != a.header.Get("X-Request-Id") {
		t.Errorf("failure line: %v", line)
	}
}
