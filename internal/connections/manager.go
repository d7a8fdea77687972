package connections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Refresh outcomes, as the Refreshed hook reports them.
const (
	OutcomeRefreshed               = "refreshed"
	OutcomeReauthorizationRequired = "reauthorization_required"
	OutcomeFailed                  = "failed"
	OutcomeNotStored               = "not_stored"
)

// ManagerConfig is what a Manager works with.
type ManagerConfig struct {
	// Store keeps the connections. One whose database has not answered yet returns
	// ErrUnavailable, and the Manager passes that on.
	Store Store
	Vault *Vault
	// Zoom refreshes tokens, lists meetings and revokes tokens at Zoom.
	Zoom Zoom
	// Now is the clock expiry is judged by; time.Now when nil.
	Now func() time.Time
	// RefreshTimeout bounds one refresh, lock wait and write included; 30 s when zero.
	RefreshTimeout time.Duration
	// RefusalGrace is how long to wait, after Zoom refuses the stored refresh token, before
	// reading the row again and, if it still holds that token, marking the connection for
	// re-authorization: a process whose write of rotated tokens failed a moment ago gets that
	// long to store them. 2 s when zero.
	RefusalGrace time.Duration
	// Refreshed, when set, is told the outcome of every refresh attempt.
	Refreshed func(outcome string)
	Logger    zerolog.Logger
}

// Manager vends access tokens of connections and keeps them fresh. It makes exactly one
// refresh per connection per expiry however many callers and processes ask at once: callers in
// this process share one refresh (singleflight), and processes sharing the database take turns
// under the connection's update lock, each re-reading the row first and finding the others'
// result. A refresh Zoom has performed is committed before its access token is used; if that
// write fails, the tokens stay in memory and the write is retried until it lands.
type Manager struct {
	cfg    ManagerConfig
	flight singleflight.Group

	mu      sync.Mutex
	pending map[string]pendingTokens // connection id → tokens Zoom gave that are not stored yet
	// refreshing counts the refreshes in flight per connection, whoever started them (a caller,
	// perhaps gone since, or the keep-alive), so a stop can wait for them; idle is closed when
	// the last one ends.
	refreshing map[string]int
	idle       chan struct{}
}

type pendingTokens struct {
	tokens     Tokens
	zoomUserID string
	obtained   time.Time
}

// NewManager returns a Manager.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = 30 * time.Second
	}
	if cfg.RefusalGrace <= 0 {
		cfg.RefusalGrace = 2 * time.Second
	}
	if cfg.Refreshed == nil {
		cfg.Refreshed = func(string) {}
	}
	return &Manager{cfg: cfg, pending: map[string]pendingTokens{}, refreshing: map[string]int{}}
}

// Lookup finds the connection a bot names: by Zoom user id, by email (user holds an @), or by
// the operator's ref. Exactly one of user and ref must be given.
func (m *Manager) Lookup(ctx context.Context, user, ref string) (Connection, error) {
	s := m.cfg.Store
	var c Connection
	var err error
	switch {
	case ref != "":
		c, err = s.FindByRef(ctx, ref)
	case strings.Contains(user, "@"):
		c, err = s.FindByEmail(ctx, user)
	default:
		c, err = s.FindByZoomUserID(ctx, user)
	}
	return c, storeError(err)
}

