// Package sqlitetest opens real SQLite stores for tests of the code above the store (the
// connections domain, the HTTP handlers), so they run on the database the service ships with.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// Open opens a migrated SQLite database in a temporary folder, closed when the test ends.
func Open(tb testing.TB, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "zt.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}
