package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/events"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/postgres/pgtest"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/seal/sealtest"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/vend/vendtest"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	secret       = "rtms-callback-secret-0123"
	adminToken   = "rtms-admin-token-0123456"
	webhookToken = "rtms-webhook-secret-token"
	meeting      = 81112223333
	// The RTMS app is the connected-accounts app, as RTMS.md's default has it.
	clientID, clientSecret = "oauth-client", "oauth-secret"
)

// replica is one zoomtoken, in process: its own store handle (as another process has), Manager
// and RTMS service, on the database it shares with the others.
type replica struct {
	url     string
	streams *rtms.Service
}

func streams(r *replica) *rtms.Service { return r.streams }

// startReplica serves the whole connected-accounts and RTMS side of zoomtoken against the
// emulator, on store.
func startReplica(tb testing.TB, store *sqlstore.DB, emuURL string, ring []byte) *replica {
	tb.Helper()
	var handler atomic.Pointer[http.Handler]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	tb.Cleanup(front.Close)
	accounts := vendtest.Connected(tb, store.Connections(), emuURL, front.URL+"/oauth/callback", vendtest.Config{Key: ring})
	keyring := accounts.Ring
	streams := rtms.NewService(rtms.Config{Store: store.Streams(),
		Sign: func(id, stream string) string { return zoom.RTMSSignature(clientID, clientSecret, id, stream) }})
	h := httpapi.NewHandler(httpapi.Deps{
		Logger: zerolog.Nop(),
		App: vend.App{Connected: accounts.Connected, RTMS: streams, RTMSClientID: clientID,
			WebhookTokens: []string{webhookToken}},
		ConnectFlow:     &httpapi.ConnectFlow{Links: connectlink.NewSigner(front.URL, [][]byte{ring}, time.Now), Cookies: keyring, Now: time.Now},
		CallbackSecrets: []string{secret},
		AdminTokens:     []string{adminToken},
	})
	handler.Store(&h)
	return &replica{url: front.URL, streams: streams}
}

// The whole flow, with a worker that holds no Client Secret: the operator starts the stream
// through replica B, Zoom's webhook reaches replica A, the dispatcher gets rtms.started, the
// worker asks B, joins the emulator's per-kind sockets with the vended signature and gets the
// transcript; Zoom moves the stream (failover) and the worker carries on on the new server with
// one rtms.moved and no second rtms.started; a stop through A ends the worker with its reason and
// makes the stream answer 410. On SQLite and on PostgreSQL, each with two replicas.
func TestAWorkerWithoutTheSecretFollowsAFailover(t *testing.T) {
	for _, backend := range []struct {
		name string
		open func(tb testing.TB) (*sqlstore.DB, *sqlstore.DB)
	}{
		{"SQLite", func(tb testing.TB) (*sqlstore.DB, *sqlstore.DB) {
			path := filepath.Join(tb.TempDir(), "zt.db")
			return openStore(tb, func() (*sqlstore.DB, error) { return sqlite.Open(context.Background(), path, sqlstore.Options{}) }),
				openStore(tb, func() (*sqlstore.DB, error) { return sqlite.Open(context.Background(), path, sqlstore.Options{}) })
		}},
		{"PostgreSQL", func(tb testing.TB) (*sqlstore.DB, *sqlstore.DB) {
			url := pgtest.NewDatabase(tb)
			return openStore(tb, func() (*sqlstore.DB, error) { return postgres.Open(context.Background(), url, sqlstore.Options{}) }),
				openStore(tb, func() (*sqlstore.DB, error) { return postgres.Open(context.Background(), url, sqlstore.Options{}) })
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			storeA, storeB := backend.open(t)
			testWorkerFlow(t, storeA, storeB)
		})
	}
}

