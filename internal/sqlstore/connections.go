package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
)

// writtenColumns lists the columns Save inserts; refs is kept by setRefs.
const writtenColumns = `id, zoom_user_id, zoom_account_id, email, ref, status, scopes,
	access_token, refresh_token, access_expires_at, created_at, updated_at, refreshed_at, connected_at, last_error`

// columns lists a connection's columns in the order scanConnection reads them.
const columns = writtenColumns + `, refs`

// qualified is columns with each name qualified by the connections table's alias c, for joins.
var qualified = "c." + strings.Join(strings.Split(strings.Join(strings.Fields(columns), ""), ","), ", c.")

func scanConnection(row interface{ Scan(...any) error }) (connections.Connection, error) {
	var (
		c                                               connections.Connection
		ref, lastError                                  sql.NullString
		scopes, status, refs                            string
		expires, created, updated, refreshed, connected int64
	)
	err := row.Scan(&c.ID, &c.ZoomUserID, &c.ZoomAccountID, &c.Email, &ref, &status, &scopes,
		&c.Tokens.Access, &c.Tokens.Refresh, &expires, &created, &updated, &refreshed, &connected, &lastError, &refs)
	if errors.Is(err, sql.ErrNoRows) {
		return c, connections.ErrNotFound
	}
	if err != nil {
		return c, err
	}
	c.Ref, c.LastError, c.Status = ref.String, lastError.String, connections.Status(status)
	c.Scopes = strings.Fields(scopes)
	if err := json.Unmarshal([]byte(refs), &c.Refs); err != nil {
		return c, fmt.Errorf("connection %s: unreadable refs: %w", c.ID, err)
	}
	if len(c.Refs) == 0 {
		c.Refs = nil
	}
	c.Tokens.AccessExpiresAt = fromMillis(expires)
	c.CreatedAt, c.UpdatedAt, c.RefreshedAt = fromMillis(created), fromMillis(updated), fromMillis(refreshed)
	c.ConnectedAt = fromMillis(connected)
	return c, nil
}

// recordEvent adds an event about c, as it now stands, to the outbox in the caller's transaction.
func (s *database) recordEvent(ctx context.Context, tx *sql.Tx, t connections.EventType, c connections.Connection) error {
	e, err := connections.NewEvent(t, c, s.now())
	if err != nil {
		return err
	}
	return s.insertEvent(ctx, tx, e)
}

// Save implements connections.Store. It inserts, and updates only when the insert finds the Zoom
// user connected already; so whether the connection was created is known for certain, whatever
// ID the caller proposed.
func (st *Connections) Save(ctx context.Context, c connections.Connection) (connections.Connection, bool, error) {
	s, ok := st.db.open()
	if !ok {
		return connections.Connection{}, false, connections.ErrUnavailable
	}
	now := millis(s.now())
	var saved connections.Connection
	created := true
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `INSERT INTO connections (`+writtenColumns+`)
			VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $10, $10, $10, NULL)
			ON CONFLICT (zoom_user_id) DO NOTHING
			RETURNING id`,
			c.ID, c.ZoomUserID, c.ZoomAccountID, c.Email, nullable(c.Ref), strings.Join(c.Scopes, " "),
			c.Tokens.Access, c.Tokens.Refresh, millis(c.Tokens.AccessExpiresAt), now,
		).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			created = false
			err = tx.QueryRowContext(ctx, `UPDATE connections SET
					zoom_account_id = $2, email = $3, ref = COALESCE($4, ref), status = 'active', scopes = $5,
					access_token = $6, refresh_token = $7, access_expires_at = $8,
					updated_at = $9, refreshed_at = $9, connected_at = $9, last_error = NULL
				WHERE zoom_user_id = $1
				RETURNING id`,
				c.ZoomUserID, c.ZoomAccountID, c.Email, nullable(c.Ref), strings.Join(c.Scopes, " "),
				c.Tokens.Access, c.Tokens.Refresh, millis(c.Tokens.AccessExpiresAt), now,
			).Scan(&id)
		}
		if err != nil {
			return err
		}
		refAdded, err := s.addRef(ctx, tx, id, c.Ref, now)
		if err != nil {
			return err
		}
		if saved, err = get(ctx, tx, id); err != nil {
			return err
		}
		if created {
			return s.recordEvent(ctx, tx, connections.EventCreated, saved)
		}
		if err := s.recordEvent(ctx, tx, connections.EventReconnected, saved); err != nil || !refAdded {
			return err
		}
		return s.recordEvent(ctx, tx, connections.EventUpdated, saved)
	})
	return saved, created, err
}

