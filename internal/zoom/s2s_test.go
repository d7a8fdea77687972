package zoom

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/crowd"
	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/pipenet"

	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	testAccount = "acct-1"
	testClient  = "client-1"
	testSecret  = "client-secret-1"
	testUser    = "bot@example.com"
	testMeeting = int64(85746065432)
)

// newClock is the clock shared by the client and the emulator.
func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
}

type fixture struct {
	emu    *zoomemu.Emulator
	url    string // where the emulator answers
	client *Client
	clock  *fakeclock.Clock
}

type option func(*zoomemu.Config, *Config)

// newFixture starts the emulator on loopback and a client pointed at it.
func newFixture(tb testing.TB, opts ...option) *fixture {
	tb.Helper()
	return startFixture(tb, func(h http.Handler) (string, *http.Client) {
		srv := httptest.NewServer(h)
		tb.Cleanup(srv.Close)
		return srv.URL, nil
	}, opts...)
}

// newBubbleFixture is newFixture on an in-memory network, for a test inside synctest.Test: its
// backoffs, rate-limit waits and timeouts then take no real time, and are exact.
func newBubbleFixture(tb testing.TB, opts ...option) *fixture {
	tb.Helper()
	return startFixture(tb, func(h http.Handler) (string, *http.Client) {
		url, transport := pipenet.Serve(tb, h)
		return url, &http.Client{Transport: transport}
	}, opts...)
}

// startFixture serves the emulator with serve, which returns its URL and, when it needs one,
// the HTTP client that reaches it.
func startFixture(tb testing.TB, serve func(http.Handler) (string, *http.Client), opts ...option) *fixture {
	tb.Helper()
	clk := newClock()
	ecfg := zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: testAccount, ClientID: testClient, ClientSecret: testSecret}},
		Users:    []zoomemu.User{{ID: "u-1", Email: testUser}},
		Meetings: []int64{testMeeting},
		Now:      clk.Now,
	}
	ccfg := Config{AccountID: testAccount, ClientID: testClient, ClientSecret: testSecret, Now: clk.Now,
		Budget: 3 * time.Second, AttemptTimeout: time.Second}
	for _, o := range opts {
		o(&ecfg, &ccfg)
	}
	emu := zoomemu.New(ecfg)
	url, client := serve(emu)
	tb.Cleanup(emu.Close)
	if client != nil {
		client.Timeout = ccfg.AttemptTimeout
		ccfg.HTTPClient = client
	}
	if ccfg.OAuthBaseURL == "" {
		ccfg.OAuthBaseURL = url
	}
	if ccfg.APIBaseURL == "" {
		ccfg.APIBaseURL = url
	}
	return &fixture{emu: emu, url: url, client: New(ccfg), clock: clk}
}

func wantKind(tb testing.TB, err error, want Kind) *Error {
	tb.Helper()
	var zerr *Error
	if !errors.As(err, &zerr) {
		tb.Fatalf("got %v, want a *zoom.Error of kind %v", err, want)
	}
	if zerr.Kind != want {
		tb.Fatalf("kind: got %v, want %v (%v)", zerr.Kind, want, zerr)
	}
	return zerr
}

func TestZAKAndJoinTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	zak, err := f.client.ZAK(ctx, testUser, 0)
	if err != nil {
		t.Fatal(err)
	}
	if issued := f.emu.Issued(zoomemu.EndpointZAK); len(issued) != 1 || zak != issued[0] {
		t.Errorf("zak: got %q, emulator issued %v", zak, issued)
	}
	for _, kind := range []JoinTokenKind{LocalRecording, LiveStreaming, LocalArchiving} {
		tok, err := f.client.JoinToken(ctx, testMeeting, kind, kind == LocalRecording)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		issued := f.emu.Issued(zoomemu.EndpointJoinToken)
		if tok != issued[len(issued)-1] {
			t.Errorf("%s: got %q, want the emulator's %q", kind, tok, issued[len(issued)-1])
		}
	}
	var paths []string
	for _, c := range f.emu.Requests() {
		if c.Endpoint != zoomemu.EndpointToken {
			paths = append(paths, c.Path+"?"+c.Query)
		}
	}
	want := []string{
		"/v2/users/bot@example.com/token?type=zak",
		"/v2/meetings/85746065432/jointoken/local_recording?bypass_waiting_room=true",
		"/v2/meetings/85746065432/jointoken/live_streaming?",
		"/v2/meetings/85746065432/jointoken/local_archiving?",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("paths:\ngot  %v\nwant %v", paths, want)
	}
	if got := f.emu.Calls(zoomemu.EndpointToken); got != 1 {
		t.Errorf("token requests: got %d, want 1 (cached)", got)
	}
}

