package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// How long one attempt to open the database may take, and how the retries after a failed one
// are spaced.
const (
	storeOpenTimeout  = 10 * time.Second
	storeRetryInitial = time.Second
	storeRetryMax     = 30 * time.Second
)

// openStore opens and migrates the connections store the configuration names.
func openStore(ctx context.Context, db config.Database) (*sqlstore.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	if db.Engine == config.Postgres {
		return postgres.Open(ctx, db.URL.Reveal(), sqlstore.Options{})
	}
	return sqlite.Open(ctx, db.Path, sqlstore.Options{})
}

// newVault builds the vault that seals and opens stored tokens.
func newVault(c *config.Connections) (*connections.Vault, error) {
	keys := make([][]byte, len(c.EncryptionKeys))
	for i, k := range c.EncryptionKeys {
		keys[i] = []byte(k.Reveal())
	}
	ring, err := seal.NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	return connections.NewVault(ring), nil
}

// pendingStore is the connections store once the database has answered. A database that is
// down at start does not stop the service (the routes that need no database keep working): the
// store is opened in the background, retrying until it succeeds.
type pendingStore struct {
	mu    sync.Mutex
	store *sqlstore.Store
}

// Get returns the store, or false while the database has not been reached yet.
func (p *pendingStore) Get() (connections.Store, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store, p.store != nil
}

func (p *pendingStore) set(s *sqlstore.Store) {
	p.mu.Lock()
	p.store = s
	p.mu.Unlock()
}

// Close closes the store if it was opened.
func (p *pendingStore) Close() error {
	if s, ok := p.Get(); ok {
		return s.Close()
	}
	return nil
}

// openPendingStore tries once, then keeps trying in the background until ctx ends. It returns
// how the first try went, for the startup line.
func openPendingStore(ctx context.Context, db config.Database, logger zerolog.Logger) (*pendingStore, string) {
	p := &pendingStore{}
	s, err := openStore(ctx, db)
	if err == nil {
		p.set(s)
		return p, db.Engine + " ready"
	}
	logger.Warn().Str("database", db.Engine).Err(err).
		Msg("database unavailable: connected accounts answer 503 until it is back; retrying")
	go func() {
		wait := storeRetryInitial
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			s, err := openStore(ctx, db)
			if err == nil {
				p.set(s)
				logger.Info().Str("database", db.Engine).Msg("database ready")
				return
			}
			logger.Warn().Str("database", db.Engine).Err(err).Dur("retry_in", wait).Msg("database still unavailable")
			wait = min(2*wait, storeRetryMax)
		}
	}()
	return p, db.Engine + " unavailable, retrying"
}

// runRekey re-seals every stored connection with the first of TOKEN_ENCRYPTION_KEYS.
func runRekey(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	if cfg.Connections == nil {
		return errors.New("rekey: connected accounts are off: set ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET with the rest of their variables")
	}
	vault, err := newVault(cfg.Connections)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Connections.Database)
	if err != nil {
		return fmt.Errorf("rekey: opening the database: %w", err)
	}
	defer store.Close()
	report, err := connections.Rekey(ctx, store, vault)
	fmt.Fprintf(stdout, "re-sealed %d of %d connections with key %s\n", report.Resealed, report.Total, vault.SealingKey())
	for _, f := range report.Unopenable {
		fmt.Fprintf(stdout, "  not opened: %v\n", f.Err)
	}
	if err != nil {
		return fmt.Errorf("rekey: %w", err)
	}
	if n := len(report.Unopenable); n > 0 {
		return fmt.Errorf("rekey: %d connections open with none of the configured keys and were left as they are: "+
			"add the key they were sealed with to TOKEN_ENCRYPTION_KEYS and run rekey again, or delete them", n)
	}
	return nil
}
