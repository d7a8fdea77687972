package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/events"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
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

// newVaultAndKeyring builds the keyring of TOKEN_ENCRYPTION_KEYS and the vault over it that
// seals and opens stored tokens.
func newVaultAndKeyring(c *config.Connections) (*connections.Vault, *seal.Keyring, error) {
	ring, err := seal.NewKeyring(rawKeys(c)...)
	if err != nil {
		return nil, nil, err
	}
	return connections.NewVault(ring), ring, nil
}

// openPendingStore opens the connections store: once now, then, if the database is down, in the
// background until it answers or ctx ends. A database down at start does not stop the service:
// the routes that need no database keep working, and the store answers ErrUnavailable
// meanwhile. It also returns how the first try went, for the startup line.
func openPendingStore(ctx context.Context, db config.Database, logger zerolog.Logger) (*connections.PendingStore, string) {
	p := &connections.PendingStore{}
	s, err := openStore(ctx, db)
	if err == nil {
		p.Set(s)
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
				p.Set(s)
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
	vault, _, err := newVaultAndKeyring(cfg.Connections)
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

// newConnected builds the connected-account side: the user-level Zoom client, the Manager over
// the store, and the connect flow's link signer and cookie sealer.
func newConnected(cfg config.Config, store connections.Store, m *metrics.Metrics, logger zerolog.Logger) (*httpapi.Connected, *httpapi.ConnectFlow, error) {
	c := cfg.Connections
	uc := newUserClient(cfg, zoomHooks(m, logger))
	vault, keyring, err := newVaultAndKeyring(c)
	if err != nil {
		return nil, nil, err
	}
	manager := connections.NewManager(connections.ManagerConfig{
		Store:     store,
		Vault:     vault,
		Zoom:      uc,
		Refreshed: m.ObserveRefresh,
		Logger:    logger,
	})
	m.WatchConnections(func() (metrics.ConnectionCounts, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		list, err := store.List(ctx, connections.Filter{})
		pending, perr := store.PendingEvents(ctx)
		if err != nil || perr != nil {
			return metrics.ConnectionCounts{}, false
		}
		counts := metrics.ConnectionCounts{PendingEvents: pending,
			ByStatus: map[string]int{string(connections.StatusActive): 0, string(connections.StatusReauthorizationRequired): 0}}
		for _, conn := range list {
			counts.ByStatus[string(conn.Status)]++
		}
		return counts, true
	})
	flow := &httpapi.ConnectFlow{
		Links:        newLinkSigner(c),
		Cookies:      keyring,
		SecureCookie: strings.HasPrefix(c.PublicURL, "https://"),
		SuccessURL:   c.ConnectSuccessURL,
		Branding:     httpapi.Branding{AppName: c.AppName, LogoURL: c.LogoURL, SupportURL: c.SupportURL},
		Now:          time.Now,
	}
	return &httpapi.Connected{Manager: manager, Zoom: uc, ZAKTTL: cfg.ZAKTTL}, flow, nil
}

// newUserClient returns the client of the user-managed OAuth app.
func newUserClient(cfg config.Config, hooks zoom.Hooks) *zoom.UserClient {
	zc := zoomConfig(cfg, cfg.Connections.ClientID, cfg.Connections.ClientSecret, hooks)
	return zoom.NewUserClient(zc, cfg.Connections.PublicURL+"/oauth/callback")
}

func rawKeys(c *config.Connections) [][]byte {
	keys := make([][]byte, len(c.EncryptionKeys))
	for i, k := range c.EncryptionKeys {
		keys[i] = []byte(k.Reveal())
	}
	return keys
}

func newLinkSigner(c *config.Connections) *connectlink.Signer {
	return connectlink.NewSigner(c.PublicURL, rawKeys(c), time.Now)
}

// runConnectLink prints a connect link, as POST /admin/connect-links makes them.
// newConnectLinkFlags is connect-link's flag set, its usage written to out.
func newConnectLinkFlags(out io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet("connect-link", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.String("ref", "", "your own id for the user (at most 200 characters)")
	ttl := secondsOrDuration(connectlink.DefaultTTL)
	flags.Var(&ttl, "ttl", "how long the link works: a duration such as 24h, or seconds (at most 720h)")
	flags.Usage = func() {
		fmt.Fprintln(out, "Usage: zoomtoken connect-link [-ref R] [-ttl 24h|86400]")
		fmt.Fprintln(out, "Prints a link a user opens to connect their Zoom account.")
		flags.PrintDefaults()
	}
	return flags
}

// secondsOrDuration is a flag that takes plain seconds (86400) as well as a duration (24h), as
// the admin API's ttl_seconds does.
type secondsOrDuration time.Duration

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }

func (d *secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = secondsOrDuration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not seconds nor a duration such as 24h")
	}
	*d = secondsOrDuration(v)
	return nil
}

func runConnectLink(cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if cfg.Connections == nil {
		return errors.New("connect-link: connected accounts are off: set ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET with the rest of their variables")
	}
	flags := newConnectLinkFlags(stderr)
	if err := flags.Parse(args); err != nil {
		return err
	}
	ref := flags.Lookup("ref").Value.(flag.Getter).Get().(string)
	ttl := time.Duration(*flags.Lookup("ttl").Value.(*secondsOrDuration))
	if ttl < time.Second || ttl > connectlink.MaxTTL || utf8.RuneCountInString(ref) > connectlink.MaxRefLength {
		return errors.New("connect-link: -ttl must be from 1s to 720h and -ref at most 200 characters")
	}
	link, expires := newLinkSigner(cfg.Connections).Mint(ref, ttl)
	fmt.Fprintln(stdout, link)
	fmt.Fprintf(stderr, "works until %s\n", expires.Format(time.RFC3339))
	return nil
}

// newDeliverer returns the deliverer of connection events: to EVENTS_URL when it is set, and
// otherwise one that clears the outbox.
func newDeliverer(cfg config.Config, store connections.Store, streams *rtms.Service, m *metrics.Metrics, logger zerolog.Logger) (*events.Deliverer, error) {
	dc := events.Config{Store: store, Observe: m.ObserveEventDelivery, Logger: logger}
	if streams != nil {
		dc.Complete = streams.CompleteEvent // rtms.started carries the signature, which is not stored
	}
	if cfg.Events != nil {
		signer, err := standardwebhooks.NewWebhook(cfg.Events.SigningSecret.Reveal())
		if err != nil {
			return nil, errors.New("EVENTS_SIGNING_SECRET is not whsec_ followed by base64")
		}
		dc.URL, dc.Signer = cfg.Events.URL, signer
	}
	return events.New(dc), nil
}
