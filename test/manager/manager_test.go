package manager_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/crowd"
	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/pipenet"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend/vendtest"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const redirect = "https://tokens.example.com/oauth/callback"

type fixture struct {
	m     *connections.Manager
	store connections.Store
	emu   *zoomemu.Emulator
	uc    *zoom.UserClient
	clock *fakeclock.Clock
	vault *connections.Vault
	// transport reaches the emulator.
	transport http.RoundTripper
}

func newFixture(tb testing.TB, wrap func(connections.Store) connections.Store) *fixture {
	tb.Helper()
	clk := fakeclock.New(time.Now())
	emu := zoomemu.New(zoomemu.Config{
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret", RedirectURI: redirect},
		Users:    []zoomemu.User{{ID: "alice-id", Email: "alice@example.com", AccountID: "acct", PMI: 5551112222}},
		Now:      clk.Now,
	})
	// The emulator answers on an in-memory network, so that a test can run in a synctest bubble
	// (its waits then take no real time); it works as well outside one.
	emuURL, transport := pipenet.Serve(tb, emu)
	tb.Cleanup(emu.Close)
	store := sqlitetest.Open(tb, sqlstore.Options{Now: clk.Now}).Connections()
	var s connections.Store = store
	if wrap != nil {
		s = wrap(store)
	}
	accounts := vendtest.Connected(tb, s, emuURL, redirect, vendtest.Config{Now: clk.Now,
		HTTPClient: &http.Client{Transport: transport, Timeout: 5 * time.Second}, RefusalGrace: 50 * time.Millisecond})
	return &fixture{m: accounts.Manager, store: s, emu: emu, uc: accounts.Zoom, clock: clk, vault: accounts.Vault, transport: transport}
}