func TestZAKTTLIsSentInSeconds(t *testing.T) {
	f := newFixture(t)
	if _, err := f.client.ZAK(context.Background(), "u-1", 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	reqs := f.emu.Requests()
	if got := reqs[len(reqs)-1].Query; got != "ttl=5400&type=zak" {
		t.Errorf("query: got %q", got)
	}
}

func TestTokenRequestWireFormat(t *testing.T) {
	f := newFixture(t)
	if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
		t.Fatal(err)
	}
	call := f.emu.Requests()[0]
	if call.Endpoint != zoomemu.EndpointToken || call.Method != http.MethodPost {
		t.Fatalf("first call: got %+v", call)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClient+":"+testSecret))
	if got := call.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization: got %q, want %q", got, wantAuth)
	}
	if got := call.Form["grant_type"]; len(got) != 1 || got[0] != "account_credentials" {
		t.Errorf("grant_type: got %v", got)
	}
	if got := call.Form["account_id"]; len(got) != 1 || got[0] != testAccount {
		t.Errorf("account_id: got %v", got)
	}
	for k, vs := range call.Form {
		for _, v := range vs {
			if strings.Contains(v, testSecret) {
				t.Errorf("the client secret is in the body field %s", k)
			}
		}
	}
	if call.Query != "" {
		t.Errorf("token request has a query: %q", call.Query)
	}
}

func TestUserIsPathEscaped(t *testing.T) {
	f := newFixture(t)
	_, err := f.client.ZAK(context.Background(), "../../users/me", 0)
	wantKind(t, err, KindNotFound)
	reqs := f.emu.Requests()
	if got := reqs[len(reqs)-1].Path; got != "/v2/users/../../users/me/token" {
		t.Errorf("decoded path at the emulator: got %q", got)
	}
	if f.emu.Calls(zoomemu.EndpointZAK) != 1 {
		t.Errorf("the escaped user did not reach the ZAK endpoint")
	}
}

func TestColdBurstMakesOneTokenRequest(t *testing.T) {
	f := newFixture(t, func(e *zoomemu.Config, c *Config) { c.Budget = 20 * time.Second; c.AttemptTimeout = 10 * time.Second })
	f.emu.SetLatency(20 * time.Millisecond) // keep the fetch in flight while the burst piles up
	const callers = 1000
	ok := crowd.Count(callers, func() bool {
		_, err := f.client.ZAK(context.Background(), testUser, 0)
		return err == nil
	})
	if ok != callers {
		t.Errorf("%d callers failed", callers-ok)
	}
	if got := f.emu.Calls(zoomemu.EndpointToken); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
}

func TestRefreshMarginBoundary(t *testing.T) {
	// One-hour tokens: the margin is max(60 s, 10 %) = 6 min, so the token is replaced 54 min in.
	refreshAt := 54 * time.Minute
	tests := []struct {
		name       string
		after      time.Duration
		wantTokens int
	}{
		{"one tick before the margin", refreshAt - time.Nanosecond, 1},
		{"exactly at the margin", refreshAt, 2},
		{"one tick after the margin", refreshAt + time.Nanosecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			start := f.clock.Now()
			if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
				t.Fatal(err)
			}
			f.clock.Set(start.Add(tt.after))
			if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
				t.Fatal(err)
			}
			if got := f.emu.Calls(zoomemu.EndpointToken); got != tt.wantTokens {
				t.Errorf("token requests: got %d, want %d", got, tt.wantTokens)
			}
		})
	}
}

