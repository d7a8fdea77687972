package events_test

import (
	"cmp"
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
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/postgres/pgtest"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

var ctx = context.Background()

const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is the operator's backend: it fails the first failures deliveries, then verifies
// each with the Standard Webhooks library and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	failures int
	// failWith is the status of a failure (503 when zero); retryAfter, when set, goes with it.
	failWith   int
	retryAfter string
	attempts   map[string]int // webhook-id → deliveries seen
	got        []delivery
	verifier   *standardwebhooks.Webhook
	t          testing.TB
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
		if rc.retryAfter != "" {
			w.Header().Set("Retry-After", rc.retryAfter)
		}
		w.WriteHeader(cmp.Or(rc.failWith, http.StatusServiceUnavailable))
		return
	}
	if err := rc.verifier.Verify(body, r.Header); err != nil {
		rc.t.Errorf("a delivery does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, delivery{r.Header.Get("webhook-id"), string(body)})
}

// forEachDatabase runs test on SQLite and on PostgreSQL, each a fresh database that open opens
// (again, as a restarted process would).
func forEachDatabase(t *testing.T, test func(t *testing.T, open func(sqlstore.Options) *sqlstore.DB)) {
	opener := func(t *testing.T, open func(context.Context, sqlstore.Options) (*sqlstore.DB, error)) func(sqlstore.Options) *sqlstore.DB {
		return func(opts sqlstore.Options) *sqlstore.DB {
			db, err := open(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "zt.db")
		test(t, opener(t, func(ctx context.Context, opts sqlstore.Options) (*sqlstore.DB, error) {
			return sqlite.Open(ctx, path, opts)
		}))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		test(t, opener(t, func(ctx context.Context, opts sqlstore.Options) (*sqlstore.DB, error) {
			return postgres.Open(ctx, url, opts)
		}))
	})
}

// fourEvents writes four events of one connection: created, reconnected,
// reauthorization_required and deleted.
func fourEvents(t *testing.T, store connections.Store) {
	t.Helper()
	ring, _ := seal.NewKeyring(make([]byte, seal.KeySize))
	sealed, _ := connections.NewVault(ring).Seal("u1", connections.Tokens{Access: "a", Refresh: "r"})
	c, _, err := store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Email: "u1@example.com", Tokens: sealed})
	if err != nil {
		t.Fatal(err)
	}
	store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Email: "u1@example.com", Tokens: sealed})
	store.Update(ctx, c.ID, func(context.Context, connections.Connection) (connections.Change, error) {
		return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
	})
	store.Delete(ctx, c.ID)
}

var allFour = []string{"connection.created", "connection.reconnected", "connection.reauthorization_required", "connection.deleted"}

func newReceiver(t *testing.T, failures int) (*receiver, string) {
	verifier, _ := standardwebhooks.NewWebhook(signingSecret)
	rc := &receiver{failures: failures, attempts: map[string]int{}, verifier: verifier, t: t}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// types are the event types the receiver got, in order.
func (rc *receiver) types(t *testing.T) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var types []string
	for _, g := range rc.got {
		var e struct{ Type string }
		jsonUnmarshal(t, g.body, &e)
		types = append(types, e.Type)
	}
	return types
}

func newDeliverer(s outbox.Store, url string, clk *fakeclock.Clock, outcomes *[]string) *events.Deliverer {
	signer, _ := standardwebhooks.NewWebhook(signingSecret)
	return events.New(events.Config{Store: s, URL: url, Signer: signer, Now: clk.Now, Logger: zerolog.Nop(),
		Observe: func(o string) { *outcomes = append(*outcomes, o) }})
}