// connect runs alice's consent and stores her connection, as the callback does.
func (f *fixture) connect(tb testing.TB, ref string) connections.Connection {
	tb.Helper()
	f.emu.AutoApprove("alice-id")
	verifier := oauth2.GenerateVerifier()
	noRedirect := &http.Client{Transport: f.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(f.uc.AuthCodeURL("s", verifier))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	g, err := f.uc.Exchange(context.Background(), loc.Query().Get("code"), verifier)
	if err != nil {
		tb.Fatal(err)
	}
	c, _, err := f.m.Connect(context.Background(), connections.Connection{ZoomUserID: "alice-id", ZoomAccountID: "acct",
		Email: "alice@example.com", Ref: ref, Scopes: g.Scopes},
		connections.Tokens{Access: g.AccessToken, Refresh: g.RefreshToken, AccessExpiresAt: g.ExpiresAt}, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (f *fixture) obf(ctx context.Context, c connections.Connection) (string, error) {
	return f.m.Call(ctx, c, func(ctx context.Context, accessToken string) (string, error) {
		return f.uc.OBF(ctx, zoom.UserToken{Value: accessToken}, 0)
	})
}

// burst makes n concurrent OBF calls and returns how many failed.
func (f *fixture) burst(tb testing.TB, c connections.Connection, n int) int {
	return n - crowd.Count(n, func() bool {
		token, err := f.obf(context.Background(), c)
		if err != nil || !strings.HasPrefix(token, "emu_obf_") {
			tb.Logf("OBF: %q %v", token, err)
			return false
		}
		return true
	})
}

func TestOneRefreshForABurstAfterRevocation(t *testing.T) {
	f := newFixture(t, nil)
	c := f.connect(t, "")
	if failed := f.burst(t, c, 20); failed != 0 || f.emu.Refreshes("alice-id") != 0 {
		t.Fatalf("fresh tokens: %d failed, %d refreshes", failed, f.emu.Refreshes("alice-id"))
	}
	f.emu.ExpireUserTokens("alice-id") // Zoom no longer takes the stored access token
	if failed := f.burst(t, c, 100); failed != 0 {
		t.Errorf("%d of 100 failed", failed)
	}
	if got := f.emu.Refreshes("alice-id"); got != 1 {
		t.Errorf("%d refreshes, want exactly 1", got)
	}
	if got := f.emu.StaleRefreshes(); got != 0 {
		t.Errorf("%d stale refreshes", got)
	}
}

func TestOneRefreshForABurstAtExpiry(t *testing.T) {
	f := newFixture(t, nil)
	c := f.connect(t, "")
	f.clock.Add(59 * time.Minute) // inside the margin (6 minutes of a one-hour token)
	if failed := f.burst(t, c, 100); failed != 0 {
		t.Errorf("%d of 100 failed", failed)
	}
	if got, stale := f.emu.Refreshes("alice-id"), f.emu.StaleRefreshes(); got != 1 || stale != 0 {
		t.Errorf("%d refreshes, %d stale; want 1 and 0", got, stale)
	}
	stored, _ := f.store.Get(context.Background(), c.ID)
	if !stored.RefreshedAt.Equal(f.clock.Now().Truncate(time.Millisecond)) && stored.RefreshedAt.Before(c.RefreshedAt.Add(time.Minute)) {
		t.Errorf("refreshed_at %v not moved", stored.RefreshedAt)
	}
	f.clock.Add(50 * time.Minute) // still fresh: no second refresh
	f.burst(t, c, 10)
	if got := f.emu.Refreshes("alice-id"); got != 1 {
		t.Errorf("%d refreshes after a burst with a fresh token, want still 1", got)
	}
}

func TestKilledRefreshTokenNeedsReauthorization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.connect(t, "r-1")
		refresh := f.emu.RefreshTokenOf("alice-id")
		f.emu.KillRefreshToken("alice-id")
		f.emu.ExpireUserTokens("alice-id")
		_, err := f.obf(context.Background(), c)
		if !errors.Is(err, connections.ErrReauthorizationRequired) {
			t.Fatalf("got %v, want ErrReauthorizationRequired", err)
		}
		stored, _ := f.store.Get(context.Background(), c.ID)
		if stored.Status != connections.StatusReauthorizationRequired || stored.LastError == "" || strings.Contains(stored.LastError, refresh) ||
			strings.Contains(stored.LastError, "emu_") {
			t.Errorf("stored: status %q last_error %q", stored.Status, stored.LastError)
		}
		// Asking again does not go back to Zoom.
		before := f.emu.Calls(zoomemu.EndpointToken)
		if _, err := f.obf(context.Background(), c); !errors.Is(err, connections.ErrReauthorizationRequired) ||
			f.emu.Calls(zoomemu.EndpointToken) != before {
			t.Errorf("a dead connection: %v, %d token calls", err, f.emu.Calls(zoomemu.EndpointToken)-before)
		}
		again := f.connect(t, "")
		if again.ID != c.ID || again.Status != connections.StatusActive || again.Ref != "r-1" {
			t.Errorf("reconnect: %+v", again.Fields())
		}
		if token, err := f.obf(context.Background(), again); err != nil || token == "" {
			t.Errorf("after reconnecting: %v", err)
		}
	})
}

// failingWrites makes the write after a refresh fail, as a database that drops mid-refresh
// does: the store's own transaction runs fn and then rolls back.
type failingWrites struct {
	connections.Store
	armed atomic.Bool
}

func (s *failingWrites) Update(ctx context.Context, id string, fn connections.UpdateFunc) (connections.Connection, error) {
	if !s.armed.Load() {
		return s.Store.Update(ctx, id, fn)
	}
	return s.Store.Update(ctx, id, func(ctx context.Context, cur connections.Connection) (connections.Change, error) {
		change, err := fn(ctx, cur)
		if err == nil && change.Tokens != nil {
			return connections.Change{}, errors.New("connection to the database lost")
		}
		return change, err
	})
}