func TestRefreshMargin(t *testing.T) {
	tests := []struct{ lifetime, want time.Duration }{
		{time.Hour, 6 * time.Minute},
		{10 * time.Minute, time.Minute},
		{30 * time.Second, 15 * time.Second},
		{24 * time.Hour, 144 * time.Minute},
	}
	for _, tt := range tests {
		if got := refreshMargin(tt.lifetime); got != tt.want {
			t.Errorf("refreshMargin(%v): got %v, want %v", tt.lifetime, got, tt.want)
		}
	}
}

func TestFailedRefreshFallsBackToUnexpiredToken(t *testing.T) {
	f := newFixture(t)
	start := f.clock.Now()
	first, err := f.client.ZAK(context.Background(), testUser, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = first
	f.clock.Set(start.Add(55 * time.Minute)) // due for refresh, not expired
	f.emu.Script(zoomemu.EndpointToken, zoomemu.Status(401, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`))
	if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
		t.Errorf("refresh failed before expiry: got %v, want the old token to serve", err)
	}
	f.clock.Set(start.Add(61 * time.Minute)) // expired: nothing to fall back on
	f.emu.Script(zoomemu.EndpointToken, zoomemu.Status(401, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`))
	_, err = f.client.ZAK(context.Background(), testUser, 0)
	wantKind(t, err, KindRefused)
}

func TestRevokedTokenIsReplacedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.client.ZAK(ctx, testUser, 0); err != nil {
		t.Fatal(err)
	}
	f.emu.RevokeAll()
	if _, err := f.client.ZAK(ctx, testUser, 0); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if got := f.emu.Calls(zoomemu.EndpointToken); got != 2 {
		t.Errorf("token requests: got %d, want 2", got)
	}
	if got := f.emu.Calls(zoomemu.EndpointZAK); got != 3 {
		t.Errorf("zak requests: got %d, want 3 (ok, 401, ok)", got)
	}
}

func TestPersistent401IsRefusedAfterOneRetry(t *testing.T) {
	f := newFixture(t)
	f.emu.Script(zoomemu.EndpointZAK, zoomemu.InvalidAccessToken(), zoomemu.InvalidAccessToken(), zoomemu.InvalidAccessToken())
	_, err := f.client.ZAK(context.Background(), testUser, 0)
	zerr := wantKind(t, err, KindRefused)
	if zerr.Code != 124 || zerr.Status != 401 {
		t.Errorf("got %v", zerr)
	}
	if got := f.emu.Calls(zoomemu.EndpointZAK); got != 2 {
		t.Errorf("zak requests: got %d, want 2", got)
	}
}

func TestPerSecondRateLimitWaitsAndSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.RateLimitedPerSecond("1"))
		start := time.Now()
		if _, err := f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, before the advertised Retry-After of 1s", waited)
		}
		if got := f.emu.Calls(zoomemu.EndpointJoinToken); got != 2 {
			t.Errorf("join token requests: got %d, want 2", got)
		}
	})
}

func TestPerSecondRateLimitBeyondBudgetFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		f.emu.Script(zoomemu.EndpointZAK, zoomemu.RateLimitedPerSecond("30"))
		_, err := f.client.ZAK(context.Background(), testUser, 0)
		zerr := wantKind(t, err, KindUnavailable)
		if zerr.RetryAfter != 30*time.Second || zerr.RateLimitType != "QPS" {
			t.Errorf("got %+v", zerr)
		}
		if got := f.emu.Calls(zoomemu.EndpointZAK); got != 1 {
			t.Errorf("zak requests: got %d, want 1", got)
		}
	})
}

func TestDailyRateLimitIsFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		resetAt := f.clock.Now().Add(3 * time.Hour).Format(time.RFC3339)
		f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.RateLimitedDaily(resetAt))
		_, err := f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false)
		zerr := wantKind(t, err, KindUnavailable)
		if zerr.RateLimitType != "Daily-limit" || zerr.RetryAfter != 3*time.Hour {
			t.Errorf("got type %q retry after %v, want Daily-limit and 3h", zerr.RateLimitType, zerr.RetryAfter)
		}
		if got := f.emu.Calls(zoomemu.EndpointJoinToken); got != 1 {
			t.Errorf("join token requests: got %d, want 1 (no retry)", got)
		}
	})
}

