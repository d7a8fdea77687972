// Package sqlite opens the connections store on an embedded SQLite file, the default for one
// process: no server to run. The driver (modernc.org/sqlite) is pure Go, so the binary stays
// static. Several processes may share the file on one machine; for replicas on several
// machines, use the postgres package.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// BusyTimeout is how long a write waits for another holder of the database's write lock; it
// outlasts the longest refresh a lock holder may be waiting on Zoom for.
const BusyTimeout = 40 * time.Second

// Dialect is SQLite's: every transaction is BEGIN IMMEDIATE (set in the DSN), which takes the
// database's write lock at its start, so a connection's update lock and the migration lock need
// no statement of their own.
func Dialect() sqlstore.Dialect {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	return sqlstore.Dialect{Name: "SQLite", Migrations: migrations, SerializeWrites: true, Busy: busy}
}

// busy reports SQLITE_BUSY. Processes starting together on a new file race to turn on its
// write-ahead log, and SQLite answers the losers at once, without waiting out busy_timeout.
func busy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// OpenDB opens the database file at path, creating it readable by its owner only. WAL lets
// readers go on while a writer holds the lock; synchronous=FULL makes a committed refresh token
// survive a power cut.
func OpenDB(path string) (*sql.DB, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}

// Open opens (creating if need be) and migrates the store in the file at path.
func Open(ctx context.Context, path string, opts sqlstore.Options) (*sqlstore.DB, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, db, Dialect(), opts)
}
