package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/events"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
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
// through replica B, Zoom's webhook reaches replica A, the worker asks B, joins the emulator's
// sockets with the vended signature and gets the transcript; a stop through A ends the worker and
// makes the stream answer 410. On SQLite and on PostgreSQL, each with two replicas.
func TestAWorkerWithoutTheSecretGetsTheTranscript(t *testing.T) {
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

func testWorkerFlow(t *testing.T, storeA, storeB *sqlstore.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var webhookURL atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Zoom's webhook reaches replica A, whichever replica asked for the start.
		proxyTo(w, r, webhookURL.Load().(string)+"/webhooks/zoom")
	}))
	defer hook.Close()
	emu := zoomemu.New(zoomemu.Config{
		OAuthApp:           &zoomemu.OAuthApp{ClientID: clientID, ClientSecret: clientSecret},
		Users:              []zoomemu.User{{ID: "alice-id", Email: "alice@example.com", AccountID: "acct", PMI: meeting}},
		WebhookSecretToken: webhookToken,
		RTMS:               &zoomemu.RTMS{ClientID: clientID, ClientSecret: clientSecret, WebhookURL: hook.URL, KeepAlive: 10 * time.Millisecond},
	})
	emuSrv := httptest.NewServer(emu)
	defer func() { emu.Close(); emuSrv.Close(); emu.WaitWebhooks() }()
	key, _ := sealtest.Key(t)
	a := startReplica(t, storeA, emuSrv.URL, key)
	b := startReplica(t, storeB, emuSrv.URL, key)
	webhookURL.Store(a.url)

	// Alice connected once; her personal meeting is in the meeting map.
	access, refresh, expires, _ := emu.IssueTokens("alice-id")
	keyring, _ := seal.NewKeyring(key)
	m := connections.NewManager(connections.ManagerConfig{Store: storeA.Connections(), Vault: connections.NewVault(keyring)})
	if _, _, err := m.Connect(ctx, connections.Connection{ZoomUserID: "alice-id", ZoomAccountID: "acct", Email: "alice@example.com"},
		connections.Tokens{Access: access, Refresh: refresh, AccessExpiresAt: expires}, meeting); err != nil {
		t.Fatal(err)
	}

	status, body := adminPost(t, b.url+"/admin/rtms/start", `{"meeting_id":"811 1222 3333"}`)
	if status != http.StatusAccepted || !strings.Contains(body, `"via":"connection"`) {
		t.Fatalf("start: %d %s", status, body)
	}
	emu.WaitWebhooks()
	streamID := emu.RTMSStream(meeting)
	s, err := FetchStream(ctx, http.DefaultClient, b.url, secret, streamID)
	if err != nil || s.State != "started" || s.RTMSStreamID != streamID || len(s.Signature) != 64 {
		t.Fatalf("the stream, from the replica the webhook did not reach: %+v %v", s, err)
	}
	signature := get(t, a.url+"/rtms/signature?secret="+secret+"&rtms_stream_id="+streamID)
	if signature != s.Signature {
		t.Errorf("/rtms/signature %q, /rtms/stream %q", signature, s.Signature)
	}

	// The operator's dispatcher gets rtms.started, signed the Standard Webhooks way, with all a
	// worker's join() needs: the same stream, signature included (added as it is sent; the
	// outbox holds none).
	dispatched := dispatch(t, ctx, storeB, streams(b))
	if dispatched.Type != "rtms.started" || dispatched.Data != s {
		t.Errorf("rtms.started event: %+v, want the data %+v", dispatched, s)
	}

	lines := make(chan string, 16)
	joined := make(chan error, 1)
	go func() { joined <- Join(ctx, s, func(_, text string) { lines <- text }) }()
	for range 3 {
		select {
		case <-lines:
		case err := <-joined:
			t.Fatalf("the worker left before three transcript lines: %v", err)
		case <-ctx.Done():
			t.Fatal("no transcript")
		}
	}

	if status, body := adminPost(t, a.url+"/admin/rtms/stop", `{"meeting_id":"81112223333","user":"alice@example.com"}`); status != http.StatusAccepted {
		t.Fatalf("stop: %d %s", status, body)
	}
	if err := <-joined; err != nil {
		t.Errorf("the worker, at the stop: %v", err)
	}
	emu.WaitWebhooks()
	if _, err := FetchStream(ctx, http.DefaultClient, b.url, secret, streamID); err == nil || !strings.Contains(err.Error(), "410") {
		t.Errorf("a stopped stream: %v, want 410", err)
	}
	if accepted, refused, _ := emu.RTMSStats(); accepted != 2 || refused != 0 {
		t.Errorf("handshakes accepted %d, refused %d", accepted, refused)
	}
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

// dispatch delivers the outbox's due events (connection.created, rtms.started) to a receiver that
// verifies them with the Standard Webhooks library, and returns the RTMS one.
func dispatch(tb testing.TB, ctx context.Context, store *sqlstore.DB, streams *rtms.Service) dispatched {
	tb.Helper()
	const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifier, _ := standardwebhooks.NewWebhook(signingSecret)
	got := make(chan dispatched, 4)
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
	n, err := d.DeliverDue(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for range n {
		if ev := <-got; strings.HasPrefix(ev.Type, "rtms.") {
			return ev
		}
	}
	tb.Fatalf("no rtms event among the %d delivered", n)
	return dispatched{}
}