// addRef makes ref (when not empty) resolve to the connection, and reports whether it is new to
// it.
func (s *database) addRef(ctx context.Context, tx *sql.Tx, id, ref string, now int64) (bool, error) {
	if ref == "" {
		return false, nil
	}
	var held int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM connection_refs WHERE connection_id = $1 AND ref = $2`, id, ref).Scan(&held); err != nil {
		return false, err
	}
	// A connect under a ref attaches it anew: the ref resolves to the connection attached to it
	// last, whatever was refreshed or used since.
	if _, err := tx.ExecContext(ctx, `INSERT INTO connection_refs (connection_id, ref, added_at) VALUES ($1, $2, $3)
		ON CONFLICT (connection_id, ref) DO UPDATE SET added_at = excluded.added_at`, id, ref, now); err != nil {
		return false, err
	}
	return held == 0, s.setRefs(ctx, tx, id, ref, now)
}

// setRefs writes the connection's refs column from connection_refs, its ref (latest, or when
// empty the latest left), and its updated_at.
func (s *database) setRefs(ctx context.Context, tx *sql.Tx, id, latest string, now int64) error {
	refs, err := column[string](tx.QueryContext(ctx, `SELECT ref FROM connection_refs WHERE connection_id = $1 ORDER BY added_at, ref`, id))
	if err != nil {
		return err
	}
	if refs == nil {
		refs = []string{} // the column holds [] rather than null
	}
	if latest == "" && len(refs) > 0 {
		latest = refs[len(refs)-1]
	}
	encoded, _ := json.Marshal(refs)
	_, err = tx.ExecContext(ctx, `UPDATE connections SET ref = $2, refs = $3, updated_at = $4 WHERE id = $1`,
		id, nullable(latest), string(encoded), now)
	return err
}

// RemoveRef implements connections.Store.
func (st *Connections) RemoveRef(ctx context.Context, id, ref string) (connections.Connection, error) {
	s, ok := st.db.open()
	if !ok {
		return connections.Connection{}, connections.ErrUnavailable
	}
	var updated connections.Connection
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lock(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM connection_refs WHERE connection_id = $1 AND ref = $2`, id, ref)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, connections.ErrNotFound)
		}
		latest := c.Ref
		if latest == ref {
			latest = ""
		}
		if err := s.setRefs(ctx, tx, id, latest, millis(s.now())); err != nil {
			return err
		}
		if updated, err = get(ctx, tx, id); err != nil {
			return err
		}
		return s.recordEvent(ctx, tx, connections.EventUpdated, updated)
	})
	return updated, err
}

func get(ctx context.Context, q queryer, id string) (connections.Connection, error) {
	return scanConnection(q.QueryRowContext(ctx, `SELECT `+columns+` FROM connections WHERE id = $1`, id))
}

// Get implements connections.Store.
func (st *Connections) Get(ctx context.Context, id string) (connections.Connection, error) {
	return st.db.lookup(ctx, `SELECT `+columns+` FROM connections WHERE id = $1`, id)
}

// FindByZoomUserID implements connections.Store.
func (st *Connections) FindByZoomUserID(ctx context.Context, zoomUserID string) (connections.Connection, error) {
	return st.db.lookup(ctx, `SELECT `+columns+` FROM connections WHERE zoom_user_id = $1`, zoomUserID)
}

// preferActive orders several matches so the active connection updated last comes first.
const preferActive = ` ORDER BY CASE status WHEN 'active' THEN 0 ELSE 1 END, updated_at DESC, id LIMIT 1`

// FindByEmail implements connections.Store.
func (st *Connections) FindByEmail(ctx context.Context, email string) (connections.Connection, error) {
	return st.db.lookup(ctx, `SELECT `+columns+` FROM connections WHERE lower(email) = lower($1)`+preferActive, email)
}

