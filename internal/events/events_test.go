package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/outbox"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/events"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is the operator's backend: it fails the first failures deliveries, then verifies
// each with the Standard Webhooks library and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	failures int
	attempts map[string]int // webhook-id → deliveries seen
	got      []delivery
	verifier *standardwebhooks.Webhook
	t        testing.TB
}

type delivery struct {
	id   string
	body string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts[r.Header.Get("webhook-id")]++
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := rc.verifier.Verify(body, r.Header); err != nil {
		rc.t.Errorf("a delivery does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, delivery{r.Header.Get("webhook-id"), string(body)})
}

func TestEventsSurviveFailuresAndRestartsInOrder(t *testing.T) {
	ctx := context.Background()
	verifier, _ := standardwebhooks.NewWebhook(signingSecret)
	rc := &receiver{failures: 3, attempts: map[string]int{}, verifier: verifier, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	clk := fakeclock.New(time.Now())
	path := filepath.Join(t.TempDir(), "zt.db")
	db, err := sqlite.Open(ctx, path, sqlstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := db.Connections()

	// created, reconnected, reauthorization_required, deleted: four events of one connection.
	ring, _ := seal.NewKeyring(make([]byte, seal.KeySize))
	sealed, _ := connections.NewVault(ring).Seal("u1", connections.Tokens{Access: "a", Refresh: "r"})
	c, _, _ := store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Email: "u1@example.com", Tokens: sealed})
	store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Email: "u1@example.com", Tokens: sealed})
	store.Update(ctx, c.ID, func(context.Context, connections.Connection) (connections.Change, error) {
		return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
	})
	store.Delete(ctx, c.ID)

	newDeliverer := func(s outbox.Store) *events.Deliverer {
		signer, _ := standardwebhooks.NewWebhook(signingSecret)
		return events.New(events.Config{Store: s, URL: srv.URL,
			Signer: signer, Now: clk.Now, Logger: zerolog.Nop()})
	}
	d := newDeliverer(db.Outbox())
	// Three failed attempts at the first event; the others wait behind it.
	for range 3 {
		if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("claimed %d (%v), want the first event only", n, err)
		}
		clk.Add(2 * time.Hour) // past any backoff
	}
	if len(rc.got) != 0 {
		t.Fatalf("delivered while the receiver fails: %v", rc.got)
	}
	// The process stops and starts again: the outbox is in the database.
	db.Close()
	db, err = sqlite.Open(ctx, path, sqlstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d = newDeliverer(db.Outbox())
	for range 10 {
		d.DeliverDue(ctx)
	}
	var types []string
	for _, g := range rc.got {
		var e struct{ Type string }
		jsonUnmarshal(t, g.body, &e)
		types = append(types, e.Type)
	}
	want := []string{"connection.created", "connection.reconnected", "connection.reauthorization_required", "connection.deleted"}
	if !slices.Equal(types, want) {
		t.Fatalf("delivered %v, want %v in that order", types, want)
	}
	first := rc.got[0].id
	if rc.attempts[first] != 4 {
		t.Errorf("the first event was tried %d times under its webhook-id, want 4 (3 failures, then success)", rc.attempts[first])
	}
	if n, _ := d.DeliverDue(ctx); n != 0 {
		t.Errorf("%d events left in the outbox", n)
	}
}

func TestEventsAreDroppedWithoutAnURL(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "zt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.Connections()
	ring, _ := seal.NewKeyring(make([]byte, seal.KeySize))
	sealed, _ := connections.NewVault(ring).Seal("u1", connections.Tokens{Access: "a", Refresh: "r"})
	store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Tokens: sealed})
	var outcomes []string
	d := events.New(events.Config{Store: db.Outbox(),
		Observe: func(o string) { outcomes = append(outcomes, o) }, Logger: zerolog.Nop()})
	if n, _ := d.DeliverDue(ctx); n != 1 || !slices.Equal(outcomes, []string{events.Dropped}) {
		t.Errorf("claimed %d, outcomes %v", n, outcomes)
	}
	if n, _ := d.DeliverDue(ctx); n != 0 {
		t.Errorf("the outbox keeps dropped events")
	}
}

func jsonUnmarshal(tb testing.TB, s string, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		tb.Fatal(err)
	}
}
