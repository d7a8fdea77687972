package zoom

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/crowd"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// realTime runs the emulator and the client on time.Now, which rate windows need: inside a
// synctest bubble, the bubble's fake clock.
func realTime(budget time.Duration, rateLimit float64, emuPerSecond int) option {
	return func(e *zoomemu.Config, c *Config) {
		e.Now, c.Now = time.Now, time.Now
		c.Budget, c.RateLimit = budget, rateLimit
		e.RateLimitPerSecond = emuPerSecond
	}
}

// joinBurst makes n concurrent join-token calls and returns how many succeeded.
func joinBurst(f *fixture, n int) int {
	return crowd.Count(n, func() bool {
		_, err := f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false)
		return err == nil
	})
}

func TestEveryCallLimitedCostsLittleMoreThanOneCallEach(t *testing.T) {
	synctest.Test(t, testEveryCallLimited)
}

func testEveryCallLimited(t *testing.T) {
	f := newBubbleFixture(t, realTime(3*time.Second, 0, 0))
	faults := make([]zoomemu.Fault, 2000)
	for i := range faults {
		faults[i] = zoomemu.RateLimitedPerSecond("1")
	}
	f.emu.Script(zoomemu.EndpointJoinToken, faults...)
	const requests = 200
	if ok := joinBurst(f, requests); ok != 0 {
		t.Fatalf("%d succeeded against a Zoom that refuses everything", ok)
	}
	calls := f.emu.Calls(zoomemu.EndpointJoinToken)
	t.Logf("%d upstream calls for %d requests", calls, requests)
	if calls > requests*105/100 {
		t.Errorf("%d upstream calls for %d requests, want at most %d", calls, requests, requests*105/100)
	}
}

func TestBurstPacedToTheAccountLimit(t *testing.T) {
	for name, opt := range map[string]option{
		"ZOOM_RATE_LIMIT=10":             realTime(10*time.Second, 10, 10),
		"learned from X-RateLimit-Limit": realTime(10*time.Second, 0, 10),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newBubbleFixture(t, opt)
				if name != "ZOOM_RATE_LIMIT=10" {
					// One call teaches the client the limit.
					if _, err := f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false); err != nil {
						t.Fatal(err)
					}
				}
				before := f.emu.Calls(zoomemu.EndpointJoinToken)
				const requests = 200
				ok := joinBurst(f, requests)
				calls := f.emu.Calls(zoomemu.EndpointJoinToken) - before
				t.Logf("%d of %d succeeded with %d upstream calls", ok, requests, calls)
				if ok < 80 || calls >= requests*12/10 {
					t.Errorf("%d succeeded with %d upstream calls; want at least 80, and under %d calls", ok, calls, requests*12/10)
				}
			})
		})
	}
}

func TestAWaitTheBudgetCannotCoverFailsAtOnce(t *testing.T) {
	synctest.Test(t, testAWaitTheBudgetCannotCover)
}

func testAWaitTheBudgetCannotCover(t *testing.T) {
	f := newBubbleFixture(t, realTime(500*time.Millisecond, 0, 0))
	f.emu.Script(zoomemu.EndpointJoinToken, zoomemu.RateLimitedPerSecond("2"))
	f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false) // closes the gate for 2 s
	began := time.Now()
	_, err := f.client.JoinToken(context.Background(), testMeeting, LocalRecording, false)
	zerr := wantKind(t, err, KindUnavailable)
	if took := time.Since(began); took != 0 || zerr.RetryAfter < time.Second {
		t.Errorf("waited %v and said Retry-After %v; want an immediate failure with the gate's wait", took, zerr.RetryAfter)
	}
	if calls := f.emu.Calls(zoomemu.EndpointJoinToken); calls != 1 {
		t.Errorf("%d calls; the second must not reach Zoom while the gate is closed", calls)
	}
}
