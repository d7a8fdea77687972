// Package postgres opens the connections store on PostgreSQL, for several replicas sharing their
// connections. It uses pgx through database/sql, so the store's queries are shared with SQLite.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Dialect is PostgreSQL's: a connection's update lock is its row lock (SELECT … FOR UPDATE), held
// by the one transaction that refreshes it and released at commit, or at once if the process
// dies.
func Dialect() sqlstore.Dialect {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	return sqlstore.Dialect{
		Name:    "PostgreSQL",
		LockRow: "FOR UPDATE",
		// An advisory lock on a fixed key ("zoom" in ASCII) makes replicas starting together
		// migrate in turn.
		MigrationLock: "SELECT pg_advisory_xact_lock(2054123373)",
		Migrations:    migrations,
	}
}

// OpenDB returns a pool on the database at url (postgres:// or postgresql://); it connects
// lazily.
func OpenDB(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	// Recycle connections so a server restart or failover leaves no stale ones for long.
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// Open connects to and migrates the store at url.
func Open(ctx context.Context, url string, opts sqlstore.Options) (*sqlstore.DB, error) {
	db, err := OpenDB(url)
	if err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, db, Dialect(), opts)
}
