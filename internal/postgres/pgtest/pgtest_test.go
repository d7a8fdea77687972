package pgtest

import (
	"context"
	"database/sql"
	"testing"
)

// TestServerAnswers is what make test runs to say whether the PostgreSQL half of the storage
// tests ran: it skips (or, under CI, fails) exactly when they do.
func TestServerAnswers(t *testing.T) {
	url := NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the fresh database does not answer: %v", err)
	}
}