func TestEmulatorRateLimitIsHonoured(t *testing.T) {
	f := newFixture(t, func(e *zoomemu.Config, c *Config) { e.DailyLimit = 2 })
	ctx := context.Background()
	for range 2 {
		if _, err := f.client.ZAK(ctx, testUser, 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.client.ZAK(ctx, testUser, 0)
	zerr := wantKind(t, err, KindUnavailable)
	if zerr.RateLimitType != "Daily-limit" || zerr.RetryAfter != 12*time.Hour {
		t.Errorf("got %+v, want a daily limit lifting at midnight UTC (12h)", zerr)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		f.emu.Script(zoomemu.EndpointZAK, zoomemu.ServerError(), zoomemu.ServerError())
		if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
			t.Fatal(err)
		}
		if got := f.emu.Calls(zoomemu.EndpointZAK); got != 3 {
			t.Errorf("zak requests: got %d, want 3", got)
		}
	})
}

func TestConnectionResetIsRetried(t *testing.T) {
	f := newFixture(t)
	f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.ConnectionReset())
	if _, err := f.client.JoinToken(context.Background(), testMeeting, LiveStreaming, false); err != nil {
		t.Fatal(err)
	}
	if got := f.emu.Calls(zoomemu.EndpointJoinToken); got != 2 {
		t.Errorf("join token requests: got %d, want 2", got)
	}
}

func TestPersistentServerErrorsAreUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		for range 10 {
			f.emu.Script(zoomemu.EndpointZAK, zoomemu.ServerError())
		}
		_, err := f.client.ZAK(context.Background(), testUser, 0)
		zerr := wantKind(t, err, KindUnavailable)
		if zerr.Status != 500 {
			t.Errorf("status: got %d", zerr.Status)
		}
		if got := f.emu.Calls(zoomemu.EndpointZAK); got != DefaultMaxAttempts {
			t.Errorf("zak requests: got %d, want %d", got, DefaultMaxAttempts)
		}
	})
}

func TestHangFailsWithinTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t, func(e *zoomemu.Config, c *Config) {
			c.Budget = 600 * time.Millisecond
			c.AttemptTimeout = 200 * time.Millisecond
		})
		for range 10 {
			f.emu.Script(zoomemu.EndpointZAK, zoomemu.Hang())
		}
		start := time.Now()
		_, err := f.client.ZAK(context.Background(), testUser, 0)
		zerr := wantKind(t, err, KindUnavailable)
		if zerr.Message != "timed out" {
			t.Errorf("message: got %q", zerr.Message)
		}
		if took := time.Since(start); took > 600*time.Millisecond {
			t.Errorf("took %v, budget 600ms", took)
		}
		if got := f.emu.Calls(zoomemu.EndpointZAK); got < 2 {
			t.Errorf("zak requests: got %d, want the hung attempt retried", got)
		}
	})
}

func TestMissingScopeIsRefusedWithoutRetry(t *testing.T) {
	f := newFixture(t, func(e *zoomemu.Config, c *Config) {
		e.Apps[0].Scopes = []string{zoomemu.ScopeLocalRecordingToken}
	})
	_, err := f.client.ZAK(context.Background(), testUser, 0)
	zerr := wantKind(t, err, KindRefused)
	if zerr.Code != 4711 || !strings.Contains(zerr.Message, zoomemu.ScopeZAK) || zerr.TrackingID == "" {
		t.Errorf("got %+v, want code 4711 naming %s with a tracking id", zerr, zoomemu.ScopeZAK)
	}
	if got := f.emu.Calls(zoomemu.EndpointZAK); got != 1 {
		t.Errorf("zak requests: got %d, want 1", got)
	}
}

