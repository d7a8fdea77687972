package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
)

// Streams is the rtms.Store on a DB.
type Streams struct{ db *DB }

var _ rtms.Store = (*Streams)(nil)

const streamColumns = `id, kind, meeting_uuid, meeting_id, server_urls, account_id, state, started_at, updated_at, stop_reason`

func scanStream(row interface{ Scan(...any) error }) (rtms.Stream, error) {
	var s rtms.Stream
	var kind, state string
	var started, updated int64
	err := row.Scan(&s.ID, &kind, &s.MeetingUUID, &s.MeetingID, &s.ServerURLs, &s.AccountID, &state, &started, &updated, &s.StopReason)
	if errors.Is(err, sql.ErrNoRows) {
		return s, rtms.ErrNotFound
	}
	s.Kind, s.State = rtms.Kind(kind), rtms.State(state)
	s.StartedAt, s.UpdatedAt = fromMillis(started), fromMillis(updated)
	return s, err
}

// UpdateStream implements rtms.Store. The stream's lock is its row: a placeholder row (state ”)
// is inserted first when there is none, so that two processes hearing of a new stream at once
// take turns on it; a transaction that changes nothing rolls the placeholder back.
func (st *Streams) UpdateStream(ctx context.Context, id string, fn rtms.UpdateFunc,
	event func(rtms.Stream) (outbox.Event, error)) (rtms.Stream, bool, error) {
	s, ok := st.db.open()
	if !ok {
		return rtms.Stream{}, false, connections.ErrUnavailable
	}
	var stored rtms.Stream
	var changed bool
	errUnchanged := errors.New("unchanged")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rtms_streams (`+streamColumns+`)
			VALUES ($1, '', '', 0, '', '', '', 0, 0, 0) ON CONFLICT (id) DO NOTHING`, id); err != nil {
			return err
		}
		cur, err := scanStream(tx.QueryRowContext(ctx, `SELECT `+streamColumns+` FROM rtms_streams WHERE id = $1 `+s.dialect.LockRow, id))
		if err != nil {
			return err
		}
		found := cur.State != ""
		next, ok := fn(cur, found)
		if !ok {
			stored = cur
			return errUnchanged
		}
		next.ID = id
		if _, err := tx.ExecContext(ctx, `UPDATE rtms_streams SET kind = $2, meeting_uuid = $3, meeting_id = $4,
			server_urls = $5, account_id = $6, state = $7, started_at = $8, updated_at = $9, stop_reason = $10 WHERE id = $1`,
			id, string(next.Kind), next.MeetingUUID, next.MeetingID, next.ServerURLs, next.AccountID, string(next.State),
			millis(next.StartedAt), millis(next.UpdatedAt), next.StopReason); err != nil {
			return err
		}
		e, err := event(next)
		if err != nil {
			return err
		}
		if e.Type != "" {
			if err := s.insertEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		stored, changed = next, true
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return stored, false, nil
	}
	return stored, changed, err
}

// Stream implements rtms.Store.
func (st *Streams) Stream(ctx context.Context, id string) (rtms.Stream, error) {
	s, ok := st.db.open()
	if !ok {
		return rtms.Stream{}, connections.ErrUnavailable
	}
	stmt, err := s.prepared(ctx, `SELECT `+streamColumns+` FROM rtms_streams WHERE id = $1 AND state <> ''`)
	if err != nil {
		return rtms.Stream{}, err
	}
	return scanStream(stmt.QueryRowContext(ctx, id))
}

// Streams implements rtms.Store.
func (st *Streams) Streams(ctx context.Context, meetingID int64, limit int) ([]rtms.Stream, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	query, args := `SELECT `+streamColumns+` FROM rtms_streams WHERE state <> '' ORDER BY started_at DESC, id LIMIT $1`, []any{limit}
	if meetingID != 0 {
		query = `SELECT ` + streamColumns + ` FROM rtms_streams WHERE state <> '' AND meeting_id = $1
			ORDER BY started_at DESC, id LIMIT $2`
		args = []any{meetingID, limit}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var streams []rtms.Stream
	for rows.Next() {
		stream, err := scanStream(rows)
		if err != nil {
			return nil, err
		}
		streams = append(streams, stream)
	}
	return streams, rows.Err()
}

// DeleteStreams implements rtms.Store.
func (st *Streams) DeleteStreams(ctx context.Context, before time.Time) (int, error) {
	s, ok := st.db.open()
	if !ok {
		return 0, connections.ErrUnavailable
	}
	res, err := s.exec(ctx, `DELETE FROM rtms_streams WHERE updated_at < $1 AND state <> ''`, millis(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
