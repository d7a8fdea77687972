package sqlstore

import (
	"context"
	"database/sql"
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
			WHERE next_attempt_at <= $1
			AND NOT EXISTS (SELECT 1 FROM events earlier WHERE earlier.connection_id = e.connection_id AND earlier.seq < e.seq)
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
				WHERE id = $1 AND next_attempt_at = $2`, d.event.ID, d.next, millis(now.Add(lease)))
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
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n)
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

// Outbox is the outbox.Store on a DB.
type Outbox struct{ db *DB }

var _ outbox.Store = (*Outbox)(nil)
