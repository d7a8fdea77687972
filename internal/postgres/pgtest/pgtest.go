// Package pgtest gives tests a fresh PostgreSQL database of their own on the server that
// DATABASE_URL_TEST names. Without a server, tests skip, saying so, except under CI, where a
// skipped PostgreSQL test would hide half of what the storage suite proves, so they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvVar names the variable that points the tests at a PostgreSQL server, such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const EnvVar = "DATABASE_URL_TEST"

// NewDatabase creates an empty database for this test, drops it when the test ends, and returns
// its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		unavailable(tb, EnvVar+" is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvVar, err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(tb, "no PostgreSQL server answers at "+EnvVar+": "+err.Error())
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "zoomtoken_test_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("creating a test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

func unavailable(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL tests must run in CI, but %s", reason)
	}
	tb.Skipf("PostgreSQL half SKIPPED: %s (point %s at a server to run it)", reason, EnvVar)
}
