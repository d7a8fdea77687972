package zoom

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateGate is the one door every REST call of a client passes, so the calls of one Zoom account
// are polite together rather than each retrying on its own: Zoom's limits are per account and
// shared with the account's other apps.
//
//   - A per-second 429 closes the gate until Retry-After (with jitter). When it reopens, one call
//     goes first (a probe); the others wait for its answer, so an account still limited costs one
//     call per reopening, not one per waiting caller.
//   - With a rate (ZOOM_RATE_LIMIT, or learned from X-RateLimit-Limit), calls are paced to it.
//   - A caller whose wait would not fit its own deadline does not wait: it fails at once and is
//     told how long the wait is (an honest Retry-After).
type rateGate struct {
	now func() time.Time

	mu          sync.Mutex
	closedUntil time.Time
	probing     bool          // a probe is out; the others wait for it
	probeDone   chan struct{} // closed when the probe reports
	limiter     *rate.Limiter // nil: unpaced
	fixed       bool          // the rate was configured, not learned
}

func newRateGate(perSecond float64, now func() time.Time) *rateGate {
	g := &rateGate{now: now}
	if perSecond > 0 {
		g.limiter, g.fixed = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond))), true
	}
	return g
}

// pass waits at the gate within ctx's deadline. It returns probe=true when this call is the one
// that tests a reopened gate (it must then report its outcome), or the wait it could not afford.
func (g *rateGate) pass(ctx context.Context) (probe bool, tooLong time.Duration) {
	for {
		g.mu.Lock()
		now := g.now()
		var wait time.Duration
		var done chan struct{}
		switch {
		case now.Before(g.closedUntil):
			wait = g.closedUntil.Sub(now)
		case g.probing:
			done = g.probeDone
		case !g.closedUntil.IsZero():
			// Reopened after a 429: this call is the probe.
			g.probing, g.probeDone, g.closedUntil = true, make(chan struct{}), time.Time{}
			g.mu.Unlock()
			return true, 0
		case g.limiter != nil:
			r := g.limiter.ReserveN(now, 1)
			d := r.DelayFrom(now)
			if !fits(ctx, d) {
				r.CancelAt(now)
				g.mu.Unlock()
				return false, d
			}
			g.mu.Unlock()
			return false, sleepOrTooLong(ctx, d)
		}
		g.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return false, time.Second
			}
		}
		if wait == 0 {
			return false, 0
		}
		if !fits(ctx, wait) {
			return false, wait
		}
		if d := sleepOrTooLong(ctx, wait); d > 0 {
			return false, d
		}
	}
}

// fits reports whether waiting d leaves ctx's deadline intact.
func fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= d
}

func sleepOrTooLong(ctx context.Context, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if !sleep(ctx, d) {
		return d
	}
	return 0
}

// limited closes the gate after a per-second 429, for retryAfter (1 s when Zoom gave none) plus
// up to a fifth more, so callers that waited do not all come back in the same instant.
func (g *rateGate) limited(retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	until := g.now().Add(retryAfter + rand.N(retryAfter/5+1))
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.closedUntil) {
		g.closedUntil = until
	}
}

// report ends a probe: the gate stays open, or (after another 429, which called limited first)
// stays closed; either way the waiting callers go on.
func (g *rateGate) report() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.probing {
		g.probing = false
		close(g.probeDone)
	}
}

// learn paces to the X-RateLimit-Limit Zoom sends for per-second limits, unless a rate was
// configured.
func (g *rateGate) learn(h http.Header) {
	if h.Get("X-RateLimit-Type") != "QPS" {
		return
	}
	n, err := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	if err != nil || n <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.fixed:
	case g.limiter == nil:
		g.limiter = rate.NewLimiter(rate.Limit(n), n)
	case g.limiter.Limit() != rate.Limit(n):
		g.limiter.SetLimitAt(g.now(), rate.Limit(n))
		g.limiter.SetBurstAt(g.now(), n)
	}
}
