package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/doctor"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// runDoctor prints the doctor's checklist; configuration problems are failed checks too.
func runDoctor(ctx context.Context, inv invocation) error {
	cfg, loadErr := config.Load(inv.getenv)
	stdout := inv.stdout
	var checks []doctor.Check
	var cerr *config.Error
	switch {
	case errors.As(loadErr, &cerr):
		checks = doctor.ConfigProblems(cerr)
	case loadErr != nil:
		return loadErr
	default:
		d := doctor.Deps{
			Config:     cfg,
			Zoom:       newZoomClient(cfg, zoom.Hooks{}),
			HTTPClient: zoom.NewHTTPClient(zoom.DefaultAttemptTimeout),
			Now:        time.Now,
		}
		if cfg.Connections != nil {
			vault, _, err := newVaultAndKeyring(cfg.Connections)
			if err != nil {
				return err
			}
			db, openErr := openDatabase(ctx, cfg.Connections.Database)
			d.Connected = &doctor.Connected{OpenErr: openErr, Vault: vault, Zoom: newUserClient(cfg, zoom.Hooks{})}
			if openErr == nil {
				defer db.Close()
				d.Connected.Store, d.Connected.Outbox = db.Connections(), db.Outbox()
			}
		}
		checks = doctor.Run(ctx, d)
	}
	if failed := doctor.Print(stdout, checks); failed > 0 {
		// Print has written the summary: the exit status is all that is left to say.
		return quietError{fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))}
	}
	return nil
}
