// Package vendtest wires connected accounts for tests as the service wires them: the emulator's
// OAuth app ("oauth-client"), its user-level client, a fresh sealing key, and a Manager over the
// store a test hands it.
package vendtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/seal/sealtest"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// The emulator's OAuth app, as tests configure it.
const (
	ClientID     = "oauth-client"
	ClientSecret = "oauth-secret"
)

// Config is what a test changes of the wiring; the zero value suits most.
type Config struct {
	// Now is the Manager's and the client's clock; time.Now when nil.
	Now func() time.Time
	// HTTPClient reaches the emulator (an in-memory network, say); the client's own when nil.
	HTTPClient *http.Client
	// Budget bounds each Zoom call; the client's default when zero.
	Budget time.Duration
	// RefusalGrace, Refreshed and Logger are the Manager's (ManagerConfig).
	RefusalGrace time.Duration
	Refreshed    func(outcome string)
	Logger       zerolog.Logger
	// Key seals the tokens; a fresh random key when nil.
	Key []byte
}

// Accounts is connected accounts as a test sees them: what the vendor is given, and the key
// and vault that seal the stored tokens.
type Accounts struct {
	*vend.Connected
	Vault *connections.Vault
	Key   []byte
	Ring  *seal.Keyring
}

// Connected wires connected accounts on store against the emulator at emuURL, with redirectURI
// as the OAuth redirect.
func Connected(tb testing.TB, store connections.Store, emuURL, redirectURI string, c Config) Accounts {
	tb.Helper()
	key, ring := c.Key, (*seal.Keyring)(nil)
	if key == nil {
		key, ring = sealtest.Key(tb)
	} else {
		var err error
		if ring, err = seal.NewKeyring(key); err != nil {
			tb.Fatal(err)
		}
	}
	vault := connections.NewVault(ring)
	uc := zoom.NewUserClient(zoom.Config{ClientID: ClientID, ClientSecret: ClientSecret, OAuthBaseURL: emuURL, APIBaseURL: emuURL,
		Now: c.Now, HTTPClient: c.HTTPClient, Budget: c.Budget}, redirectURI)
	m := connections.NewManager(connections.ManagerConfig{Store: store, Vault: vault, Zoom: uc, RefusalGrace: c.RefusalGrace,
		Refreshed: c.Refreshed, Now: c.Now, Logger: c.Logger})
	return Accounts{Connected: &vend.Connected{Manager: m, Zoom: uc, ClientID: ClientID}, Vault: vault, Key: key, Ring: ring}
}
