package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rs/zerolog"
	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/events"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// newZoomClient returns the S2S client, or nil when the bot endpoints are off. The REST base is
// passed only when the operator set it, so that otherwise the token's api_url decides.
func newZoomClient(cfg config.Config, hooks zoom.Hooks) *zoom.Client {
	if cfg.S2S == nil {
		return nil
	}
	zc := zoomConfig(cfg, cfg.S2S.ClientID, cfg.S2S.ClientSecret, hooks)
	zc.AccountID = cfg.S2S.AccountID
	return zoom.New(zc)
}

// zoomConfig is what every Zoom client of the service shares: the Zoom hosts, the call budget,
// the per-account rate limit and the hooks; clientID and secret name the app.
func zoomConfig(cfg config.Config, clientID string, secret config.Secret, hooks zoom.Hooks) zoom.Config {
	zc := zoom.Config{
		ClientID:     clientID,
		ClientSecret: secret.Reveal(),
		OAuthBaseURL: cfg.OAuthBaseURL,
		Budget:       cfg.ZoomTimeout,
		Hooks:        hooks,
		RateLimit:    cfg.ZoomRateLimit,
	}
	if cfg.APIBaseURLSet {
		zc.APIBaseURL = cfg.APIBaseURL
	}
	return zc
}

func newVideoSigner(cfg config.Config) *sdkjwt.VideoSigner {
	if cfg.VideoSDK == nil {
		return nil
	}
	return sdkjwt.NewVideoSigner(cfg.VideoSDK.Key, []byte(cfg.VideoSDK.Secret.Reveal()), time.Now)
}

func newSigner(cfg config.Config) *sdkjwt.Signer {
	if cfg.MeetingSDK == nil {
		return nil
	}
	return sdkjwt.NewSigner(cfg.MeetingSDK.Key, []byte(cfg.MeetingSDK.Secret.Reveal()), time.Now)
}

