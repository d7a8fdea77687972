package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// scrape fetches a metrics page and parses it with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return families
}

// sample returns the value of the series of family whose labels include want, and whether it
// exists. Counters, gauges and histograms (their sample count) are read.
func sample(families map[string]*dto.MetricFamily, family string, want map[string]string) (float64, bool) {
	mf, ok := families[family]
	if !ok {
		return 0, false
	}
series:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsAfterRealRequests(t *testing.T) {
	f := startBots(t, func(_ map[string]string, c *zoomemu.Config) { c.RateLimitPerSecond = 30 })
	for _, body := range []string{`{"meetingNumber":"123456789","role":0}`, `{"role":7}`} {
		resp, err := http.Post(f.inst.url+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	f.get(t, "/zak?secret="+firstSecret)
	f.get(t, joinPath(firstSecret, "987654321")) // unknown meeting: 404
	f.get(t, "/zak?secret=wrong")

	families := scrape(t, f.inst.url+"/metrics")
	for _, tt := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"zoomtoken_http_requests_total", map[string]string{"route": "/", "status": "200"}, 1},
		{"zoomtoken_http_requests_total", map[string]string{"route": "/", "status": "400"}, 1},
		{"zoomtoken_http_requests_total", map[string]string{"route": "/zak", "status": "200"}, 1},
		{"zoomtoken_http_requests_total", map[string]string{"route": "/zak", "status": "401"}, 1},
		{"zoomtoken_http_requests_total", map[string]string{"route": "/join-token", "status": "404"}, 1},
		{"zoomtoken_http_request_duration_seconds", map[string]string{"route": "/zak"}, 2},
		{"zoomtoken_zoom_requests_total", map[string]string{"endpoint": "oauth_token", "outcome": "ok"}, 1},
		{"zoomtoken_zoom_requests_total", map[string]string{"endpoint": "zak", "outcome": "ok"}, 1},
		{"zoomtoken_zoom_requests_total", map[string]string{"endpoint": "join_token", "outcome": "not_found"}, 1},
		{"zoomtoken_zoom_request_duration_seconds", map[string]string{"endpoint": "zak"}, 1},
		{"zoomtoken_zoom_token_refreshes_total", nil, 1},
		{"zoomtoken_zoom_rate_limit_remaining", map[string]string{"category": "Light"}, 28},
	} {
		got, ok := sample(families, tt.family, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v: got %v (present %v), want %v", tt.family, tt.labels, got, ok, tt.want)
		}
	}
	if got, ok := sample(families, "zoomtoken_zoom_token_expiry_seconds", nil); !ok || got < 3000 || got > 3600 {
		t.Errorf("token expiry: got %v (present %v), want about an hour", got, ok)
	}
	for _, family := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if _, ok := families[family]; !ok {
			t.Errorf("no %s", family)
		}
	}
	// No label may carry a meeting id, user, secret or token.
	forbidden := append([]string{"123456789", "987654321", e2eZAKUser, firstSecret, "wrong"}, f.emu.Issued(zoomemu.EndpointZAK)...)
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				for _, bad := range forbidden {
					if strings.Contains(lp.GetValue(), bad) {
						t.Errorf("%s has label %s=%q", name, lp.GetName(), lp.GetValue())
					}
				}
			}
		}
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := startBots(t, func(env map[string]string, _ *zoomemu.Config) { env["METRICS_ADDR"] = addr })
	if a := f.get(t, "/zak?secret="+firstSecret); a.status != 200 {
		t.Fatalf("/zak: %d", a.status)
	}
	resp, err := http.Get(f.inst.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main port: got %d, want 404", resp.StatusCode)
	}
	families := scrape(t, "http://"+addr+"/metrics")
	if got, _ := sample(families, "zoomtoken_http_requests_total", map[string]string{"route": "/zak", "status": "200"}); got != 1 {
		t.Errorf("requests on the metrics listener: got %v, want 1", got)
	}
}

// Scrapes within the cache's lifetime ask the database once; one after it asks again.
func TestConnectionCountsAreCached(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	asked := 0
	counts := cachedCounts(5*time.Second, func() time.Time { return now }, func() (metrics.ConnectionCounts, bool) {
		asked++
		return metrics.ConnectionCounts{ByStatus: map[string]int{"active": asked}}, true
	})
	for range 5 {
		counts()
	}
	now = now.Add(4 * time.Second)
	if got, _ := counts(); asked != 1 || got.ByStatus["active"] != 1 {
		t.Errorf("within 5 s: asked %d times", asked)
	}
	now = now.Add(time.Second)
	if got, _ := counts(); asked != 2 || got.ByStatus["active"] != 2 {
		t.Errorf("after 5 s: asked %d times", asked)
	}
}
