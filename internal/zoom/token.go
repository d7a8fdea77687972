package zoom

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// accessToken is an S2S OAuth access token and what came with it.
type accessToken struct {
	value string
	// gate is the rate-limit gate of the token's Zoom account; nil uses the client's.
	gate *rateGate
	// apiBase is the REST base to use with this token.
	apiBase string
	// scopes are the scopes Zoom granted the app.
	scopes    []string
	expiresAt time.Time
	// refreshAt is when callers stop using the token and ask for a new one.
	refreshAt time.Time
}

// refreshMargin is how long before expiry a token is replaced: max(60 s, 10 % of its lifetime),
// but never more than half the lifetime, so a short-lived token is still used.
func refreshMargin(lifetime time.Duration) time.Duration {
	margin := max(time.Minute, lifetime/10)
	return min(margin, lifetime/2)
}

// tokenCache holds one access token and refreshes it ahead of expiry. Concurrent callers on a
// cold or expiring cache share one fetch; a caller that gives up stops waiting without failing
// the others, because the fetch runs on its own context.
type tokenCache struct {
	fetch   func(context.Context) (accessToken, error)
	now     func() time.Time
	timeout time.Duration

	mu      sync.Mutex
	current accessToken
	flight  singleflight.Group
}

func (tc *tokenCache) cached() accessToken {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.current
}

func (tc *tokenCache) fresh(t accessToken) bool {
	return t.value != "" && tc.now().Before(t.refreshAt)
}

// get returns a usable token, fetching one if the cache is cold or the token is due for refresh.
// If a refresh fails while the old token has not yet expired, the old token is returned.
func (tc *tokenCache) get(ctx context.Context) (accessToken, error) {
	old := tc.cached()
	if tc.fresh(old) {
		return old, nil
	}
	ch := tc.flight.DoChan("token", func() (any, error) {
		// Another flight may have finished between our look and this one starting.
		if t := tc.cached(); tc.fresh(t) {
			return t, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tc.timeout)
		defer cancel()
		t, err := tc.fetch(fctx)
		if err != nil {
			return nil, err
		}
		tc.mu.Lock()
		tc.current = t
		tc.mu.Unlock()
		return t, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			if old.value != "" && tc.now().Before(old.expiresAt) && old.value == tc.cached().value {
				return old, nil
			}
			return accessToken{}, res.Err
		}
		return res.Val.(accessToken), nil
	case <-ctx.Done():
		return accessToken{}, &Error{Kind: KindUnavailable, Op: opAccessToken.name,
			Message: "gave up waiting for an access token", Err: ctx.Err()}
	}
}

// invalidate drops the token if it is still the cached one (Zoom said it is no longer valid).
func (tc *tokenCache) invalidate(value string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.current.value == value {
		tc.current = accessToken{}
	}
}
