package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Connected is what the connected-account checks need.
type Connected struct {
	// Store is the opened (and so migrated) store; nil when opening failed with OpenErr.
	Store connections.Store
	// Outbox is the opened store's outbox of events; nil when opening failed.
	Outbox  outbox.Store
	OpenErr error
	Vault   *connections.Vault
	Zoom    *zoom.UserClient
}

// checkConnected runs the connected-account checks: the public URL, the OAuth app's
// credentials, the database, and every stored row.
func checkConnected(ctx context.Context, cfg *config.Connections, d *Connected) []Check {
	checks := []Check{checkOAuthApp(ctx, d.Zoom)}
	db := Check{Name: "connections database", Status: Pass, Detail: cfg.Database.Engine + " reachable, schema up to date"}
	if d.Store == nil {
		db.Status, db.Detail = Fail, fmt.Sprintf("%s cannot be opened or migrated: %v", cfg.Database.Engine, d.OpenErr)
		db.Fix = "check DATABASE_URL (the server, the user's rights, the network); the service itself starts anyway and retries"
		if create := createDatabaseAdvice(cfg.Database, d.OpenErr); create != "" {
			db.Fix = create
		}
		return append(checks, db, skipped("stored connections", db.Name), skipped("event delivery", db.Name))
	}
	checks = append(checks, db, StoredConnections(ctx, d.Store, d.Vault, 0))
	if d.Outbox != nil {
		checks = append(checks, EventDelivery(ctx, d.Outbox))
	}
	return checks
}

// EventDelivery checks that events are going out: it fails while delivery is paused (the
// receiver answered 410 Gone) and warns of events kept as failed after days of retries.
func EventDelivery(ctx context.Context, store outbox.Store) Check {
	c := Check{Name: "event delivery", Status: Pass}
	paused, since, reason, err := store.DeliveryPaused(ctx)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: "cannot be read: " + err.Error()}
	}
	pending, err := store.PendingEvents(ctx)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: "cannot be read: " + err.Error()}
	}
	failed, err := store.Events(ctx, outbox.Filter{State: outbox.StateFailed})
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: "cannot be read: " + err.Error()}
	}
	c.Detail = fmt.Sprintf("%d pending, %d failed", pending, len(failed))
	switch {
	case paused:
		c.Status = Fail
		c.Detail = fmt.Sprintf("paused since %s (%s); %s", since.Format(time.RFC3339), reason, c.Detail)
		c.Fix = "fix EVENTS_URL's receiver, then POST /admin/events/retry resumes delivery and replays the failed events"
	case len(failed) > 0:
		c.Status = Warn
		c.Detail += " (kept after about three days of failed deliveries)"
		c.Fix = "GET /admin/events?state=failed lists them; POST /admin/events/retry replays them"
	}
	return c
}

// StoredConnections checks that the stored connections decrypt with TOKEN_ENCRYPTION_KEYS (all
// of them, or the oldest limit when limit is positive: the ones a removed key would strand
// first) and counts them by status. Start-up runs it with a limit, once the database has
// answered, so a large table neither delays serving nor fills memory.
func StoredConnections(ctx context.Context, store connections.Store, vault *connections.Vault, limit int) Check {
	fail := func(err error) Check {
		return Check{Name: "stored connections", Status: Fail, Detail: "cannot be listed: " + err.Error()}
	}
	counts, err := store.CountByStatus(ctx)
	if err != nil {
		return fail(err)
	}
	list, err := store.List(ctx, connections.Filter{Limit: limit})
	if err != nil {
		return fail(err)
	}
	unreadable := 0
	for _, c := range list {
		if _, err := vault.Open(c); err != nil {
			unreadable++
		}
	}
	active, dead := counts[connections.StatusActive], counts[connections.StatusReauthorizationRequired]
	checked := "every row decrypts"
	if total := active + dead; limit > 0 && total > limit {
		checked = fmt.Sprintf("the oldest %d rows decrypt", limit)
	}
	rows := Check{Name: "stored connections", Status: Pass,
		Detail: fmt.Sprintf("%d active, %d needing re-authorization; %s with TOKEN_ENCRYPTION_KEYS", active, dead, checked)}
	switch {
	case unreadable > 0:
		rows.Status = Fail
		rows.Detail = fmt.Sprintf("%d of %d connections do not decrypt with TOKEN_ENCRYPTION_KEYS", unreadable, len(list))
		if len(list) < active+dead {
			rows.Detail += fmt.Sprintf(" (the oldest %d checked)", len(list))
		}
		rows.Fix = "put back the key they were sealed with (zoomtoken rekey lists them), or delete them"
	case dead > 0:
		rows.Status = Warn
		rows.Fix = "those users must open a new connect link (GET /admin/connections?status=reauthorization_required lists them)"
	}
	return rows
}