// Connect stores a newly authorized connection with its tokens (a reconnect keeps the
// connection's id), maps its personal meeting id (pmi, when not zero) to it, and reports
// whether it is new.
func (m *Manager) Connect(ctx context.Context, c Connection, t Tokens, pmi int64) (Connection, bool, error) {
	var err error
	if c.Tokens, err = m.cfg.Vault.Seal(c.ZoomUserID, t); err != nil {
		return Connection{}, false, err
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	m.mu.Lock()
	for id, p := range m.pending {
		if p.zoomUserID == c.ZoomUserID {
			delete(m.pending, id) // a new authorization supersedes unstored tokens
		}
	}
	m.mu.Unlock()
	// What the connection was before, to tell when a reconnect adds a ref (a connect is rare;
	// the extra read is cheap).
	prior, priorErr := m.cfg.Store.FindByZoomUserID(ctx, c.ZoomUserID)
	saved, created, err := m.cfg.Store.Save(ctx, c)
	if err != nil {
		return Connection{}, false, storeError(err)
	}
	if priorErr == nil && !created && c.Ref != "" && !slices.Contains(prior.Refs, c.Ref) {
		// The earlier refs keep resolving to it.
		m.cfg.Logger.Info().Str("connection", saved.ID).Int("refs", len(saved.Refs)).Msg("connection: a ref was added")
	}
	if pmi > 0 {
		// The connection is stored; a meeting map that lags is mended by the listing.
		if err := m.cfg.Store.PutMeetings(ctx, saved.ID, pmi); err != nil {
			m.cfg.Logger.Warn().Str("connection", saved.ID).Err(err).Msg("connect: mapping the personal meeting id failed")
		}
	}
	return saved, created, nil
}

// RemoveRef stops ref resolving to the connection with this id.
func (m *Manager) RemoveRef(ctx context.Context, id, ref string) (Connection, error) {
	c, err := m.cfg.Store.RemoveRef(ctx, id, ref)
	if err == nil {
		m.cfg.Logger.Info().Str("connection", id).Int("refs", len(c.Refs)).Msg("connection: a ref was removed")
	}
	return c, storeError(err)
}

// Connection returns the connection with this id.
func (m *Manager) Connection(ctx context.Context, id string) (Connection, error) {
	c, err := m.cfg.Store.Get(ctx, id)
	return c, storeError(err)
}

// Connections returns the connections the filter matches, oldest first.
func (m *Manager) Connections(ctx context.Context, f Filter) ([]Connection, error) {
	list, err := m.cfg.Store.List(ctx, f)
	return list, storeError(err)
}

// UseState records that an OAuth state has been used, and reports whether this was its first
// use (across every process sharing the database). expiresAt is when the record may be
// forgotten.
func (m *Manager) UseState(ctx context.Context, state string, expiresAt time.Time) (bool, error) {
	first, err := m.cfg.Store.ConsumeState(ctx, state, expiresAt)
	return first, storeError(err)
}

// Ready returns ErrUnavailable unless the database answers: the connect flow asks before it
// sends a person to Zoom, so nobody consents only to find nothing can be stored.
func (m *Manager) Ready(ctx context.Context) error {
	return storeError(m.cfg.Store.Ping(ctx))
}

// Delete revokes a connection's tokens at Zoom (best effort) and deletes it with its meetings.
func (m *Manager) Delete(ctx context.Context, id string) (Connection, error) {
	s := m.cfg.Store
	c, err := s.Get(ctx, id)
	if err != nil {
		return Connection{}, storeError(err)
	}
	if t, err := m.cfg.Vault.Open(c); err == nil {
		if err := m.cfg.Zoom.Revoke(ctx, t.Refresh); err != nil {
			m.cfg.Logger.Warn().Str("connection", id).Err(err).Msg("revoking the deleted connection's tokens at Zoom failed")
		}
	}
	deleted, err := s.Delete(ctx, id)
	return deleted, storeError(err)
}

// Call runs call with a fresh access token of c, the connection as just read (Lookup, Host):
// while its access token is fresh the database is not read again. When Zoom rejects the token
// (expired early, revoked), it refreshes and runs call again; a second rejection gets one more
// refresh, since the token the first one found may have been stored by another caller's refresh
// before the same revocation.
func (m *Manager) Call(ctx context.Context, c Connection, call func(ctx context.Context, accessToken string) (string, error)) (string, error) {
	token, err := m.accessToken(ctx, c, "", 0)
	if err != nil {
		return "", err
	}
	result, err := call(ctx, token)
	for retries := 0; retries < 2 && err != nil && isAccessTokenRejected(err); retries++ {
		if token, err = m.accessToken(ctx, c, token, 0); err != nil {
			return "", err
		}
		result, err = call(ctx, token)
	}
	return result, err
}

// AccessToken returns c's access token itself, with at least minValid left before it expires
// (Recall's customer-managed OAuth asks for 120 s): the stored one while it has that long and is
// fresh, otherwise one refreshed first, once per expiry across every process sharing the
// database.
func (m *Manager) AccessToken(ctx context.Context, c Connection, minValid time.Duration) (string, error) {
	return m.accessToken(ctx, c, "", minValid)
}

// accessToken returns a usable access token of c with at least minValid left: on a first try its
// stored one while that is fresh, otherwise (and on a retry after Zoom rejected a token) the one
// stored under the row's lock, refreshed first when it is due or is the rejected one.
func (m *Manager) accessToken(ctx context.Context, c Connection, rejected string, minValid time.Duration) (string, error) {
	fresh := func(c Connection) bool {
		return m.fresh(c) && !m.cfg.Now().Add(minValid).After(c.Tokens.AccessExpiresAt)
	}
	flushed, err := m.flushPending(ctx, c.ID)
	if err != nil {
		return "", err
	}
	if flushed {
		// Tokens that had waited in memory were just stored: c holds older ones.
		if c, err = m.cfg.Store.Get(ctx, c.ID); err != nil {
			return "", storeError(err)
		}
	}
	if c.Status == StatusReauthorizationRequired {
		return "", ErrReauthorizationRequired
	}
	t, err := m.cfg.Vault.Open(c)
	if err != nil {
		return "", err
	}
	if rejected == "" && fresh(c) {
		return t.Access, nil
	}
	// A retry never trusts c: the token Zoom rejected may have come from a newer row than c.
	// The refresh reads the row under its lock and refreshes only if that is still due.
	// One refresh per connection in this process; it runs apart from the caller's context, so
	// a caller that gives up does not fail the others waiting on it (nor a refresh Zoom has
	// already performed). Callers share a flight only when they reject the same token: one that
	// was refused a token another flight is about to hand out must not be handed it back.
	// Callers that need more time left than the margin gives share only with each other.
	key := c.ID + "\x00" + rejected + "\x00" + strconv.FormatInt(int64(minValid), 10)
	ch := m.flight.DoChan(key, func() (any, error) {
		return m.refresh(context.WithoutCancel(ctx), c.ID, func(cur Connection, t Tokens) bool {
			return t.Access == rejected || !fresh(cur)
		})
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fresh reports whether the stored access token has time left before the refresh margin: the
// S2S client's, max(60 s, 10 % of the lifetime), capped at half the lifetime.
func (m *Manager) fresh(c Connection) bool {
	lifetime := c.Tokens.AccessExpiresAt.Sub(c.RefreshedAt)
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	margin := min(max(time.Minute, lifetime/10), lifetime/2)
	return m.cfg.Now().Before(c.Tokens.AccessExpiresAt.Add(-margin))
}

// errRefused says Zoom refused the refresh token the row held; refresh then reads the row again.
var errRefused = errors.New("zoom refused the stored refresh token")

// refresh refreshes a connection under its update lock when due(row, tokens) still holds there,
// and returns the access token stored afterwards. A stop waits for it (Drain).
func (m *Manager) refresh(ctx context.Context, id string, due func(Connection, Tokens) bool) (string, error) {
	m.mu.Lock()
	m.refreshing[id]++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.refreshing[id]--; m.refreshing[id] == 0 {
			delete(m.refreshing, id)
		}
		if len(m.refreshing) == 0 && m.idle != nil {
			close(m.idle)
			m.idle = nil
		}
	}()
	return m.refreshOnce(ctx, id, due)
}

// Drain is what a stop does before the database closes: it waits, until ctx ends, for every
// refresh in flight to finish and be stored, whoever started it, then writes any rotated tokens
// still held in memory, retrying until ctx ends. Zoom kills a refresh token the moment it is
// used, so a refresh abandoned here would cost its user a reconnect. It returns the connections
// whose rotated tokens could not be stored, or whose refresh had not ended, by then.
func (m *Manager) Drain(ctx context.Context) (lost []string) {
	for {
		m.mu.Lock()
		if len(m.refreshing) == 0 {
			m.mu.Unlock()
			break
		}
		if m.idle == nil {
			m.idle = make(chan struct{})
		}
		idle := m.idle
		m.mu.Unlock()
		select {
		case <-idle:
			continue
		case <-ctx.Done():
		}
		break
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if m.flushAllPending(ctx) == 0 || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.pending {
		lost = append(lost, id)
	}
	for id := range m.refreshing {
		if _, ok := m.pending[id]; !ok {
			lost = append(lost, id)
		}
	}
	slices.Sort(lost)
	return lost
}

// flushAllPending tries once to write every connection's rotated tokens held in memory, and
// returns how many are still held.
func (m *Manager) flushAllPending(ctx context.Context) int {
	m.mu.Lock()
	var waiting []string
	for id := range m.pending {
		waiting = append(waiting, id)
	}
	m.mu.Unlock()
	for _, id := range waiting {
		m.flushPending(ctx, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// refreshOnce is refresh's work.
func (m *Manager) refreshOnce(ctx context.Context, id string, due func(Connection, Tokens) bool) (string, error) {
	s := m.cfg.Store
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RefreshTimeout)
	defer cancel()
	var obtained *Tokens
	var zoomErr error
	var zoomUserID, refused string
	updated, err := s.Update(ctx, id, func(ctx context.Context, cur Connection) (Change, error) {
		if cur.Status == StatusReauthorizationRequired {
			return Change{}, ErrReauthorizationRequired
		}
		t, err := m.cfg.Vault.Open(cur)
		if err != nil {
			return Change{}, err
		}
		if !due(cur, t) {
			return Change{}, nil // refreshed by another caller or process meanwhile
		}
		access, refresh, expires, err := m.cfg.Zoom.RefreshTokens(ctx, t.Refresh)
		fresh := Tokens{Access: access, Refresh: refresh, AccessExpiresAt: expires}
		if err != nil {
			if isRefreshTokenDead(err) {
				refused = t.Refresh
				return Change{}, errRefused
			}
			zoomErr = err
			return Change{}, err
		}
		sealed, err := m.cfg.Vault.Seal(cur.ZoomUserID, fresh)
		if err != nil {
			return Change{}, err
		}
		obtained, zoomUserID = &fresh, cur.ZoomUserID
		return Change{Tokens: &sealed, Refreshed: true}, nil
	})
	switch {
	case err != nil && obtained != nil:
		return m.storeRotated(ctx, id, zoomUserID, *obtained, err)
	case errors.Is(err, errRefused):
		updated, err = m.confirmRefusal(ctx, id, refused)
		if err != nil {
			return "", storeError(err)
		}
	case err != nil && err == zoomErr:
		m.cfg.Refreshed(OutcomeFailed)
		m.cfg.Logger.Warn().Str("connection", id).Err(err).Msg("refreshing the connection's tokens failed")
		return "", err
	case err != nil:
		return "", storeError(err)
	}
	if updated.Status == StatusReauthorizationRequired {
		m.cfg.Refreshed(OutcomeReauthorizationRequired)
		m.cfg.Logger.Warn().Str("connection", id).Str("last_error", updated.LastError).Msg("connection needs re-authorization")
		return "", ErrReauthorizationRequired
	}
	if obtained != nil {
		m.cfg.Refreshed(OutcomeRefreshed)
		m.cfg.Logger.Debug().Str("connection", id).Msg("refreshed the connection's tokens")
	}
	t, err := m.cfg.Vault.Open(updated)
	if err != nil {
		return "", err
	}
	return t.Access, nil
}

// confirmRefusal reads the row once more, after the grace a failed write elsewhere may need to
// land, and marks the connection for re-authorization only if it still holds the refresh token
// Zoom refused. Otherwise another process stored newer tokens, and those are used.
func (m *Manager) confirmRefusal(ctx context.Context, id, refused string) (Connection, error) {
	select {
	case <-time.After(m.cfg.RefusalGrace):
	case <-ctx.Done():
		return Connection{}, ctx.Err()
	}
	return m.cfg.Store.Update(ctx, id, func(_ context.Context, cur Connection) (Change, error) {
		if cur.Status == StatusReauthorizationRequired {
			return Change{}, nil
		}
		t, err := m.cfg.Vault.Open(cur)
		if err != nil {
			return Change{}, err
		}
		if t.Refresh != refused {
			return Change{}, nil
		}
		return Change{ReauthorizationRequired: "Zoom refused the stored refresh token (it was revoked, expired, " +
			"or used elsewhere): the user must connect again"}, nil
	})
}

// storeRotated handles tokens Zoom has rotated that could not be written: they are the only copy
// there is. They are kept in memory and written again at once, a few times (an outage of a
// moment, such as a dropped database connection, then loses nothing); only if that fails too
// does the caller get 503, and the write goes on in the background. An access token whose
// refresh token is not stored is never handed out.
func (m *Manager) storeRotated(ctx context.Context, id, zoomUserID string, t Tokens, cause error) (string, error) {
	m.keepPending(id, zoomUserID, t)
	for _, wait := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond} {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if _, err := m.flushPending(ctx, id); err == nil {
			m.cfg.Refreshed(OutcomeRefreshed)
			m.cfg.Logger.Warn().Str("connection", id).Err(cause).Msg("refreshed tokens stored on a second try")
			return t.Access, nil
		}
	}
	m.cfg.Refreshed(OutcomeNotStored)
	m.cfg.Logger.Error().Str("connection", id).Err(cause).Msg("refreshed tokens could not be stored; keeping them in memory and retrying")
	return "", fmt.Errorf("%w: refreshed tokens not stored yet: %w", ErrUnavailable, cause)
}

func (m *Manager) keepPending(id, zoomUserID string, t Tokens) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[id] = pendingTokens{tokens: t, zoomUserID: zoomUserID, obtained: m.cfg.Now()}
}

// flushPending writes tokens a failed write left in memory, and reports whether there were
// any. Until it succeeds, the connection answers ErrUnavailable: the database holds a refresh
// token Zoom has already killed.
func (m *Manager) flushPending(ctx context.Context, id string) (bool, error) {
	m.mu.Lock()
	p, ok := m.pending[id]
	m.mu.Unlock()
	if !ok {
		return false, nil
	}
	sealed, err := m.cfg.Vault.Seal(p.zoomUserID, p.tokens)
	if err != nil {
		return false, err
	}
	_, err = m.cfg.Store.Update(ctx, id, func(_ context.Context, cur Connection) (Change, error) {
		if cur.RefreshedAt.After(p.obtained) {
			return Change{}, nil // newer tokens were stored since (a reconnect)
		}
		return Change{Tokens: &sealed, Refreshed: true}, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("%w: refreshed tokens not stored yet: %w", ErrUnavailable, err)
	}
	m.mu.Lock()
	if m.pending[id].obtained.Equal(p.obtained) {
		delete(m.pending, id)
	}
	m.mu.Unlock()
	m.cfg.Logger.Info().Str("connection", id).Msg("stored the refreshed tokens that had waited in memory")
	return true, nil
}

// Run keeps connections alive until ctx ends. Every check it retries writes of refreshed
// tokens that failed, lists the meetings of connections due for it (daily), and refreshes the
// active connections not refreshed for idle, so their refresh tokens do not lapse: one at a
// time, spread over the check interval and at most one every pace, since Zoom's rate limits
// are per account. Each due connection is refreshed once across every process sharing the
// database: whoever takes its lock second finds it fresh.
func (m *Manager) Run(ctx context.Context, idle, check, pace time.Duration) {
	ticker := time.NewTicker(check)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		m.flushAllPending(ctx)
		m.listDueMeetings(ctx, pace)
		list, err := m.cfg.Store.List(ctx, Filter{Status: StatusActive})
		if err != nil {
			continue // the database is down: the next check tries again
		}
		var due []Connection
		for _, c := range list {
			if m.cfg.Now().Sub(c.RefreshedAt) >= idle {
				due = append(due, c)
			}
		}
		spacing := min(pace, check/time.Duration(max(len(due), 1)))
		for _, c := range due {
			if ctx.Err() != nil {
				return // stopping: the refresh under way has finished, none is started
			}
			// Not cancelled by the stop: Zoom may have rotated the token, which must be stored.
			_, err := m.refresh(context.WithoutCancel(ctx), c.ID, func(cur Connection, _ Tokens) bool {
				return m.cfg.Now().Sub(cur.RefreshedAt) >= idle
			})
			if err != nil && !errors.Is(err, ErrReauthorizationRequired) {
				m.cfg.Logger.Warn().Str("connection", c.ID).Err(err).Msg("keep-alive refresh failed; retrying at the next check")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(spacing):
			}
		}
	}
}