func TestEventsSurviveFailuresAndRestartsInOrder(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, open func(sqlstore.Options) *sqlstore.DB) {
		rc, url := newReceiver(t, 3)
		clk := fakeclock.New(time.Now())
		db := open(sqlstore.Options{Now: clk.Now})
		fourEvents(t, db.Connections())
		var outcomes []string
		d := newDeliverer(db.Outbox(), url, clk, &outcomes)
		// Three failed attempts at the first event; the others wait behind it.
		for range 3 {
			if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
				t.Fatalf("claimed %d (%v), want the first event only", n, err)
			}
			clk.Add(2 * time.Hour) // past the first retries' waits
		}
		if len(rc.got) != 0 {
			t.Fatalf("delivered while the receiver fails: %v", rc.got)
		}
		// The process stops and starts again: the outbox is in the database.
		db.Close()
		db = open(sqlstore.Options{Now: clk.Now})
		d = newDeliverer(db.Outbox(), url, clk, &outcomes)
		for range 10 {
			d.DeliverDue(ctx)
		}
		if types := rc.types(t); !slices.Equal(types, allFour) {
			t.Fatalf("delivered %v, want %v in that order", types, allFour)
		}
		first := rc.got[0].id
		if rc.attempts[first] != 4 {
			t.Errorf("the first event was tried %d times under its webhook-id, want 4 (3 failures, then success)", rc.attempts[first])
		}
		if n, _ := d.DeliverDue(ctx); n != 0 {
			t.Errorf("%d events left in the outbox", n)
		}
	})
}

// nextAttempt is when the oldest pending event is next tried, as the admin API lists it.
func nextAttempt(t *testing.T, s outbox.Store) time.Time {
	t.Helper()
	pending, err := s.Events(ctx, outbox.Filter{State: outbox.StatePending})
	if err != nil || len(pending) == 0 {
		t.Fatalf("no pending event (%v)", err)
	}
	return pending[0].NextAttemptAt
}

func TestAnEventThatKeepsFailingIsKeptForAboutThreeDaysThenReplayedInOrder(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, open func(sqlstore.Options) *sqlstore.DB) {
		// The receiver fails every try of the first event, and two of the second's.
		rc, url := newReceiver(t, events.MaxAttempts+2)
		start := time.Now()
		clk := fakeclock.New(start)
		db := open(sqlstore.Options{Now: clk.Now})
		fourEvents(t, db.Connections())
		var outcomes []string
		d := newDeliverer(db.Outbox(), url, clk, &outcomes)
		for attempt := 1; attempt <= events.MaxAttempts; attempt++ {
			if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
				t.Fatalf("attempt %d claimed %d (%v)", attempt, n, err)
			}
			if attempt < events.MaxAttempts {
				clk.Set(nextAttempt(t, db.Outbox()))
			}
		}
		// Ten waits of 5 s to 16 h, ±20%: about three days.
		if span := clk.Now().Sub(start); span < 57*time.Hour || span > 86*time.Hour {
			t.Errorf("gave up after %v of retries, want about three days", span)
		}
		if exhausted := slices.Index(outcomes, events.Exhausted); exhausted != events.MaxAttempts-1 {
			t.Errorf("outcomes %v, want %d failures then exhausted", outcomes, events.MaxAttempts-1)
		}
		failed, _ := db.Outbox().Events(ctx, outbox.Filter{State: outbox.StateFailed})
		if len(failed) != 1 || failed[0].Type != "connection.created" || failed[0].Attempts != events.MaxAttempts ||
			failed[0].LastError != "EVENTS_URL answered 503" {
			t.Fatalf("kept as failed: %+v", failed)
		}
		// It no longer holds back the connection's later events, which fail on their own.
		for range 2 {
			if n, _ := d.DeliverDue(ctx); n != 1 {
				t.Fatalf("claimed %d, want the second event", n)
			}
			clk.Set(nextAttempt(t, db.Outbox()))
		}
		// The receiver is fixed; the service restarts; the operator replays the failed event.
		db.Close()
		db = open(sqlstore.Options{Now: clk.Now})
		if n, err := db.Outbox().RetryFailed(ctx, clk.Now()); err != nil || n != 1 {
			t.Fatalf("replayed %d (%v)", n, err)
		}
		d = newDeliverer(db.Outbox(), url, clk, &outcomes)
		for range 8 {
			d.DeliverDue(ctx)
			clk.Add(time.Minute)
		}
		if types := rc.types(t); !slices.Equal(types, allFour) {
			t.Fatalf("delivered %v, want %v in that order", types, allFour)
		}
		if left, _ := db.Outbox().Events(ctx, outbox.Filter{}); len(left) != 0 {
			t.Errorf("left in the outbox: %+v", left)
		}
	})
}