func TestBadCredentialsAreRefusedWithoutRetry(t *testing.T) {
	f := newFixture(t, func(e *zoomemu.Config, c *Config) { c.ClientSecret = "wrong" })
	_, err := f.client.ZAK(context.Background(), testUser, 0)
	zerr := wantKind(t, err, KindRefused)
	if zerr.OAuthError != "invalid_client" || zerr.Op != opAccessToken.name {
		t.Errorf("got %+v", zerr)
	}
	if got := f.emu.Calls(zoomemu.EndpointToken); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error quotes the secret: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	_, err := f.client.ZAK(context.Background(), "nobody@example.com", 0)
	if zerr := wantKind(t, err, KindNotFound); zerr.Code != 1001 {
		t.Errorf("code: got %d", zerr.Code)
	}
	_, err = f.client.JoinToken(context.Background(), 1234567890, LocalRecording, false)
	if zerr := wantKind(t, err, KindNotFound); zerr.Code != 3001 {
		t.Errorf("code: got %d", zerr.Code)
	}
	f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.Status(400, `{"code":3000,"message":"Local recording is disabled."}`))
	_, err = f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false)
	wantKind(t, err, KindNotFound)
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name     string
		endpoint zoomemu.Endpoint
		fault    zoomemu.Fault
	}{
		{"REST body not JSON", zoomemu.EndpointZAK, zoomemu.MalformedJSON()},
		{"REST empty token", zoomemu.EndpointZAK, zoomemu.EmptyToken()},
		{"token body not JSON", zoomemu.EndpointToken, zoomemu.MalformedJSON()},
		{"token endpoint empty access_token", zoomemu.EndpointToken, zoomemu.EmptyToken()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.Script(tt.endpoint, tt.fault)
			token, err := f.client.ZAK(context.Background(), testUser, 0)
			wantKind(t, err, KindRefused)
			if token != "" {
				t.Errorf("got token %q with an error", token)
			}
			if got := f.emu.Calls(tt.endpoint); got != 1 {
				t.Errorf("requests: got %d, want 1", got)
			}
		})
	}
}

func TestCancelledCallerDoesNotCancelSharedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFixture(t)
		f.emu.SetLatency(300 * time.Millisecond)
		impatient, cancel := context.WithCancel(context.Background())
		impatientDone := make(chan error, 1)
		go func() {
			_, err := f.client.ZAK(impatient, testUser, 0)
			impatientDone <- err
		}()
		// The impatient caller starts the shared token fetch, the patient one joins it, and then
		// the impatient one gives up.
		synctest.Wait()
		patientDone := make(chan error, 1)
		go func() {
			_, err := f.client.ZAK(context.Background(), testUser, 0)
			patientDone <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-impatientDone; KindOf(err) != KindUnavailable || !errors.Is(err, context.Canceled) {
			t.Errorf("impatient caller: got %v, want unavailable after cancel", err)
		}
		if err := <-patientDone; err != nil {
			t.Errorf("patient caller: got %v, want a ZAK", err)
		}
		if got := f.emu.Calls(zoomemu.EndpointToken); got != 1 {
			t.Errorf("token requests: got %d, want 1", got)
		}
	})
}

func TestAPIURLFromTokenOnlyWhenBaseUnset(t *testing.T) {
	var apiHits atomic.Int64
	var emuRef *zoomemu.Emulator
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		emuRef.ServeHTTP(w, r)
	}))
	defer api.Close()

	t.Run("unset: api_url is used", func(t *testing.T) {
		apiHits.Store(0)
		f := newFixture(t, func(e *zoomemu.Config, c *Config) { e.APIURL = api.URL })
		// The fixture pointed APIBaseURL at the emulator; clear it so api_url decides.
		f.client = New(Config{AccountID: testAccount, ClientID: testClient, ClientSecret: testSecret, OAuthBaseURL: f.url})
		emuRef = f.emu
		if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
			t.Fatal(err)
		}
		if apiHits.Load() != 1 {
			t.Errorf("api_url server hits: got %d, want 1", apiHits.Load())
		}
	})
	t.Run("set: api_url is ignored", func(t *testing.T) {
		apiHits.Store(0)
		f := newFixture(t, func(e *zoomemu.Config, c *Config) { e.APIURL = api.URL })
		emuRef = f.emu
		if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
			t.Fatal(err)
		}
		if apiHits.Load() != 0 {
			t.Errorf("api_url server hits: got %d, want 0", apiHits.Load())
		}
	})
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"Mon, 23 Nov 2026 12:00:10 GMT", 10 * time.Second},
		{"2026-11-23T13:00:00Z", time.Hour},
		{"2026-11-23T13:00:00.000Z", time.Hour},
		{"2026-11-23T14:00:00+01:00", time.Hour},
		{"2026-11-23T12:30:00", 30 * time.Minute},
		{"2026-11-23T11:00:00Z", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.value, now); got != tt.want {
			t.Errorf("retryAfter(%q): got %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestErrorTextCarriesNoToken(t *testing.T) {
	f := newFixture(t)
	if _, err := f.client.ZAK(context.Background(), testUser, 0); err != nil {
		t.Fatal(err)
	}
	f.emu.Script(zoomemu.EndpointZAK, zoomemu.InvalidAccessToken(), zoomemu.InvalidAccessToken())
	_, err := f.client.ZAK(context.Background(), testUser, 0)
	for _, tok := range append(f.emu.Issued(zoomemu.EndpointToken), f.emu.Issued(zoomemu.EndpointZAK)...) {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error text contains a token: %v", err)
		}
	}
}