// FindByRef implements connections.Store: the connection the ref was attached to last.
func (st *Connections) FindByRef(ctx context.Context, ref string) (connections.Connection, error) {
	return st.db.lookup(ctx, `SELECT `+columns+` FROM connections
		WHERE id = (SELECT connection_id FROM connection_refs WHERE ref = $1 ORDER BY added_at DESC, connection_id LIMIT 1)`, ref)
}

// List implements connections.Store.
func (st *Connections) List(ctx context.Context, f connections.Filter) ([]connections.Connection, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	query := `SELECT ` + columns + ` FROM connections WHERE ($1 = '' OR status = $1) ORDER BY created_at, id`
	args := []any{string(f.Status)}
	if f.Ref != "" { // newest attachment of the ref first, as FindByRef resolves it
		query = `SELECT ` + qualified + ` FROM connections c JOIN connection_refs r ON r.connection_id = c.id
			WHERE r.ref = $2 AND ($1 = '' OR c.status = $1) ORDER BY r.added_at DESC, c.id`
		args = append(args, f.Ref)
	}
	if f.Limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []connections.Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// CountByStatus implements connections.Store: one GROUP BY, no row read.
func (st *Connections) CountByStatus(ctx context.Context) (map[connections.Status]int, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM connections GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[connections.Status]int{connections.StatusActive: 0, connections.StatusReauthorizationRequired: 0}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		counts[connections.Status(status)] = n
	}
	return counts, rows.Err()
}

// Delete implements connections.Store. Meetings go with the connection (ON DELETE CASCADE, and
// explicitly, so a database with foreign keys off loses nothing either).
func (st *Connections) Delete(ctx context.Context, id string) (connections.Connection, error) {
	s, ok := st.db.open()
	if !ok {
		return connections.Connection{}, connections.ErrUnavailable
	}
	var deleted connections.Connection
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if deleted, err = s.lock(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM meetings WHERE connection_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connection_refs WHERE connection_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE id = $1`, id); err != nil {
			return err
		}
		return s.recordEvent(ctx, tx, connections.EventDeleted, deleted)
	})
	return deleted, err
}

// lock reads a connection and takes its update lock for the rest of the transaction.
func (s *database) lock(ctx context.Context, tx *sql.Tx, id string) (connections.Connection, error) {
	return scanConnection(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM connections WHERE id = $1 `+s.dialect.LockRow, id))
}

// Update implements connections.Store. It is the one transaction held open across a call to
// Zoom, on purpose: Zoom rotates a refresh token on every use, so the row lock must cover the
// refresh from reading the old token to storing the new one, or two refreshes race and the
// connection is lost. The hold is bounded by Options.UpdateHold.
func (st *Connections) Update(ctx context.Context, id string, fn connections.UpdateFunc) (connections.Connection, error) {
	s, ok := st.db.open()
	if !ok {
		return connections.Connection{}, connections.ErrUnavailable
	}
	// The transaction outlives the caller's cancellation: once fn has a new refresh token from
	// Zoom, it must be committed whether or not anyone still waits for it.
	txCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.hold)
	defer cancel()
	defer s.writing()()
	tx, err := s.db.BeginTx(txCtx, nil)
	if err != nil {
		return connections.Connection{}, err
	}
	defer tx.Rollback()
	current, err := s.lock(ctx, tx, id)
	if err != nil {
		return connections.Connection{}, err
	}
	change, err := fn(txCtx, current)
	if err != nil {
		return current, err
	}
	if change == (connections.Change{}) {
		return current, tx.Commit()
	}
	now := millis(s.now())
	if t := change.Tokens; t != nil {
		query := `UPDATE connections SET access_token = $2, refresh_token = $3, access_expires_at = $4, updated_at = $5 WHERE id = $1`
		if change.Refreshed {
			query = `UPDATE connections SET access_token = $2, refresh_token = $3, access_expires_at = $4, updated_at = $5,
				refreshed_at = $5, status = 'active', last_error = NULL WHERE id = $1`
		}
		if _, err := tx.ExecContext(txCtx, query, id, t.Access, t.Refresh, millis(t.AccessExpiresAt), now); err != nil {
			return current, err
		}
	}
	if reason := change.ReauthorizationRequired; reason != "" {
		if _, err := tx.ExecContext(txCtx, `UPDATE connections SET status = $2, last_error = $3, updated_at = $4 WHERE id = $1`,
			id, string(connections.StatusReauthorizationRequired), reason, now); err != nil {
			return current, err
		}
	}
	updated, err := get(txCtx, tx, id)
	if err != nil {
		return current, err
	}
	if change.ReauthorizationRequired != "" && current.Status != connections.StatusReauthorizationRequired {
		if err := s.recordEvent(txCtx, tx, connections.EventReauthorizationRequired, updated); err != nil {
			return current, err
		}
	}
	return updated, tx.Commit()
}

