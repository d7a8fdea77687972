package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return string(body)
}

func TestConnectionGauges(t *testing.T) {
	known := true
	counts := metrics.ConnectionCounts{ByStatus: map[string]int{"active": 2, "reauthorization_required": 1},
		PendingEvents: 3, DeliveryPaused: true}
	m := metrics.New()
	m.WatchConnections(func() (metrics.ConnectionCounts, bool) { return counts, known })
	got := scrape(t, m)
	for _, line := range []string{
		`zoomtoken_connections{status="active"} 2`,
		`zoomtoken_connections{status="reauthorization_required"} 1`,
		"zoomtoken_connection_events_pending 3",
		"zoomtoken_events_delivery_paused 1",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("the scrape lacks %q", line)
		}
	}
	counts.DeliveryPaused = false
	if got := scrape(t, m); !strings.Contains(got, "zoomtoken_events_delivery_paused 0\n") {
		t.Error("the paused gauge stays up after delivery resumed")
	}
	// The database is down: the gauges are left out rather than shown as zero.
	known = false
	if got := scrape(t, m); strings.Contains(got, "zoomtoken_connection") || strings.Contains(got, "delivery_paused") {
		t.Errorf("gauges shown while the database is down:\n%s", got)
	}
}
