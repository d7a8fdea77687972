package connections

import (
	"testing"
	"time"
)

// An access token is used until its refresh margin: max(60 s, 10 % of its lifetime), capped at
// half the lifetime. One tick either side of each edge.
func TestFreshUntilTheMargin(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := NewManager(ManagerConfig{Now: func() time.Time { return now }})
	for _, tc := range []struct {
		name           string
		lifetime, left time.Duration
		want           bool
	}{
		{"an hour, before 10 %", time.Hour, 6*time.Minute + time.Nanosecond, true},
		{"an hour, at 10 %", time.Hour, 6 * time.Minute, false},
		{"five minutes, before 60 s", 5 * time.Minute, time.Minute + time.Nanosecond, true},
		{"five minutes, at 60 s", 5 * time.Minute, time.Minute, false},
		{"a minute, before half", time.Minute, 30*time.Second + time.Nanosecond, true},
		{"a minute, at half", time.Minute, 30 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expires := now.Add(tc.left)
			c := Connection{RefreshedAt: expires.Add(-tc.lifetime), Tokens: SealedTokens{AccessExpiresAt: expires}}
			if got := m.fresh(c); got != tc.want {
				t.Errorf("fresh with %v of %v left: got %v, want %v", tc.left, tc.lifetime, got, tc.want)
			}
		})
	}
}