// PutMeetings implements connections.Store.
func (st *Connections) PutMeetings(ctx context.Context, connectionID string, meetingIDs ...int64) error {
	s, ok := st.db.open()
	if !ok {
		return connections.ErrUnavailable
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.putMeetings(ctx, tx, connectionID, meetingIDs) })
}

func (s *database) putMeetings(ctx context.Context, tx *sql.Tx, connectionID string, meetingIDs []int64) error {
	now := millis(s.now())
	for _, m := range meetingIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meetings (meeting_id, connection_id, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (meeting_id) DO UPDATE SET connection_id = excluded.connection_id, updated_at = excluded.updated_at`,
			m, connectionID, now); err != nil {
			return fmt.Errorf("meeting %d: %w", m, err)
		}
	}
	return nil
}

// ReplaceMeetings implements connections.Store.
func (st *Connections) ReplaceMeetings(ctx context.Context, connectionID string, meetingIDs []int64) error {
	s, ok := st.db.open()
	if !ok {
		return connections.ErrUnavailable
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM meetings WHERE connection_id = $1`, connectionID); err != nil {
			return err
		}
		return s.putMeetings(ctx, tx, connectionID, meetingIDs)
	})
}

// DeleteMeeting implements connections.Store.
func (st *Connections) DeleteMeeting(ctx context.Context, meetingID int64) error {
	_, err := st.db.exec(ctx, `DELETE FROM meetings WHERE meeting_id = $1`, meetingID)
	return err
}

// MeetingHost implements connections.Store.
func (st *Connections) MeetingHost(ctx context.Context, meetingID int64) (connections.Connection, error) {
	return st.db.lookup(ctx, `SELECT `+columns+` FROM connections
		WHERE id = (SELECT connection_id FROM meetings WHERE meeting_id = $1)`, meetingID)
}

// Meetings implements connections.Store.
func (st *Connections) Meetings(ctx context.Context, connectionID string) ([]int64, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	return column[int64](s.db.QueryContext(ctx, `SELECT meeting_id FROM meetings WHERE connection_id = $1 ORDER BY meeting_id`, connectionID))
}

// ClaimMeetingListing implements connections.Store: a compare-and-set on meetings_listed_at.
func (st *Connections) ClaimMeetingListing(ctx context.Context, connectionID string, now, notSince time.Time) (bool, error) {
	s, ok := st.db.open()
	if !ok {
		return false, connections.ErrUnavailable
	}
	res, err := s.exec(ctx, `UPDATE connections SET meetings_listed_at = $2
		WHERE id = $1 AND (meetings_listed_at IS NULL OR meetings_listed_at < $3)`, connectionID, millis(now), millis(notSince))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MeetingListingsDue implements connections.Store.
func (st *Connections) MeetingListingsDue(ctx context.Context, notSince time.Time) ([]string, error) {
	s, ok := st.db.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	return column[string](s.db.QueryContext(ctx, `SELECT id FROM connections WHERE status = 'active'
		AND (meetings_listed_at IS NULL OR meetings_listed_at < $1) ORDER BY created_at, id`, millis(notSince)))
}

// ConsumeState implements connections.Store. Only a hash of the state is kept.
func (st *Connections) ConsumeState(ctx context.Context, state string, expiresAt time.Time) (bool, error) {
	s, ok := st.db.open()
	if !ok {
		return false, connections.ErrUnavailable
	}
	sum := sha256.Sum256([]byte(state))
	first := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < $1`, millis(s.now())); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_states (state_hash, expires_at) VALUES ($1, $2)
			ON CONFLICT (state_hash) DO NOTHING`, hex.EncodeToString(sum[:]), millis(expiresAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}

// Connections is the connections.Store on a DB.
type Connections struct{ db *DB }

var _ connections.Store = (*Connections)(nil)

// Ping implements connections.Store.
func (st *Connections) Ping(ctx context.Context) error { return st.db.Ping(ctx) }