// stack is zoomtoken's replicas (on the stores given) with the emulator behind them, Alice
// connected, and her meeting's stream started through the last replica.
type stack struct {
	emu      *zoomemu.Emulator
	replicas []*replica
	stores   []*sqlstore.DB
	stream   string
	// gate, when set, refuses the emulator's RTMS sockets whose path contains it, as a network
	// that is down does.
	gate atomic.Value
}

func newStack(t *testing.T, rtmsCfg zoomemu.RTMS, stores ...*sqlstore.DB) *stack {
	t.Helper()
	ctx := t.Context()
	st := &stack{stores: stores}
	st.gate.Store("")
	var webhookURL atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Zoom's webhook reaches replica A, whichever replica asked for the start.
		proxyTo(w, r, webhookURL.Load().(string)+"/webhooks/zoom")
	}))
	t.Cleanup(hook.Close)
	rtmsCfg.ClientID, rtmsCfg.ClientSecret, rtmsCfg.WebhookURL = clientID, clientSecret, hook.URL
	if rtmsCfg.KeepAlive == 0 {
		rtmsCfg.KeepAlive = 10 * time.Millisecond
	}
	st.emu = zoomemu.New(zoomemu.Config{
		OAuthApp:           &zoomemu.OAuthApp{ClientID: clientID, ClientSecret: clientSecret},
		Users:              []zoomemu.User{{ID: "alice-id", Email: "alice@example.com", AccountID: "acct", PMI: meeting}},
		WebhookSecretToken: webhookToken,
		RTMS:               &rtmsCfg,
	})
	emuSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate := st.gate.Load().(string); gate != "" && strings.HasPrefix(r.URL.Path, "/rtms/") && strings.Contains(r.URL.Path, gate) {
			http.Error(w, "unreachable", http.StatusServiceUnavailable)
			return
		}
		st.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { st.emu.Close(); emuSrv.Close(); st.emu.WaitWebhooks() })
	key, _ := sealtest.Key(t)
	for _, store := range stores {
		st.replicas = append(st.replicas, startReplica(t, store, emuSrv.URL, key))
	}
	webhookURL.Store(st.replicas[0].url)

	// Alice connected once; her personal meeting is in the meeting map.
	access, refresh, expires, _ := st.emu.IssueTokens("alice-id")
	keyring, _ := seal.NewKeyring(key)
	m := connections.NewManager(connections.ManagerConfig{Store: stores[0].Connections(), Vault: connections.NewVault(keyring)})
	if _, _, err := m.Connect(ctx, connections.Connection{ZoomUserID: "alice-id", ZoomAccountID: "acct", Email: "alice@example.com"},
		connections.Tokens{Access: access, Refresh: refresh, AccessExpiresAt: expires}, meeting); err != nil {
		t.Fatal(err)
	}
	last := st.replicas[len(st.replicas)-1]
	status, body := adminPost(t, last.url+"/admin/rtms/start", `{"meeting_id":"811 1222 3333"}`)
	if status != http.StatusAccepted || !strings.Contains(body, `"via":"connection"`) {
		t.Fatalf("start: %d %s", status, body)
	}
	st.emu.WaitWebhooks()
	st.stream = st.emu.RTMSStream(meeting)
	return st
}

// worker is a Worker on the stack's last replica, with short windows and backoff, whose media
// and log lines land on channels.
func (st *stack) worker(kinds int) (*Worker, chan Media, *logLines) {
	media := make(chan Media, 64)
	logs := &logLines{}
	return &Worker{Service: st.replicas[len(st.replicas)-1].url, Secret: secret, StreamID: st.stream, Kinds: kinds,
		Backoff: 20 * time.Millisecond, SignalingWindow: 2 * time.Second, MediaWindow: 2 * time.Second,
		OnMedia: func(m Media) { media <- m }, Logf: logs.add}, media, logs
}

// logLines keeps a worker's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// begin starts the worker; the channel gets how it ended.
func begin(ctx context.Context, w *Worker) chan result {
	done := make(chan result, 1)
	go func() {
		ended, err := w.Run(ctx)
		done <- result{ended, err}
	}()
	return done
}

