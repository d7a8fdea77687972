// Package sqlstore keeps the service's data in a SQL database, once for both databases: the
// sqlite and postgres packages open a *sql.DB with their driver and hand it here with their
// Dialect (the few statements that differ, and their migrations). One DB handle carries a store
// per concern: Connections (connected accounts and their meetings), Streams (RTMS streams) and
// Outbox (the events both write, in the transaction of the change that causes them). Every
// query is written once, in SQL both databases accept; times are stored as Unix milliseconds
// so both compare them the same way. Tokens arrive sealed (connections.Vault): nothing here
// sees one in plain text.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
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

// DB is the database the stores share. The zero DB has no database yet: every store on it
// answers connections.ErrUnavailable until Attach hands it an opened, migrated one, so a
// database down at start costs the routes that need it a 503 each and nothing else. It is safe
// for concurrent use.
type DB struct {
	opened atomic.Pointer[database]
}

// database is an opened, migrated database and what the stores keep about it.
type database struct {
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

// Open migrates db and returns a DB on it; on failure it closes db.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts Options) (*DB, error) {
	if _, err := Migrate(ctx, db, d, 0); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the %s database: %w", d.Name, err)
	}
	return New(db, d, opts), nil
}

// New returns a DB on db, whose schema Migrate has brought up to date.
func New(db *sql.DB, d Dialect, opts Options) *DB {
	s := &database{db: db, dialect: d, now: opts.Now, hold: opts.UpdateHold}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hold <= 0 {
		s.hold = 30 * time.Second
	}
	h := &DB{}
	h.opened.Store(s)
	return h
}

// Attach makes the database that opened holds the one every store on d uses from now on: the
// service starts with an empty DB and attaches the database once it answers.
func (d *DB) Attach(opened *DB) { d.opened.Store(opened.opened.Load()) }

// open returns the database, and false while there is none yet.
func (d *DB) open() (*database, bool) {
	s := d.opened.Load()
	return s, s != nil
}

// lookup is database.lookup on the attached database; ErrUnavailable while there is none.
func (d *DB) lookup(ctx context.Context, query string, args ...any) (connections.Connection, error) {
	s, ok := d.open()
	if !ok {
		return connections.Connection{}, connections.ErrUnavailable
	}
	return s.lookup(ctx, query, args...)
}

// exec is database.exec on the attached database; ErrUnavailable while there is none.
func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, ok := d.open()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	return s.exec(ctx, query, args...)
}

// Connections is the store of connected accounts on d.
func (d *DB) Connections() *Connections { return &Connections{db: d} }

// Streams is the store of RTMS streams on d.
func (d *DB) Streams() *Streams { return &Streams{db: d} }

// Outbox is the outbox of events on d.
func (d *DB) Outbox() *Outbox { return &Outbox{db: d} }

// SQL returns the database handle, for the backend's own checks; false while there is none.
func (d *DB) SQL() (*sql.DB, bool) {
	s, ok := d.open()
	if !ok {
		return nil, false
	}
	return s.db, true
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	s, ok := d.open()
	if !ok {
		return connections.ErrUnavailable
	}
	return s.db.PingContext(ctx)
}

// Close closes the prepared statements and the database, if there is one.
func (d *DB) Close() error {
	s, ok := d.open()
	if !ok {
		return nil
	}
	s.stmts.Range(func(_, stmt any) bool {
		stmt.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// lookup reads one connection with a prepared statement of query.
func (s *database) lookup(ctx context.Context, query string, args ...any) (connections.Connection, error) {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return connections.Connection{}, err
	}
	return scanConnection(stmt.QueryRowContext(ctx, args...))
}

// prepared returns query's statement, preparing it on first use. database/sql prepares it again
// on each pooled connection as needed, so it outlives a dropped database connection.
func (s *database) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
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
func (s *database) writing() func() {
	if !s.dialect.SerializeWrites {
		return func() {}
	}
	s.writes.Lock()
	return s.writes.Unlock
}

// exec runs one write statement outside a transaction.
func (s *database) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer s.writing()()
	return s.db.ExecContext(ctx, query, args...)
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// inTx runs fn in a transaction and commits when fn succeeds.
func (s *database) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
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

// insertEvent adds e to the outbox in the caller's transaction.
func (s *database) insertEvent(ctx context.Context, tx *sql.Tx, e outbox.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (id, connection_id, type, payload, created_at, attempts, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, 0, $5)`, e.ID, e.Subject, string(e.Type), string(e.Payload), millis(e.CreatedAt))
	return err
}

// column reads a query's one column into a slice, as QueryContext's answer is passed to it.
func column[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var values []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	return values, rows.Err()
}