// createDatabaseAdvice says how to create a PostgreSQL database that does not exist
// (SQLSTATE 3D000), naming the server, user and database of DATABASE_URL but never its
// password; "" for any other failure.
func createDatabaseAdvice(db config.Database, err error) string {
	if db.Engine != config.Postgres || err == nil || !strings.Contains(err.Error(), "3D000") {
		return ""
	}
	u, perr := url.Parse(db.URL.Reveal())
	name := strings.TrimPrefix(u.Path, "/")
	if perr != nil || name == "" {
		return ""
	}
	return fmt.Sprintf("the database %q does not exist on %s: create it (createdb -h %s -U %s %s, or CREATE DATABASE %s;), then run zoomtoken doctor again",
		name, u.Host, u.Hostname(), cmp.Or(u.User.Username(), "postgres"), name, name)
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

// checkWebhooks wants the event subscription: without it, a user who removes the app and the
// meetings created since the last daily listing are learned late.
func checkWebhooks(tokens []config.Secret) Check {
	c := Check{Name: "Zoom webhooks", Status: Pass, Detail: fmt.Sprintf("%d secret token(s); POST /webhooks/zoom is on", len(tokens))}
	if len(tokens) == 0 {
		c.Status, c.Detail = Warn, "ZOOM_WEBHOOK_SECRET_TOKENS is unset: removed apps and new meetings are learned late"
		c.Fix = "add an event subscription to the Zoom app (PUBLIC_URL/webhooks/zoom; app_deauthorized, meeting.created, meeting.updated, meeting.deleted, user.updated) and set its Secret Token"
	}
	return c
}

// checkEventsURL asks EVENTS_URL for its headers: any HTTP answer means it is reachable (the
// receiver may well refuse a HEAD).
func checkEventsURL(ctx context.Context, client *http.Client, target string) Check {
	c := Check{Name: "EVENTS_URL", Status: Pass}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			resp.Body.Close()
			c.Detail = fmt.Sprintf("reachable (HTTP %d to a HEAD)", resp.StatusCode)
			return c
		}
	}
	c.Status, c.Detail = Fail, "not reachable: "+transportProblem(err)
	c.Fix = "check the URL and that this host can reach it; events wait in the outbox (retried for about three days) meanwhile"
	return c
}

func transportProblem(err error) string {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return "no answer"
}

// rtmsControlScope is what a user's token needs to start and stop a meeting's stream; an S2S
// app needs its :admin form.
const rtmsControlScope = "meeting:update:participant_rtms_app_status"

// checkRTMS says whether Realtime Media Streams are on and whether anyone's token can start a
// stream: an active connection granted the control scope, or the S2S app granted its :admin form.
// Streams started from Zoom's own controls arrive by webhook either way.
func checkRTMS(ctx context.Context, cfg config.Config, d Deps) Check {
	c := Check{Name: "Realtime Media Streams", Status: Pass}
	var withScope, active int
	if d.Connected != nil && d.Connected.Store != nil {
		list, _ := d.Connected.Store.List(ctx, connections.Filter{Status: connections.StatusActive})
		active = len(list)
		for _, conn := range list {
			if slices.Contains(conn.Scopes, rtmsControlScope) {
				withScope++
			}
		}
	}
	s2s := false
	if d.Zoom != nil {
		scopes, err := d.Zoom.GrantedScopes(ctx)
		s2s = err == nil && slices.Contains(scopes, rtmsControlScope+":admin")
	}
	c.Detail = fmt.Sprintf("on for app %s (streams kept %s after their last event); %d of %d active connections may start streams",
		cfg.RTMS.ClientID, cfg.RTMS.StreamTTL, withScope, active)
	if s2s {
		c.Detail += ", and so may the S2S app"
	}
	if withScope == 0 && !s2s {
		c.Status = Warn
		c.Fix = "add " + rtmsControlScope + " to the app's scopes (users then reconnect), or " + rtmsControlScope +
			":admin to the S2S app, for POST /admin/rtms/start; streams started in Zoom still arrive"
	}
	return c
}