type result struct {
	ended Ended
	err   error
}

// received keeps every media message a worker got, by kind.
type received map[string][]string

// expect reads media until the worker got at least n messages of kind in all, and returns them.
func expect(t *testing.T, got received, media chan Media, done chan result, kind string, n int) []string {
	t.Helper()
	for len(got[kind]) < n {
		select {
		case m := <-media:
			got[m.Kind] = append(got[m.Kind], m.Data)
		case r := <-done:
			t.Fatalf("the worker left after %v: %+v", got, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d %s messages of %d", len(got[kind]), kind, n)
		}
	}
	return got[kind]
}

// inOrder reports whether got is lines in order, none twice, ending with the last: a message in
// flight when a socket drops is lost (as with Zoom), but none is repeated or reordered, and the
// worker was there to the end.
func inOrder(got, lines []string) bool {
	i := 0
	for _, line := range got {
		for i < len(lines) && lines[i] != line {
			i++
		}
		if i == len(lines) {
			return false
		}
		i++
	}
	return len(got) > 0 && got[len(got)-1] == lines[len(lines)-1]
}

func testWorkerFlow(t *testing.T, storeA, storeB *sqlstore.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines := []string{"one", "two", "three", "four", "five"}
	st := newStack(t, zoomemu.RTMS{Transcripts: lines}, storeA, storeB)
	a, b := st.replicas[0], st.replicas[1]
	w, media, logs := st.worker(1 | 8)
	s, err := w.Fetch(ctx)
	if err != nil || s.State != "started" || s.RTMSStreamID != st.stream || len(s.Signature) != 64 || s.MeetingID != "81112223333" ||
		s.Reconnect.SignalingSeconds != 60 || s.Reconnect.MediaSeconds != 30 {
		t.Fatalf("the stream, from the replica the webhook did not reach: %+v %v", s, err)
	}
	signature := get(t, a.url+"/rtms/signature?secret="+secret+"&rtms_stream_id="+st.stream)
	if signature != s.Signature {
		t.Errorf("/rtms/signature %q, /rtms/stream %q", signature, s.Signature)
	}

	// The operator's dispatcher gets rtms.started, signed the Standard Webhooks way, with all a
	// worker's join() needs: the same stream, signature included (added as it is sent; the
	// outbox holds none).
	if got := dispatch(t, ctx, storeB, streams(b)); len(got) != 1 || got[0].Type != "rtms.started" || got[0].Data != s {
		t.Errorf("rtms events: %+v, want rtms.started with the data %+v", got, s)
	}

	done := begin(ctx, w)
	got := received{}
	expect(t, got, media, done, "transcript", 2)
	expect(t, got, media, done, "audio", 1)

	// Zoom moves the stream: the worker follows to the new server and carries on to the end.
	if err := st.emu.FailoverRTMS(st.stream); err != nil {
		t.Fatal(err)
	}
	before := len(got["transcript"])
	for !slices.Contains(got["transcript"], lines[len(lines)-1]) {
		expect(t, got, media, done, "transcript", len(got["transcript"])+1)
	}
	if !inOrder(got["transcript"], lines) || len(got["transcript"]) == before {
		t.Errorf("transcript %v, want %v in order, some after the move", got["transcript"], lines)
	}
	moved, err := w.Fetch(ctx)
	if err != nil || moved.ServerURLs == s.ServerURLs || moved.Signature != s.Signature {
		t.Errorf("after the move: %+v %v", moved, err)
	}
	if !strings.Contains(logs.String(), "the stream moved to "+moved.ServerURLs) {
		t.Errorf("the worker's log: %s", logs)
	}
	st.emu.WaitWebhooks()
	if got := dispatch(t, ctx, storeB, streams(b)); len(got) != 1 || got[0].Type != "rtms.moved" || got[0].Data.ServerURLs != moved.ServerURLs ||
		got[0].Data.Signature != s.Signature {
		t.Errorf("rtms events after the move: %+v, want one rtms.moved with the new server", got)
	}

	if status, body := adminPost(t, a.url+"/admin/rtms/stop", `{"meeting_id":"81112223333","user":"alice@example.com"}`); status != http.StatusAccepted {
		t.Fatalf("stop: %d %s", status, body)
	}
	select {
	case r := <-done:
		if r.err != nil || r.ended.StopReason != 25 || r.ended.Restartable {
			t.Errorf("the worker, at the stop: %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("the worker did not stop")
	}
	st.emu.WaitWebhooks()
	if _, err := w.Fetch(ctx); !errors.As(err, new(*errStopped)) {
		t.Errorf("a stopped stream: %v, want 410", err)
	}
	if got := dispatch(t, ctx, storeB, streams(b)); len(got) != 1 || got[0].Type != "rtms.stopped" || got[0].Data.Signature != "" {
		t.Errorf("rtms events after the stop: %+v", got)
	}
	if _, refused, _ := st.emu.RTMSStats(); refused != 0 {
		t.Errorf("%d handshakes refused for their signature", refused)
	}
}

// The worker survives a signaling interruption and a media interruption inside the windows, and
// carries on where it left.
func TestAWorkerSurvivesInterruptions(t *testing.T) {
	lines := []string{"one", "two", "three", "four", "five", "six"}
	st := newStack(t, zoomemu.RTMS{Transcripts: lines}, openSQLite(t))
	w, media, logs := st.worker(8)
	done := begin(t.Context(), w)
	got := received{}
	expect(t, got, media, done, "transcript", 2)
	if err := st.emu.InterruptRTMS(st.stream, "signaling"); err != nil {
		t.Fatal(err)
	}
	expect(t, got, media, done, "transcript", len(got["transcript"])+1)
	if err := st.emu.InterruptRTMS(st.stream, "media"); err != nil {
		t.Fatal(err)
	}
	for !slices.Contains(got["transcript"], lines[len(lines)-1]) {
		expect(t, got, media, done, "transcript", len(got["transcript"])+1)
	}
	if !inOrder(got["transcript"], lines) {
		t.Errorf("transcript %v, want %v in order", got["transcript"], lines)
	}
	for _, want := range []string{"signaling lost", "transcript media lost"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the worker's log has no %q: %s", want, logs)
		}
	}
	st.emu.StopRTMS(st.stream, 6)
	if r := <-done; r.err != nil || r.ended.StopReason != 6 || r.ended.Restartable {
		t.Errorf("the worker at the meeting's end: %+v", r)
	}
}

// Outside the windows the worker gives up cleanly and says which connection did not come back.
func TestAWorkerGivesUpOutsideTheWindows(t *testing.T) {
	for _, tc := range []struct{ socket, gate, want string }{
		{"signaling", "/signaling", "the signaling connection did not come back within 300ms"},
		{"media", "/media", "the transcript media connection did not come back within 300ms"},
	} {
		t.Run(tc.socket, func(t *testing.T) {
			st := newStack(t, zoomemu.RTMS{Transcripts: []string{"one", "two"}}, openSQLite(t))
			w, media, _ := st.worker(8)
			w.SignalingWindow, w.MediaWindow = 300*time.Millisecond, 300*time.Millisecond
			done := begin(t.Context(), w)
			expect(t, received{}, media, done, "transcript", 1)
			st.gate.Store(tc.gate) // the network to that server is down
			if err := st.emu.InterruptRTMS(st.stream, tc.socket); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				if r.err == nil || r.err.Error() != tc.want {
					t.Errorf("the worker: %+v, want the error %q", r, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the worker kept trying past its window")
			}
		})
	}
}

// A stop Zoom calls restartable is reported as such (exit status 3); the meeting ending is final
// (0). No line the worker prints holds the caller secret or the signature.
func TestTheWorkersLastLine(t *testing.T) {
	for _, tc := range []struct {
		reason int
		status int
		last   string
	}{
		{24, exitRestartable, "the stream stopped: keep-alives went unanswered (stop_reason 24); it may be restarted with POST /admin/rtms/start"},
		{6, 0, "the stream ended: the meeting ended (stop_reason 6)"},
	} {
		st := newStack(t, zoomemu.RTMS{}, openSQLite(t))
		out := watch("Alice: ")
		status := make(chan int, 1)
		go func() {
			status <- run(t.Context(), out, st.replicas[0].url, secret, st.stream, "transcript", 20*time.Millisecond)
		}()
		select {
		case <-out.seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("no transcript line:\n%s", out)
		}
		st.emu.StopRTMS(st.stream, tc.reason)
		if got := <-status; got != tc.status || !strings.HasSuffix(strings.TrimSpace(out.String()), tc.last) {
			t.Errorf("reason %d: exit %d, output\n%s", tc.reason, got, out.String())
		}
		// Once stopped, zoomtoken answers 410 and the worker says so at once.
		var again logtest.Buffer
		if got := run(t.Context(), &again, st.replicas[0].url, secret, st.stream, "transcript", time.Millisecond); got != tc.status ||
			!strings.Contains(again.String(), "stop_reason "+strconv.Itoa(tc.reason)) {
			t.Errorf("a worker started after the stop: exit %d\n%s", got, again.String())
		}
	}
	var out logtest.Buffer
	if got := run(t.Context(), &out, "http://127.0.0.1:1", secret, "609340fc9d894ba5a6fbb06b8aef22ec", "transcript", time.Millisecond); got != 1 ||
		strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "http://127.0.0.1:1/rtms/stream") {
		t.Errorf("zoomtoken unreachable: exit %d\n%s", got, out.String())
	}
}

// watched is a worker's output, which says (seen closes) once it holds want.
type watched struct {
	logtest.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func watch(want string) *watched { return &watched{want: want, seen: make(chan struct{})} }

func (w *watched) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.Buffer.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func openSQLite(tb testing.TB) *sqlstore.DB {
	path := filepath.Join(tb.TempDir(), "zt.db")
	return openStore(tb, func() (*sqlstore.DB, error) { return sqlite.Open(context.Background(), path, sqlstore.Options{}) })
}

func openStore(tb testing.TB, open func() (*sqlstore.DB, error)) *sqlstore.DB {
	tb.Helper()
	s, err := open()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func adminPost(tb testing.TB, url, body string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(tb testing.TB, url string) string {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// proxyTo passes a webhook on as it came, headers and body, so its signature still verifies.
func proxyTo(w http.ResponseWriter, r *http.Request, target string) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequest(r.Method, target, strings.NewReader(string(body)))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// dispatched is one event as the operator's backend receives it.
type dispatched struct {
	Type string `json:"type"`
	Data Stream `json:"data"`
}

// dispatch delivers the outbox's due events to a receiver that verifies them with the Standard
// Webhooks library, and returns the RTMS ones, in order.
func dispatch(tb testing.TB, ctx context.Context, store *sqlstore.DB, streams *rtms.Service) []dispatched {
	tb.Helper()
	const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifier, _ := standardwebhooks.NewWebhook(signingSecret)
	got := make(chan dispatched, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(body, r.Header); err != nil {
			tb.Errorf("an event that does not verify: %v", err)
		}
		var ev dispatched
		json.Unmarshal(body, &ev)
		got <- ev
	}))
	defer receiver.Close()
	signer, _ := standardwebhooks.NewWebhook(signingSecret)
	d := events.New(events.Config{Store: store.Outbox(), URL: receiver.URL, Signer: signer, Complete: streams.CompleteEvent, Logger: zerolog.Nop()})
	var list []dispatched
	for {
		n, err := d.DeliverDue(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return list
		}
		for range n {
			if ev := <-got; strings.HasPrefix(ev.Type, "rtms.") {
				list = append(list, ev)
			}
		}
	}
}
