package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/postgres/pgtest"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// backend is one database the conformance suite runs against: a fresh, empty database per test.
type backend struct {
	dialect sqlstore.Dialect
	// openDB opens a new handle on the test's database, as another process would.
	openDB func(tb testing.TB) *sql.DB
	// dump returns everything the database holds, as an attacker with a copy of it would see it.
	dump func(tb testing.TB) []byte
}

// backends lists the databases; every conformance test runs on each.
var backends = []struct {
	name string
	new  func(tb testing.TB) backend
}{
	{"SQLite", newSQLite},
	{"PostgreSQL", newPostgres},
}

// forEachBackend runs test once per database, each with a fresh one.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { test(t, be.new(t)) })
	}
}

func newSQLite(tb testing.TB) backend {
	path := filepath.Join(tb.TempDir(), "zoomtoken.db")
	return backend{
		dialect: sqlite.Dialect(),
		openDB: func(tb testing.TB) *sql.DB {
			db, err := sqlite.OpenDB(path)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		},
		// The file and its write-ahead log, where fresh writes sit until a checkpoint.
		dump: func(tb testing.TB) []byte {
			var all []byte
			for _, suffix := range []string{"", "-wal", "-shm"} {
				b, err := os.ReadFile(path + suffix)
				if err != nil && !os.IsNotExist(err) {
					tb.Fatal(err)
				}
				all = append(all, b...)
			}
			if len(all) == 0 {
				tb.Fatal("the database file is empty")
			}
			return all
		},
	}
}

func newPostgres(tb testing.TB) backend {
	url := pgtest.NewDatabase(tb)
	return backend{
		dialect: postgres.Dialect(),
		openDB: func(tb testing.TB) *sql.DB {
			db, err := postgres.OpenDB(url)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		},
		// What pg_dump would write: every column of every row of every table, as text (bytea
		// comes out as hex, which the token check looks for too).
		dump: func(tb testing.TB) []byte {
			db, err := postgres.OpenDB(url)
			if err != nil {
				tb.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
			if err != nil {
				tb.Fatal(err)
			}
			var tables []string
			for rows.Next() {
				var name string
				rows.Scan(&name)
				tables = append(tables, name)
			}
			rows.Close()
			var all strings.Builder
			for _, table := range tables {
				rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT t::text FROM %q t`, table))
				if err != nil {
					tb.Fatal(err)
				}
				for rows.Next() {
					var line string
					rows.Scan(&line)
					all.WriteString(line + "\n")
				}
				rows.Close()
			}
			return []byte(all.String())
		},
	}
}

// open returns the stores on a new, migrated handle.
func (b backend) open(tb testing.TB, opts sqlstore.Options) stores {
	tb.Helper()
	db := b.openDB(tb)
	if _, err := sqlstore.Migrate(context.Background(), db, b.dialect, 0); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return newStores(sqlstore.New(db, b.dialect, opts))
}

// stores is every store on one handle of the test database, as one process of the service has
// them.
type stores struct {
	*sqlstore.Connections
	*sqlstore.Outbox
	*sqlstore.Streams
	db *sqlstore.DB
}

func newStores(db *sqlstore.DB) stores {
	return stores{Connections: db.Connections(), Outbox: db.Outbox(), Streams: db.Streams(), db: db}
}

// Close closes the handle.
func (s stores) Close() error { return s.db.Close() }

// DB is the handle's database, for statements the stores do not make.
func (s stores) DB() *sql.DB {
	db, _ := s.db.SQL()
	return db
}

// containsSecret reports whether dump holds secret as text or as the hex PostgreSQL prints
// bytea in.
func containsSecret(dump []byte, secret string) bool {
	return strings.Contains(string(dump), secret) || strings.Contains(string(dump), hex.EncodeToString([]byte(secret)))
}