// zoomHooks feeds the Zoom metrics and logs each attempt that will be retried at debug: the
// route that gave up logs the final failure at warn, so one outage is one warning per request.
func zoomHooks(m *metrics.Metrics, logger zerolog.Logger) zoom.Hooks {
	h := m.ZoomHooks()
	h.Retrying = func(err *zoom.Error, attempt int, wait time.Duration) {
		logger.Debug().Str("zoom_op", err.Op).Str("zoom_kind", err.Kind.String()).Int("zoom_status", err.Status).
			Int("zoom_code", err.Code).Str("zoom_tracking_id", err.TrackingID).Int("attempt", attempt).
			Dur("retry_in", wait).Msg("zoom call failed; retrying")
	}
	return h
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

// newConnected builds the connected-account side: the user-level Zoom client, the Manager over
// the store, and the connect flow's link signer and cookie sealer.
func newConnected(cfg config.Config, store connections.Store, m *metrics.Metrics, logger zerolog.Logger) (*vend.Connected, *httpapi.ConnectFlow, error) {
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
	flow := &httpapi.ConnectFlow{
		Links:        newLinkSigner(c),
		Cookies:      keyring,
		SecureCookie: strings.HasPrefix(c.PublicURL, "https://"),
		SuccessURL:   c.ConnectSuccessURL,
		Branding:     httpapi.Branding{AppName: c.AppName, LogoURL: c.LogoURL, SupportURL: c.SupportURL},
		Now:          time.Now,
	}
	return &vend.Connected{Manager: manager, Zoom: uc, ZAKTTL: cfg.ZAKTTL, ClientID: c.ClientID}, flow, nil
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

// newDeliverer returns the deliverer of connection events: to EVENTS_URL when it is set, and
// otherwise one that clears the outbox.
func newDeliverer(cfg config.Config, store outbox.Store, streams *rtms.Service, m *metrics.Metrics, logger zerolog.Logger) (*events.Deliverer, error) {
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

// newApp returns the Zoom app tokens are vended from, as far as it needs no database: the S2S
// client, the ZAK user and the webhook tokens. serve adds connected accounts and RTMS streams.
func newApp(cfg config.Config, m *metrics.Metrics, logger zerolog.Logger) vend.App {
	s2s := newZoomClient(cfg, zoomHooks(m, logger))
	if s2s != nil {
		m.WatchTokenExpiry(s2s.TokenExpiry, time.Now)
	}
	return vend.App{S2S: s2s, ZAKUser: cfg.ZAKUser, ZAKTTL: cfg.ZAKTTL, WebhookTokens: reveal(cfg.WebhookSecretTokens)}
}

// reveal returns the secrets' values, for the component that checks them.
func reveal(secrets []config.Secret) []string {
	values := make([]string, len(secrets))
	for i, s := range secrets {
		values[i] = s.Reveal()
	}
	return values
}

// newCallbackSigners returns the verifiers of bot requests signed with CALLBACK_SIGNING_SECRETS.
func newCallbackSigners(cfg config.Config) ([]*standardwebhooks.Webhook, error) {
	var signers []*standardwebhooks.Webhook
	for _, s := range cfg.CallbackSigningSecrets {
		wh, err := standardwebhooks.NewWebhook(s.Reveal())
		if err != nil { // config.Load has checked the form; this is not reached
			return nil, errors.New("CALLBACK_SIGNING_SECRETS: an entry is not whsec_ followed by base64")
		}
		signers = append(signers, wh)
	}
	return signers, nil
}

// newAttendeeVerifier returns the checker of attendee's callback signatures, or nil when
// ATTENDEE_WEBHOOK_SECRETS is unset.
func newAttendeeVerifier(cfg config.Config) *attendee.Verifier {
	if cfg.Attendee == nil {
		return nil
	}
	keys := make([][]byte, len(cfg.Attendee.Keys))
	for i, k := range cfg.Attendee.Keys {
		keys[i] = []byte(k.Reveal())
	}
	return attendee.NewVerifier(keys)
}

// countsCacheFor is how long /metrics reuses its connection counts: a scrape, authenticated or
// not, costs the database one GROUP BY and one COUNT at most this often.
const countsCacheFor = 5 * time.Second

// watchConnections has /metrics count the connections by status and the events waiting, and
// say whether their delivery is paused.
func watchConnections(m *metrics.Metrics, db *sqlstore.DB) {
	store, events := db.Connections(), db.Outbox()
	m.WatchConnections(cachedCounts(countsCacheFor, time.Now, func() (metrics.ConnectionCounts, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		byStatus, err := store.CountByStatus(ctx)
		pending, perr := events.PendingEvents(ctx)
		paused, _, _, pauseErr := events.DeliveryPaused(ctx)
		if err != nil || perr != nil || pauseErr != nil {
			return metrics.ConnectionCounts{}, false
		}
		counts := metrics.ConnectionCounts{PendingEvents: pending, DeliveryPaused: paused, ByStatus: map[string]int{}}
		for status, n := range byStatus {
			counts.ByStatus[string(status)] = n
		}
		return counts, true
	}))
}

// cachedCounts answers count's last result for ttl, and asks count once however many scrapes
// arrive at once.
func cachedCounts(ttl time.Duration, now func() time.Time, count func() (metrics.ConnectionCounts, bool)) func() (metrics.ConnectionCounts, bool) {
	var mu sync.Mutex
	var at time.Time
	var last metrics.ConnectionCounts
	var ok bool
	return func() (metrics.ConnectionCounts, bool) {
		mu.Lock()
		defer mu.Unlock()
		if at.IsZero() || now().Sub(at) >= ttl {
			last, ok = count()
			at = now()
		}
		return last, ok
	}
}

// newBotLinks returns the keys of bot links, or nil when BOT_LINK_KEYS is unset.
func newBotLinks(cfg config.Config) *botlink.Keys {
	if len(cfg.BotLinkKeys) == 0 {
		return nil
	}
	keys := make([][]byte, len(cfg.BotLinkKeys))
	for i, k := range cfg.BotLinkKeys {
		keys[i] = []byte(k.Reveal())
	}
	return botlink.New(keys, time.Now)
}

// callbackReach is what CALLBACK_SECRETS_REACH lets a secret or a signature reach.
func callbackReach(cfg config.Config) vend.Reach {
	if cfg.CallbackReach == config.ReachConnected {
		return vend.ReachConnected
	}
	return vend.ReachOwnAccount
}

// onceInDatabase remembers signed requests' webhook-ids in the connections database, so a
// request replayed to another replica is refused there too. Only a hash of each is kept.
type onceInDatabase struct{ m *connections.Manager }

// FirstUse implements httpapi.OnceStore.
func (o onceInDatabase) FirstUse(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	return o.m.UseState(ctx, key, expiresAt)
}
