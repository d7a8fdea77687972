package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/zoomtoken/zoomtoken/internal/connections"
)

// runRekey re-seals every stored connection with the first of TOKEN_ENCRYPTION_KEYS.
func runRekey(ctx context.Context, inv invocation) error {
	cfg, err := loadConfig(inv)
	if err != nil {
		return err
	}
	stdout := inv.stdout
	if cfg.Connections == nil {
		return errors.New("rekey: connected accounts are off: set ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET with the rest of their variables")
	}
	vault, _, err := newVaultAndKeyring(cfg.Connections)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg.Connections.Database)
	if err != nil {
		return fmt.Errorf("rekey: opening the database: %w", err)
	}
	defer db.Close()
	report, err := connections.Rekey(ctx, db.Connections(), vault)
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