// afterAFailedWrite connects alice and makes a call that refreshes her tokens while the write
// of the rotated ones fails: they are held in memory, and the caller got ErrUnavailable.
func afterAFailedWrite(t *testing.T) (*fixture, *failingWrites, connections.Connection) {
	t.Helper()
	var fw *failingWrites
	f := newFixture(t, func(s connections.Store) connections.Store { fw = &failingWrites{Store: s}; return fw })
	c := f.connect(t, "")
	f.emu.ExpireUserTokens("alice-id")
	fw.armed.Store(true)
	if _, err := f.obf(context.Background(), c); !errors.Is(err, connections.ErrUnavailable) || f.emu.Refreshes("alice-id") != 1 {
		t.Fatalf("with the write failing: %v, %d refreshes", err, f.emu.Refreshes("alice-id"))
	}
	return f, fw, c
}

func TestRefreshedTokensAreNeverDroppedWhenTheWriteFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, fw, c := afterAFailedWrite(t)
		// Still failing: the tokens wait in memory; nothing is refreshed again with the dead token.
		if _, err := f.obf(context.Background(), c); !errors.Is(err, connections.ErrUnavailable) {
			t.Errorf("while the write keeps failing: %v", err)
		}
		fw.armed.Store(false)
		token, err := f.obf(context.Background(), c)
		if err != nil || token == "" {
			t.Fatalf("after the database is back: %v", err)
		}
		if got, stale := f.emu.Refreshes("alice-id"), f.emu.StaleRefreshes(); got != 1 || stale != 0 {
			t.Errorf("%d refreshes and %d stale, want 1 and 0: the rotated token was lost", got, stale)
		}
		stored, _ := f.store.Get(context.Background(), c.ID)
		if tokens, _ := f.vault.Open(stored); tokens.Refresh != f.emu.RefreshTokenOf("alice-id") {
			t.Errorf("the stored refresh token is not Zoom's live one")
		}
	})
}

func TestKeepAliveRefreshesIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.connect(t, "")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go f.m.Run(ctx, 2*time.Hour, 10*time.Millisecond, time.Millisecond)
		time.Sleep(50 * time.Millisecond) // five checks
		synctest.Wait()
		if got := f.emu.Refreshes("alice-id"); got != 0 {
			t.Fatalf("refreshed a connection that is not idle: %d", got)
		}
		f.clock.Add(2*time.Hour + time.Minute)
		time.Sleep(50 * time.Millisecond) // five checks: one refresh, then a fresh connection
		synctest.Wait()
		if got := f.emu.Refreshes("alice-id"); got != 1 {
			t.Errorf("%d keep-alive refreshes, want 1", got)
		}
	})
}

func TestDeleteRevokesAtZoom(t *testing.T) {
	f := newFixture(t, nil)
	c := f.connect(t, "")
	if _, err := f.m.Delete(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.emu.Revoked(); len(got) != 1 || got[0] != "alice-id" {
		t.Errorf("revoked %v", got)
	}
	if _, err := f.m.Lookup(context.Background(), "alice-id", ""); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("lookup after delete: %v", err)
	}
}

func TestLookupByIDEmailAndRef(t *testing.T) {
	f := newFixture(t, nil)
	c := f.connect(t, "customer-7")
	for _, tc := range []struct{ user, ref string }{{"alice-id", ""}, {"ALICE@example.com", ""}, {"", "customer-7"}} {
		got, err := f.m.Lookup(context.Background(), tc.user, tc.ref)
		if err != nil || got.ID != c.ID {
			t.Errorf("Lookup(%q, %q): %v %v", tc.user, tc.ref, got.ID, err)
		}
	}
	if _, err := f.m.Lookup(context.Background(), "nobody@example.com", ""); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	down := connections.NewManager(connections.ManagerConfig{Store: new(sqlstore.DB).Connections()})
	if _, err := down.Lookup(context.Background(), "alice-id", ""); !errors.Is(err, connections.ErrUnavailable) {
		t.Errorf("database down: %v", err)
	}
}

// heldUpdates holds every Update at its start until release is closed, once armed.
type heldUpdates struct {
	connections.Store
	armed   atomic.Bool
	waiting chan struct{}
	release chan struct{}
}

func (s *heldUpdates) Update(ctx context.Context, id string, fn connections.UpdateFunc) (connections.Connection, error) {
	if s.armed.Load() {
		s.waiting <- struct{}{}
		<-s.release
	}
	return s.Store.Update(ctx, id, fn)
}

