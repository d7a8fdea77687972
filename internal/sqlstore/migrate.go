package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one numbered schema step, read from a file named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func readMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var list []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %q is not named NNNN_what.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		list = append(list, migration{version: version, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(list, func(a, b migration) int { return a.version - b.version })
	for i, m := range list {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must run 1, 2, 3… without gaps", m.name)
		}
	}
	return list, nil
}

// Migrate brings the schema to version target (0 or less: the latest) and returns the version it
// found. Everything happens in one transaction that first takes the dialect's migration lock, so
// processes migrating one database at once take turns: the first applies, the others find
// nothing left to do. Both databases run DDL inside transactions, so a failed step leaves the
// schema as it was.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, target int) (from int, err error) {
	list, err := readMigrations(d.Migrations)
	if err != nil {
		return 0, err
	}
	if target <= 0 || target > len(list) {
		target = len(list)
	}
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		from, err = migrate(ctx, db, d, list, target)
		if err == nil || d.Busy == nil || !d.Busy(err) || wait > 2*time.Second {
			return from, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return from, err
		}
	}
}

// migrate applies the migrations from the schema's version up to target, in one transaction.
func migrate(ctx context.Context, db *sql.DB, d Dialect, list []migration, target int) (from int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return 0, fmt.Errorf("taking the migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&from); err != nil {
		return 0, err
	}
	if from > len(list) {
		return from, fmt.Errorf("the database schema is at version %d, newer than this zoomtoken knows (%d): run a newer zoomtoken", from, len(list))
	}
	for _, m := range list[from:target] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return from, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, time.Now().UnixMilli()); err != nil {
			return from, err
		}
	}
	return from, tx.Commit()
}

// SchemaVersion returns the version the database's schema is at (0 when never migrated) and the
// latest version this build knows.
func SchemaVersion(ctx context.Context, db *sql.DB, d Dialect) (current, latest int, err error) {
	list, err := readMigrations(d.Migrations)
	if err != nil {
		return 0, 0, err
	}
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	return current, len(list), err
}
