// Package sqlstore implements connections.Store over database/sql, once for both databases: the
// sqlite and postgres packages open a *sql.DB with their driver and hand it here with their
// Dialect (the few statements that differ, and their migrations). Every query is written once,
// in SQL both databases accept; times are stored as Unix milliseconds so both compare them the
// same way. Tokens arrive sealed (connections.Vault): nothing here sees one in plain text.
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
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
)

// Dialect is what differs between the databases.
type Dialect struct {
	// Name is the database's name, for messages.
	Name string
	// LockRow ends the SELECT that takes a connection's update lock ("FOR UPDATE" on
	// PostgreSQL). Empty where every write transaction already excludes the others (SQLite's
	// BEGIN IMMEDIATE, which the sqlite package sets for every transaction).
	LockRow string
	// MigrationLock, run first in the migration transaction, makes concurrent migrations take
	// turns. Empty where the transaction itself does.
	MigrationLock string
	// Migrations holds the numbered schema files.
	Migrations fs.FS
	// SerializeWrites makes this process's writers take turns on a mutex before the database's
	// own write lock: where that lock covers the whole database (SQLite), waiting on a mutex
	// hands over at once, where the database's busy handler would sleep and poll.
	SerializeWrites bool
	// Busy, when set, tells an error that says another process holds the database for a moment
	// in a way the database's own wait does not cover; Migrate tries again after it.
	Busy func(error) bool
}

// Options tunes a Store.
type Options struct {
	// Now is the clock for the times the store records; time.Now when nil.
	Now func() time.Time
	// UpdateHold bounds how long an UpdateFunc may hold a connection's lock (and how long the
	// write after it may take); 30 s when zero.
	UpdateHold time.Duration
}

// Store is a connections.Store on a SQL database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	hold    time.Duration
	writes  sync.Mutex // taken by writers when the dialect serializes writes
	// stmts holds the lookups every vended token makes, each prepared once (query → *sql.Stmt):
	// SQLite's driver otherwise parses the SQL again on every call, about a quarter of the CPU
	// a token from a connection costs.
	stmts sync.Map
}

// lookup reads one connection with a prepared statement of query.
func (s *Store) lookup(ctx context.Context, query string, args ...any) (connections.Connection, error) {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return connections.Connection{}, err
	}
	return scanConnection(stmt.QueryRowContext(ctx, args...))
}

// prepared returns query's statement, preparing it on first use. database/sql prepares it again
// on each pooled connection as needed, so it outlives a dropped database connection.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := s.stmts.Load(query); ok {
		return stmt.(*sql.Stmt), nil
	}
	stmt, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if other, raced := s.stmts.LoadOrStore(query, stmt); raced {
		stmt.Close()
		return other.(*sql.Stmt), nil
	}
	return stmt, nil
}

// writing takes this process's write turn, when the dialect wants one, and returns its release.
func (s *Store) writing() func() {
	if !s.dialect.SerializeWrites {
		return func() {}
	}
	s.writes.Lock()
	return s.writes.Unlock
}

// exec runs one write statement outside a transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer s.writing()()
	return s.db.ExecContext(ctx, query, args...)
}

var _ connections.Store = (*Store)(nil)

// Open migrates db and returns a Store on it; on failure it closes db.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts Options) (*Store, error) {
	if _, err := Migrate(ctx, db, d, 0); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the %s database: %w", d.Name, err)
	}
	return New(db, d, opts), nil
}

// New returns a Store on db, whose schema Migrate has brought up to date.
func New(db *sql.DB, d Dialect, opts Options) *Store {
	s := &Store{db: db, dialect: d, now: opts.Now, hold: opts.UpdateHold}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hold <= 0 {
		s.hold = 30 * time.Second
	}
	return s
}

// DB returns the database handle, for the backend's own checks.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, stmt any) bool {
		stmt.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// writtenColumns lists the columns Save inserts; refs is kept by setRefs.
const writtenColumns = `id, zoom_user_id, zoom_account_id, email, ref, status, scopes,
	access_token, refresh_token, access_expires_at, created_at, updated_at, refreshed_at, last_error`