func TestAGoneReceiverPausesDeliveryUntilResumed(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, open func(sqlstore.Options) *sqlstore.DB) {
		rc, url := newReceiver(t, 1)
		rc.failWith = http.StatusGone
		clk := fakeclock.New(time.Now())
		db := open(sqlstore.Options{Now: clk.Now})
		fourEvents(t, db.Connections())
		ring, _ := seal.NewKeyring(make([]byte, seal.KeySize))
		sealed, _ := connections.NewVault(ring).Seal("u2", connections.Tokens{Access: "a", Refresh: "r"})
		db.Connections().Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u2", Tokens: sealed})
		var outcomes []string
		d := newDeliverer(db.Outbox(), url, clk, &outcomes)
		// Two claimed (one per connection); after the 410 the second is not sent.
		if n, _ := d.DeliverDue(ctx); n != 2 || !slices.Equal(outcomes, []string{events.Paused}) || len(rc.attempts) != 1 {
			t.Fatalf("claimed %d, outcomes %v, %d sent; want two claimed, one sent and paused", n, outcomes, len(rc.attempts))
		}
		other := newDeliverer(open(sqlstore.Options{Now: clk.Now}).Outbox(), url, clk, &outcomes) // another replica
		clk.Add(24 * time.Hour)
		for _, d := range []*events.Deliverer{d, other} {
			if n, _ := d.DeliverDue(ctx); n != 0 {
				t.Errorf("claimed %d events while paused", n)
			}
		}
		if paused, _, reason, _ := db.Outbox().DeliveryPaused(ctx); !paused || reason != "EVENTS_URL answered 410" {
			t.Errorf("paused %v (%q)", paused, reason)
		}
		if n, _ := db.Outbox().PendingEvents(ctx); n != 5 {
			t.Errorf("%d pending, want all 5 kept", n)
		}
		// Resumed: every event goes out, each connection's in order, the first one included.
		if _, err := db.Outbox().RetryFailed(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		for range 6 {
			other.DeliverDue(ctx)
		}
		var u1 []string
		for _, g := range rc.got {
			var e struct {
				Type string
				Data struct {
					ZoomUserID string `json:"zoom_user_id"`
				}
			}
			jsonUnmarshal(t, g.body, &e)
			if e.Data.ZoomUserID == "u1" {
				u1 = append(u1, e.Type)
			}
		}
		if len(rc.got) != 5 || !slices.Equal(u1, allFour) {
			t.Fatalf("delivered %v after resuming (u1's: %v), want all five, u1's as %v", rc.types(t), u1, allFour)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			forEachDatabase(t, func(t *testing.T, open func(sqlstore.Options) *sqlstore.DB) {
				rc, url := newReceiver(t, 1)
				rc.failWith, rc.retryAfter = status, "7200"
				clk := fakeclock.New(time.Now())
				db := open(sqlstore.Options{Now: clk.Now})
				fourEvents(t, db.Connections())
				var outcomes []string
				d := newDeliverer(db.Outbox(), url, clk, &outcomes)
				d.DeliverDue(ctx)
				if next := nextAttempt(t, db.Outbox()); next.Before(clk.Now().Add(2*time.Hour - time.Millisecond)) { // stored in ms
					t.Errorf("next attempt in %v, want Retry-After's 2 h at least", next.Sub(clk.Now()))
				}
				clk.Add(2*time.Hour - time.Second)
				if n, _ := d.DeliverDue(ctx); n != 0 {
					t.Error("tried again before Retry-After")
				}
				clk.Add(time.Second)
				if n, _ := d.DeliverDue(ctx); n != 1 || len(rc.got) != 1 {
					t.Error("not tried once Retry-After passed")
				}
			})
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for header, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"999999999":                     24 * time.Hour, // capped
		"Mon, 07 Dec 2026 12:30:00 GMT": 30 * time.Minute,
		"Mon, 07 Dec 2026 11:00:00 GMT": 0, // in the past
	} {
		if got := events.RetryAfter(header, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", header, got, want)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, seed := range []string{"120", "Mon, 07 Dec 2026 12:30:00 GMT", "", "-1", "1e9", "Sunday"} {
		f.Add(seed)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, header string) {
		if got := events.RetryAfter(header, now); got < 0 || got > 24*time.Hour {
			t.Fatalf("Retry-After %q read as %v, outside [0, 24h]", header, got)
		}
	})
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