// A caller whose token Zoom rejected is never handed that token back by a refresh another caller
// started for an older token: here one caller holds a stale read of the row (whose token another
// refresh has already replaced) while the newer token is revoked too.
func TestARejectedTokenIsNeverHandedBack(t *testing.T) {
	hold := &heldUpdates{waiting: make(chan struct{}, 4), release: make(chan struct{})}
	f := newFixture(t, func(s connections.Store) connections.Store { hold.Store = s; return hold })
	stale := f.connect(t, "")
	f.emu.ExpireUserTokens("alice-id")
	if _, err := f.obf(context.Background(), stale); err != nil { // refreshes: the row holds a new token
		t.Fatal(err)
	}
	current, err := f.m.Connection(context.Background(), stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.emu.ExpireUserTokens("alice-id") // the new token is revoked too
	hold.armed.Store(true)
	staleDone := make(chan error, 1)
	go func() { _, err := f.obf(context.Background(), stale); staleDone <- err }()
	<-hold.waiting // the stale caller's refresh waits for the row
	currentDone := make(chan error, 1)
	go func() { _, err := f.obf(context.Background(), current); currentDone <- err }()
	select {
	case <-hold.waiting: // the current caller's refresh is its own
	case <-time.After(5 * time.Second):
		hold.armed.Store(false)
		close(hold.release)
		t.Fatal("the caller whose token was rejected waits on the stale caller's refresh, which will hand it that token back")
	}
	hold.armed.Store(false)
	close(hold.release)
	if err := <-staleDone; err != nil {
		t.Errorf("stale caller: %v", err)
	}
	if err := <-currentDone; err != nil {
		t.Errorf("current caller: %v", err)
	}
	if got := f.emu.StaleRefreshes(); got != 0 {
		t.Errorf("%d stale refreshes", got)
	}
}

// A stop waits for a refresh whose caller hung up: its rotated token is stored before the
// database closes, and the connection lives on.
func TestDrainWaitsForARefreshWhoseCallerLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.connect(t, "")
		f.clock.Add(59 * time.Minute) // inside the refresh margin: the next call refreshes first
		f.emu.SetLatency(time.Second) // the refresh is at Zoom when the caller gives up
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := f.obf(ctx, c); err == nil {
			t.Fatal("the caller that gave up got a token")
		}
		drainCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if lost := f.m.Drain(drainCtx); len(lost) != 0 {
			t.Fatalf("lost %v", lost)
		}
		f.emu.SetLatency(0)
		stored, _ := f.store.Get(context.Background(), c.ID)
		if tokens, _ := f.vault.Open(stored); tokens.Refresh != f.emu.RefreshTokenOf("alice-id") || f.emu.Refreshes("alice-id") != 1 {
			t.Errorf("after the drain the stored refresh token is not Zoom's live one (%d refreshes)", f.emu.Refreshes("alice-id"))
		}
	})
}

// A stop writes rotated tokens a failed write left in memory, retrying while the database comes
// back; if it never does before the deadline, it names the connection.
func TestDrainStoresRotatedTokensHeldInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, fw, c := afterAFailedWrite(t)
		short, stop := context.WithTimeout(context.Background(), time.Second)
		defer stop()
		if lost := f.m.Drain(short); !slices.Equal(lost, []string{c.ID}) {
			t.Errorf("the database still down at the deadline: lost %v, want %s named", lost, c.ID)
		}
		go func() {
			time.Sleep(2 * time.Second)
			fw.armed.Store(false) // the database is back
		}()
		long, stop2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop2()
		if lost := f.m.Drain(long); len(lost) != 0 {
			t.Fatalf("lost %v", lost)
		}
		stored, _ := f.store.Get(context.Background(), c.ID)
		if tokens, _ := f.vault.Open(stored); tokens.Refresh != f.emu.RefreshTokenOf("alice-id") {
			t.Errorf("the stored refresh token is not Zoom's live one")
		}
	})
}