// columns lists a connection's columns in the order scanConnection reads them.
const columns = writtenColumns + `, refs`

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func scanConnection(row interface{ Scan(...any) error }) (connections.Connection, error) {
	var (
		c                                    connections.Connection
		ref, lastError                       sql.NullString
		scopes, status, refs                 string
		expires, created, updated, refreshed int64
	)
	err := row.Scan(&c.ID, &c.ZoomUserID, &c.ZoomAccountID, &c.Email, &ref, &status, &scopes,
		&c.Tokens.Access, &c.Tokens.Refresh, &expires, &created, &updated, &refreshed, &lastError, &refs)
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
	return c, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// inTx runs fn in a transaction and commits when fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer s.writing()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// recordEvent adds an event about c, as it now stands, to the outbox in the caller's transaction.
func (s *Store) recordEvent(ctx context.Context, tx *sql.Tx, t connections.EventType, c connections.Connection) error {
	e, err := connections.NewEvent(t, c, s.now())
	if err != nil {
		return err
	}
	return s.insertEvent(ctx, tx, e)
}

// insertEvent adds e to the outbox in the caller's transaction.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, e connections.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (id, connection_id, type, payload, created_at, attempts, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, 0, $5)`, e.ID, e.ConnectionID, string(e.Type), string(e.Payload), millis(e.CreatedAt))
	return err
}

// Save implements connections.Store. It inserts, and updates only when the insert finds the Zoom
// user connected already; so whether the connection was created is known for certain, whatever
// ID the caller proposed.
func (s *Store) Save(ctx context.Context, c connections.Connection) (connections.Connection, bool, error) {
	now := millis(s.now())
	var saved connections.Connection
	created := true
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `INSERT INTO connections (`+writtenColumns+`)
			VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $10, $10, NULL)
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
					updated_at = $9, refreshed_at = $9, last_error = NULL
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
func (s *Store) addRef(ctx context.Context, tx *sql.Tx, id, ref string, now int64) (bool, error) {
	if ref == "" {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO connection_refs (connection_id, ref, added_at) VALUES ($1, $2, $3)
		ON CONFLICT (connection_id, ref) DO NOTHING`, id, ref, now)
	if err != nil {
		return false, err
	}
	added, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return added == 1, s.setRefs(ctx, tx, id, ref, now)
}

// setRefs writes the connection's refs column from connection_refs, its ref (latest, or when
// empty the latest left), and its updated_at.
func (s *Store) setRefs(ctx context.Context, tx *sql.Tx, id, latest string, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT ref FROM connection_refs WHERE connection_id = $1 ORDER BY added_at, ref`, id)
	if err != nil {
		return err
	}
	refs := []string{}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			rows.Close()
			return err
		}
		refs = append(refs, ref)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
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
func (s *Store) RemoveRef(ctx context.Context, id, ref string) (connections.Connection, error) {
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
func (s *Store) Get(ctx context.Context, id string) (connections.Connection, error) {
	return s.lookup(ctx, `SELECT `+columns+` FROM connections WHERE id = $1`, id)
}

// FindByZoomUserID implements connections.Store.
func (s *Store) FindByZoomUserID(ctx context.Context, zoomUserID string) (connections.Connection, error) {
	return s.lookup(ctx, `SELECT `+columns+` FROM connections WHERE zoom_user_id = $1`, zoomUserID)
}

// preferActive orders several matches so the active connection updated last comes first.
const preferActive = ` ORDER BY CASE status WHEN 'active' THEN 0 ELSE 1 END, updated_at DESC, id LIMIT 1`

// FindByEmail implements connections.Store.
func (s *Store) FindByEmail(ctx context.Context, email string) (connections.Connection, error) {
	return s.lookup(ctx, `SELECT `+columns+` FROM connections WHERE lower(email) = lower($1)`+preferActive, email)
}

// FindByRef implements connections.Store.
func (s *Store) FindByRef(ctx context.Context, ref string) (connections.Connection, error) {
	return s.lookup(ctx, `SELECT `+columns+` FROM connections
		WHERE id IN (SELECT connection_id FROM connection_refs WHERE ref = $1)`+preferActive, ref)
}

// List implements connections.Store.
func (s *Store) List(ctx context.Context, f connections.Filter) ([]connections.Connection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM connections
		WHERE ($1 = '' OR id IN (SELECT connection_id FROM connection_refs WHERE ref = $1)) AND ($2 = '' OR status = $2)
		ORDER BY created_at, id`, f.Ref, string(f.Status))
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

