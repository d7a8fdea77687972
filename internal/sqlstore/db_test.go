package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// Until a database is attached, every store on a DB answers ErrUnavailable (a 503 upstairs);
// once one is, the same stores reach it.
func TestStoresAnswerUnavailableUntilAttached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := new(sqlstore.DB)
		conns, streams, events := db.Connections(), db.Streams(), db.Outbox()
		checks := map[string]func() error{
			"Connections.Get": func() error { _, err := conns.Get(ctx, "conn_x"); return err },
			"Connections.Save": func() error {
				_, _, err := conns.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: "u"})
				return err
			},
			"Connections.Ping": func() error { return conns.Ping(ctx) },
			"Streams.Stream":   func() error { _, err := streams.Stream(ctx, "s"); return err },
			"Streams.UpdateStream": func() error {
				_, _, err := streams.UpdateStream(ctx, "s", func(rtms.Stream, bool) (rtms.Stream, bool) { return rtms.Stream{}, false }, nil)
				return err
			},
			"Outbox.ClaimEvents":   func() error { _, err := events.ClaimEvents(ctx, time.Now(), time.Minute, 1); return err },
			"Outbox.PendingEvents": func() error { _, err := events.PendingEvents(ctx); return err },
		}
		for name, call := range checks {
			if err := call(); !errors.Is(err, connections.ErrUnavailable) {
				t.Errorf("%s before the database is attached: %v, want ErrUnavailable", name, err)
			}
		}
		if _, ok := db.SQL(); ok {
			t.Error("SQL reports a database before one is attached")
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close before attaching: %v", err)
		}

		db.Attach(b.open(t, sqlstore.Options{}).db)
		if _, err := conns.Get(ctx, "conn_x"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("Connections.Get once attached: %v, want ErrNotFound", err)
		}
		if n, err := events.PendingEvents(ctx); err != nil || n != 0 {
			t.Errorf("Outbox.PendingEvents once attached: %d, %v", n, err)
		}
		if _, err := streams.Stream(ctx, "s"); !errors.Is(err, rtms.ErrNotFound) {
			t.Errorf("Streams.Stream once attached: %v, want rtms.ErrNotFound", err)
		}
	})
}
