package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/outbox"

	"github.com/zoomtoken/zoomtoken/internal/connections"
)

// ClaimEvents implements outbox.Store. A claim moves the event's next attempt to the end of
// the lease, with a compare on the time it read, so two processes never claim one event at once.
func (st *Outbox) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Event, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	var claimed []outbox.Event
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, connection_id, type, payload, created_at, attempts, next_attempt_at FROM events e
			WHERE failed_at IS NULL AND next_attempt_at <= $1
			AND NOT EXISTS (SELECT 1 FROM event_delivery_paused)
			AND NOT EXISTS (SELECT 1 FROM events earlier
				WHERE earlier.connection_id = e.connection_id AND earlier.seq < e.seq AND earlier.failed_at IS NULL)
			ORDER BY seq LIMIT $2`, millis(now), limit)
		if err != nil {
			return err
		}
		type due struct {
			event outbox.Event
			next  int64
		}
		var candidates []due
		for rows.Next() {
			var d due
			var eventType, payload string
			var created int64
			if err := rows.Scan(&d.event.ID, &d.event.Subject, &eventType, &payload, &created, &d.event.Attempts, &d.next); err != nil {
				rows.Close()
				return err
			}
			d.event.Type, d.event.Payload, d.event.CreatedAt = eventType, []byte(payload), fromMillis(created)
			candidates = append(candidates, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range candidates {
			res, err := tx.ExecContext(ctx, `UPDATE events SET next_attempt_at = $3, attempts = attempts + 1
				WHERE id = $1 AND next_attempt_at = $2 AND failed_at IS NULL`, d.event.ID, d.next, millis(now.Add(lease)))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				continue // another process claimed it first
			}
			d.event.Attempts++
			claimed = append(claimed, d.event)
		}
		return nil
	})
	return claimed, err
}

// PendingEvents implements outbox.Store.
func (st *Outbox) PendingEvents(ctx context.Context) (int, error) {
	s, ok := st.db.open()
	if !ok {
		return 0, connections.ErrUnavailable
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE failed_at IS NULL`).Scan(&n)
	return n, err
}

// EventDelivered implements outbox.Store.
func (st *Outbox) EventDelivered(ctx context.Context, eventID string) error {
	_, err := st.db.exec(ctx, `DELETE FROM events WHERE id = $1`, eventID)
	return err
}

// EventFailed implements outbox.Store.
func (st *Outbox) EventFailed(ctx context.Context, eventID string, retryAt time.Time, reason string) error {
	_, err := st.db.exec(ctx, `UPDATE events SET next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		eventID, millis(retryAt), reason)
	return err
}

// EventExhausted implements outbox.Store.
func (st *Outbox) EventExhausted(ctx context.Context, eventID string, at time.Time, reason string) error {
	_, err := st.db.exec(ctx, `UPDATE events SET failed_at = $2, last_error = $3 WHERE id = $1`,
		eventID, millis(at), reason)
	return err
}

// PauseDelivery implements outbox.Store. The first pause's time and reason are kept.
func (st *Outbox) PauseDelivery(ctx context.Context, at time.Time, reason string) error {
	_, err := st.db.exec(ctx, `INSERT INTO event_delivery_paused (id, paused_at, reason) VALUES (1, $1, $2)
		ON CONFLICT (id) DO NOTHING`, millis(at), reason)
	return err
}

// DeliveryPaused implements outbox.Store.
func (st *Outbox) DeliveryPaused(ctx context.Context) (bool, time.Time, string, error) {
	s, ok := st.db.open()
	if !ok {
		return false, time.Time{}, "", connections.ErrUnavailable
	}
	var at int64
	var reason string
	err := s.db.QueryRowContext(ctx, `SELECT paused_at, reason FROM event_delivery_paused WHERE id = 1`).Scan(&at, &reason)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, time.Time{}, "", nil
	case err != nil:
		return false, time.Time{}, "", err
	}
	return true, fromMillis(at), reason, nil
}

// maxListedEvents bounds one listing: an outbox that grew past it (a receiver down for days)
// is summarised by its oldest events, the ones to look at first.
const maxListedEvents = 1000

// Events implements outbox.Store.
func (st *Outbox) Events(ctx context.Context, f outbox.Filter) ([]outbox.Record, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, type, connection_id, attempts, COALESCE(last_error, ''),
			created_at, next_attempt_at, COALESCE(failed_at, 0) FROM events
		WHERE ($1 = '' OR ($1 = 'failed') = (failed_at IS NOT NULL)) AND ($2 = '' OR type = $2)
		ORDER BY seq LIMIT $3`, f.State, f.Type, maxListedEvents)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var records []outbox.Record
	for rows.Next() {
		var r outbox.Record
		var created, next, failed int64
		if err := rows.Scan(&r.ID, &r.Type, &r.Subject, &r.Attempts, &r.LastError, &created, &next, &failed); err != nil {
			return nil, err
		}
		r.CreatedAt, r.NextAttemptAt, r.State = fromMillis(created), fromMillis(next), outbox.StatePending
		if failed != 0 {
			r.FailedAt, r.State = fromMillis(failed), outbox.StateFailed
		}
		records = append(records, r)
	}
	return records, rows.Err()
}

// RetryEvent implements outbox.Store.
func (st *Outbox) RetryEvent(ctx context.Context, eventID string, now time.Time) error {
	res, err := st.db.exec(ctx, `UPDATE events SET failed_at = NULL, attempts = 0, next_attempt_at = $2 WHERE id = $1`, eventID, millis(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return outbox.ErrNotFound
	}
	return nil
}

// RetryFailed implements outbox.Store.
func (st *Outbox) RetryFailed(ctx context.Context, now time.Time) (int, error) {
	s, ok := st.db.open()
	if !ok {
		return 0, connections.ErrUnavailable
	}
	var replayed int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE events SET failed_at = NULL, attempts = 0, next_attempt_at = $1 WHERE failed_at IS NOT NULL`, millis(now))
		if err != nil {
			return err
		}
		if replayed, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM event_delivery_paused`)
		return err
	})
	return int(replayed), err
}

// Outbox is the outbox.Store on a DB.
type Outbox struct{ db *DB }

var _ outbox.Store = (*Outbox)(nil)