// Delete implements connections.Store. Meetings go with the connection (ON DELETE CASCADE, and
// explicitly, so a database with foreign keys off loses nothing either).
func (s *Store) Delete(ctx context.Context, id string) (connections.Connection, error) {
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
func (s *Store) lock(ctx context.Context, tx *sql.Tx, id string) (connections.Connection, error) {
	return scanConnection(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM connections WHERE id = $1 `+s.dialect.LockRow, id))
}

// Update implements connections.Store. It is the one transaction held open across a call to
// Zoom, on purpose: Zoom rotates a refresh token on every use, so the row lock must cover the
// refresh from reading the old token to storing the new one, or two refreshes race and the
// connection is lost. The hold is bounded by Options.UpdateHold.
func (s *Store) Update(ctx context.Context, id string, fn connections.UpdateFunc) (connections.Connection, error) {
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
func (s *Store) PutMeetings(ctx context.Context, connectionID string, meetingIDs ...int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.putMeetings(ctx, tx, connectionID, meetingIDs) })
}

func (s *Store) putMeetings(ctx context.Context, tx *sql.Tx, connectionID string, meetingIDs []int64) error {
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
func (s *Store) ReplaceMeetings(ctx context.Context, connectionID string, meetingIDs []int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM meetings WHERE connection_id = $1`, connectionID); err != nil {
			return err
		}
		return s.putMeetings(ctx, tx, connectionID, meetingIDs)
	})
}

// DeleteMeeting implements connections.Store.
func (s *Store) DeleteMeeting(ctx context.Context, meetingID int64) error {
	_, err := s.exec(ctx, `DELETE FROM meetings WHERE meeting_id = $1`, meetingID)
	return err
}

// MeetingHost implements connections.Store.
func (s *Store) MeetingHost(ctx context.Context, meetingID int64) (connections.Connection, error) {
	return s.lookup(ctx, `SELECT `+columns+` FROM connections
		WHERE id = (SELECT connection_id FROM meetings WHERE meeting_id = $1)`, meetingID)
}

// Meetings implements connections.Store.
func (s *Store) Meetings(ctx context.Context, connectionID string) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT meeting_id FROM meetings WHERE connection_id = $1 ORDER BY meeting_id`, connectionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClaimMeetingListing implements connections.Store: a compare-and-set on meetings_listed_at.
func (s *Store) ClaimMeetingListing(ctx context.Context, connectionID string, now, notSince time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE connections SET meetings_listed_at = $2
		WHERE id = $1 AND (meetings_listed_at IS NULL OR meetings_listed_at < $3)`, connectionID, millis(now), millis(notSince))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MeetingListingsDue implements connections.Store.
func (s *Store) MeetingListingsDue(ctx context.Context, notSince time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM connections WHERE status = 'active'
		AND (meetings_listed_at IS NULL OR meetings_listed_at < $1) ORDER BY created_at, id`, millis(notSince))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClaimEvents implements connections.Store. A claim moves the event's next attempt to the end of
// the lease, with a compare on the time it read, so two processes never claim one event at once.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]connections.Event, error) {
	var claimed []connections.Event
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, connection_id, type, payload, created_at, attempts, next_attempt_at FROM events e
			WHERE next_attempt_at <= $1
			AND NOT EXISTS (SELECT 1 FROM events earlier WHERE earlier.connection_id = e.connection_id AND earlier.seq < e.seq)
			ORDER BY seq LIMIT $2`, millis(now), limit)
		if err != nil {
			return err
		}
		type due struct {
			event connections.Event
			next  int64
		}
		var candidates []due
		for rows.Next() {
			var d due
			var eventType, payload string
			var created int64
			if err := rows.Scan(&d.event.ID, &d.event.ConnectionID, &eventType, &payload, &created, &d.event.Attempts, &d.next); err != nil {
				rows.Close()
				return err
			}
			d.event.Type, d.event.Payload, d.event.CreatedAt = connections.EventType(eventType), []byte(payload), fromMillis(created)
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

// ConsumeState implements connections.Store. Only a hash of the state is kept.
func (s *Store) ConsumeState(ctx context.Context, state string, expiresAt time.Time) (bool, error) {
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

// PendingEvents implements connections.Store.
func (s *Store) PendingEvents(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n)
	return n, err
}

// EventDelivered implements connections.Store.
func (s *Store) EventDelivered(ctx context.Context, eventID string) error {
	_, err := s.exec(ctx, `DELETE FROM events WHERE id = $1`, eventID)
	return err
}

// EventFailed implements connections.Store.
func (s *Store) EventFailed(ctx context.Context, eventID string, retryAt time.Time, reason string) error {
	_, err := s.exec(ctx, `UPDATE events SET next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		eventID, millis(retryAt), reason)
	return err
}
