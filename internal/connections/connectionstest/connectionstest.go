// Package connectionstest builds the parts of a connected-account stack that tests in several
// packages share: an SQLite store in a temporary folder, a fresh random encryption key, and the
// wiring of a Manager to a user-level Zoom client. It is for tests only.
package connectionstest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// SQLite opens a migrated SQLite store in a temporary folder, closed when the test ends.
func SQLite(tb testing.TB, opts sqlstore.Options) *sqlstore.Store {
	tb.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "zt.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}

// Key returns a fresh random encryption key and the keyring holding it alone.
func Key(tb testing.TB) ([]byte, *seal.Keyring) {
	tb.Helper()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	ring, err := seal.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	return key, ring
}

// WithZoom fills in what cfg needs from Zoom, from uc, as the service wires it: refresh,
// meeting listing, revocation and the reading of Zoom's refusals.
func WithZoom(cfg connections.ManagerConfig, uc *zoom.UserClient) connections.ManagerConfig {
	cfg.Refresh = uc.RefreshTokens
	cfg.ListMeetings = uc.ListMeetings
	cfg.Revoke = uc.Revoke
	cfg.RefreshTokenDead = zoom.IsRefreshTokenDead
	cfg.AccessTokenRejected = zoom.IsInvalidAccessToken
	return cfg
}
