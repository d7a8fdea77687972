package doctor

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Connected is what the connected-account checks need.
type Connected struct {
	// Store is the opened (and so migrated) store; nil when opening failed with OpenErr.
	Store   connections.Store
	OpenErr error
	Vault   *connections.Vault
	Zoom    *zoom.UserClient
}

// checkConnected runs the connected-account checks: the public URL, the OAuth app's
// credentials, the database, and every stored row.
func checkConnected(ctx context.Context, cfg *config.Connections, d *Connected) []Check {
	checks := []Check{checkPublicURL(cfg.PublicURL), checkOAuthApp(ctx, d.Zoom)}
	db := Check{Name: "connections database", Status: Pass, Detail: cfg.Database.Engine + " reachable, schema up to date"}
	if d.Store == nil {
		db.Status, db.Detail = Fail, fmt.Sprintf("%s cannot be opened or migrated: %v", cfg.Database.Engine, d.OpenErr)
		db.Fix = "check DATABASE_URL (the server, the user's rights, the network); the service itself starts anyway and retries"
		return append(checks, db)
	}
	checks = append(checks, db)
	list, err := d.Store.List(ctx, connections.Filter{})
	if err != nil {
		return append(checks, Check{Name: "stored connections", Status: Fail, Detail: "cannot be listed: " + err.Error()})
	}
	rows := Check{Name: "stored connections", Status: Pass}
	var active, dead, unreadable int
	for _, c := range list {
		if _, err := d.Vault.Open(c); err != nil {
			unreadable++
		}
		if c.Status == connections.StatusActive {
			active++
		} else {
			dead++
		}
	}
	rows.Detail = fmt.Sprintf("%d active, %d needing re-authorization; every row decrypts with TOKEN_ENCRYPTION_KEYS", active, dead)
	switch {
	case unreadable > 0:
		rows.Status = Fail
		rows.Detail = fmt.Sprintf("%d of %d connections do not decrypt with TOKEN_ENCRYPTION_KEYS", unreadable, len(list))
		rows.Fix = "put back the key they were sealed with (zoomtoken rekey lists them), or delete them"
	case dead > 0:
		rows.Status = Warn
		rows.Fix = "those users must open a new connect link (GET /admin/connections?status=reauthorization_required lists them)"
	}
	return append(checks, rows)
}

// checkPublicURL wants https, except on loopback (a developer's machine, the demo).
func checkPublicURL(raw string) Check {
	c := Check{Name: "PUBLIC_URL", Status: Pass, Detail: "register " + raw + "/oauth/callback as the app's redirect URL"}
	u, err := url.Parse(raw)
	if err != nil {
		c.Status, c.Detail = Fail, "does not parse"
		return c
	}
	host := u.Hostname()
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	if u.Scheme != "https" && !loopback {
		c.Status, c.Detail = Fail, "is plain http on a public host: the state cookie and Zoom's code would travel in clear"
		c.Fix = "serve the service over https and set PUBLIC_URL to its https:// address"
	}
	return c
}

// checkOAuthApp asks Zoom to refresh a token that cannot exist: with good app credentials Zoom
// answers invalid_grant (about the token); with bad ones, invalid_client.
func checkOAuthApp(ctx context.Context, uc *zoom.UserClient) Check {
	c := Check{Name: "OAuth app credentials", Status: Pass, Detail: "Zoom accepts ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET"}
	_, err := uc.Refresh(ctx, "zoomtoken-doctor-probe")
	if err == nil || zoom.IsRefreshTokenDead(err) {
		return c
	}
	c.Status, c.Detail = Fail, zoomProblem(err)
	if strings.Contains(err.Error(), "invalid_client") {
		c.Fix = "copy the Client ID and Client Secret of the user-managed (General) app exactly (they are usually the Meeting SDK key and secret)"
	}
	return c
}
