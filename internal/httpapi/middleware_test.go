package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
)

// observed serves routes behind observe alone, with its log lines and metrics kept.
func observed(t *testing.T, routes func(chi.Router)) (*httptest.Server, *logtest.Buffer, *metrics.Metrics) {
	t.Helper()
	logs := &logtest.Buffer{}
	m := metrics.New()
	r := chi.NewRouter()
	r.Use(observe(zerolog.New(logs).Level(zerolog.DebugLevel), m))
	routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, logs, m
}

// logLines parses every JSON line logged so far, keyed by message.
func logLines(t *testing.T, logs *logtest.Buffer) map[string]map[string]any {
	t.Helper()
	lines := map[string]map[string]any{}
	for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		lines[line["message"].(string)] = line
	}
	return lines
}

func TestObserveTurnsAPanicIntoA500(t *testing.T) {
	srv, logs, m := observed(t, func(r chi.Router) {
		r.Get("/boom/{id}", func(w http.ResponseWriter, r *http.Request) {
			panic("the panic value may hold a secret: hunter2")
		})
	})
	resp, err := http.Get(srv.URL + "/boom/7")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusInternalServerError || strings.TrimSpace(string(body)) != "internal error" || id == "" {
		t.Fatalf("got %d %q, request id %q", resp.StatusCode, body, id)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the panic value was logged: %s", logs)
	}
	lines := logLines(t, logs)
	panicked, access := lines["handler panicked"], lines["request"]
	if panicked == nil || panicked["request_id"] != id || !strings.Contains(panicked["stack"].(string), "middleware_test.go") {
		t.Errorf("panic line: %v", panicked)
	}
	if access == nil || access["status"] != float64(500) || access["route"] != "/boom/{id}" || access["level"] != "warn" ||
		access["size"] != float64(len(body)) || access["request_id"] != id {
		t.Errorf("access line: %v", access)
	}
	assertCounter(t, m, `zoomtoken_http_requests_total{route="/boom/{id}",status="500"} 1`)
}

func TestObserveRecordsWhatTheHandlerAnswered(t *testing.T) {
	srv, logs, m := observed(t, func(r chi.Router) {
		r.Get("/silent", func(w http.ResponseWriter, r *http.Request) {})
		r.Get("/teapot", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK) // superfluous: the first status is what was sent
			io.WriteString(w, "short")
			io.WriteString(w, " and stout")
		})
	})
	for _, tt := range []struct {
		path   string
		status int
		size   int
	}{
		{"/silent", http.StatusOK, 0},
		{"/teapot", http.StatusTeapot, len("short and stout")},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: status %d, nosniff %q", tt.path, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
		}
		access := logLines(t, logs)["request"]
		if access["route"] != tt.path || access["status"] != float64(tt.status) || access["size"] != float64(tt.size) {
			t.Errorf("%s: access line %v", tt.path, access)
		}
		assertCounter(t, m, fmt.Sprintf(`zoomtoken_http_requests_total{route=%q,status="%d"} 1`, tt.path, tt.status))
	}
}

// wrappingWriter is a ResponseWriter another middleware might put around observe's.
type wrappingWriter struct{ http.ResponseWriter }

func (w wrappingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestHandlerLinesCarryTheRequestID(t *testing.T) {
	srv, logs, _ := observed(t, func(r chi.Router) {
		r.With(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(wrappingWriter{w}, r)
			})
		}).Get("/wrapped", func(w http.ResponseWriter, r *http.Request) {
			requestLogger(w).Info().Msg("from the handler")
		})
	})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/wrapped", nil)
	req.Header.Set("X-Request-Id", "caller-chosen-id")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if line := logLines(t, logs)["from the handler"]; line == nil || line["request_id"] != "caller-chosen-id" {
		t.Errorf("the handler's line: %v", line)
	}
	// Outside observe there is no request to name, and nothing is logged.
	requestLogger(httptest.NewRecorder()).Error().Msg("nowhere")
}

// A platform's probes are logged at debug: every few seconds, they would drown the log at info.
func TestProbesLogAtDebug(t *testing.T) {
	srv := newTestServer(t, Deps{})
	for _, path := range []string{"/healthz", "/readyz"} {
		srv.do(t, http.MethodGet, path, nil, "")
	}
	srv.do(t, http.MethodGet, "/zak", nil, "")
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(srv.logs.String()), "\n") {
		var entry struct{ Level, Route, Message string }
		json.Unmarshal([]byte(line), &entry)
		if entry.Message != "request" {
			continue
		}
		seen++
		probe := entry.Route == "/healthz" || entry.Route == "/readyz"
		if probe != (entry.Level == "debug") {
			t.Errorf("%s logged at %s", entry.Route, entry.Level)
		}
	}
	if seen != 3 {
		t.Errorf("%d access lines, want 3", seen)
	}
}