func BenchmarkZAKWarmCache(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.client.ZAK(ctx, testUser, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.client.ZAK(ctx, testUser, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// The scopes the client documents are the ones Zoom (as the emulator encodes it) checks.
func TestScopesMatchZoom(t *testing.T) {
	want := map[JoinTokenKind]string{
		LocalRecording: zoomemu.ScopeLocalRecordingToken,
		LiveStreaming:  zoomemu.ScopeLiveStreamingToken,
		LocalArchiving: zoomemu.ScopeLocalArchivingToken,
	}
	for _, k := range JoinTokenKinds() {
		if k.Scope() != want[k] {
			t.Errorf("%s: got %s, want %s", k, k.Scope(), want[k])
		}
	}
	if ScopeZAK != zoomemu.ScopeZAK {
		t.Errorf("ZAK scope: got %s, want %s", ScopeZAK, zoomemu.ScopeZAK)
	}
}

// TestRetryingReportsEveryAttemptButTheLast checks the hook the service logs retries with (at
// debug): each failed attempt that is tried again is reported with its number and wait, and the
// final failure, which the caller reports, never is.
func TestRetryingReportsEveryAttemptButTheLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type retry struct {
			status, attempt int
			waited          bool
		}
		var mu sync.Mutex
		var retries []retry
		f := newBubbleFixture(t, func(_ *zoomemu.Config, c *Config) {
			c.Hooks.Retrying = func(err *Error, attempt int, wait time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				retries = append(retries, retry{err.Status, attempt, wait > 0})
			}
		})
		for range 10 {
			f.emu.Script(zoomemu.EndpointZAK, zoomemu.ServerError())
		}
		_, err := f.client.ZAK(context.Background(), testUser, 0)
		wantKind(t, err, KindUnavailable)
		reported := func() []retry {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(retries)
		}
		var want []retry
		for attempt := 1; attempt < DefaultMaxAttempts; attempt++ {
			want = append(want, retry{500, attempt, true})
		}
		if got := reported(); !slices.Equal(got, want) {
			t.Errorf("retries reported: got %v, want %v", got, want)
		}

		mu.Lock()
		retries = nil
		mu.Unlock()
		f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.RateLimitedPerSecond("1"))
		if _, err := f.client.JoinToken(context.Background(), testMeeting, LiveStreaming, false); err != nil {
			t.Fatal(err)
		}
		if got, want := reported(), []retry{{429, 1, true}}; !slices.Equal(got, want) {
			t.Errorf("a per-second limit then success: got %v, want %v", got, want)
		}
	})
}

// A token answer is bounded far below a listing page: 70 KiB for a ZAK is Zoom being wrong, and
// is refused with a reason rather than read as broken JSON. (The emulator never answers so; a
// proxy in front of it does.)
func TestAnOversizedTokenAnswerIsRefused(t *testing.T) {
	f := newFixture(t, func(*zoomemu.Config, *Config) {})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") && r.URL.Path != "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token":"`+strings.Repeat("a", 70<<10)+`"}`)
			return
		}
		f.emu.ServeHTTP(w, r)
	}))
	defer api.Close()
	client := New(Config{AccountID: testAccount, ClientID: testClient, ClientSecret: testSecret, OAuthBaseURL: api.URL, APIBaseURL: api.URL})
	_, err := client.ZAK(context.Background(), testUser, 0)
	var zerr *Error
	if !errors.As(err, &zerr) || zerr.Kind != KindRefused || !strings.Contains(zerr.Message, "larger than 64 KiB") {
		t.Errorf("got %v", err)
	}
}
