package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
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

// openDatabase opens and migrates the database the configuration names.
func openDatabase(ctx context.Context, db config.Database) (*sqlstore.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	if db.Engine == config.Postgres {
		return postgres.Open(ctx, db.URL.Reveal(), sqlstore.Options{})
	}
	return sqlite.Open(ctx, db.Path, sqlstore.Options{})
}

// attachWhenOpen opens the database and attaches it to db: once now, then, if the database is
// down, in the background until it answers or ctx ends. A database down at start does not stop
// the service: the routes that need no database keep working, and the stores on db answer
// ErrUnavailable meanwhile. opened runs, in the background, once the database is attached. It returns how the first
// try went, for the startup line.
func attachWhenOpen(ctx context.Context, db *sqlstore.DB, cfg config.Database, logger zerolog.Logger, opened func()) string {
	first, err := openDatabase(ctx, cfg)
	if err == nil {
		db.Attach(first)
		go opened() // its checks read the whole table's counts: serving need not wait for them
		return cfg.Engine + " ready"
	}
	logger.Warn().Str("database", cfg.Engine).Err(err).
		Msg("database unavailable: connected accounts answer 503 until it is back; retrying")
	go func() {
		wait := storeRetryInitial
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			later, err := openDatabase(ctx, cfg)
			if err == nil {
				db.Attach(later)
				logger.Info().Str("database", cfg.Engine).Msg("database ready")
				opened()
				return
			}
			logger.Warn().Str("database", cfg.Engine).Err(err).Dur("retry_in", wait).Msg("database still unavailable")
			wait = min(2*wait, storeRetryMax)
		}
	}()
	return cfg.Engine + " unavailable, retrying"
}
