package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/postgres/pgtest"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// testServer is the real handler behind a loopback listener, with its logs captured at debug
// level and every response checked against api/openapi.yaml.
type testServer struct {
	*httptest.Server
	deps Deps
	logs *logtest.Buffer
	spec routers.Router
}

func newTestServer(tb testing.TB, d Deps) *testServer {
	tb.Helper()
	logs := &logtest.Buffer{}
	d.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	srv := httptest.NewServer(NewHandler(d))
	tb.Cleanup(srv.Close)
	return &testServer{Server: srv, deps: d, logs: logs, spec: loadSpec(tb)}
}

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// loadSpec parses and validates api/openapi.yaml once per test binary.
func loadSpec(tb testing.TB) routers.Router {
	tb.Helper()
	specOnce.Do(func() {
		// The connect flow's pages are HTML; the spec describes them as strings.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		doc, err := openapi3.NewLoader().LoadFromFile("../../api/openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = err
			return
		}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		tb.Fatalf("api/openapi.yaml: %v", specErr)
	}
	return specRouter
}

// do sends a request, checks the response against the OpenAPI document, and returns it with its
// body read.
func (s *testServer) do(tb testing.TB, method, path string, header http.Header, body string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	s.checkSpec(tb, req, resp, b)
	return resp, string(b)
}

func (s *testServer) checkSpec(tb testing.TB, req *http.Request, resp *http.Response, body []byte) {
	tb.Helper()
	route, params, err := s.spec.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return // not a documented operation, and the router said so
		}
		tb.Fatalf("%s %s answered %d but is not in the spec: %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()},
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		tb.Errorf("%s %s → %d does not match api/openapi.yaml: %v\nbody: %s", req.Method, req.URL, resp.StatusCode, err, body)
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// forEachDatabase runs test on a fresh SQLite database and a fresh PostgreSQL one.
func forEachDatabase(t *testing.T, test func(t *testing.T, db *sqlstore.DB)) {
	t.Run("SQLite", func(t *testing.T) { test(t, sqlitetest.Open(t, sqlstore.Options{})) })
	t.Run("PostgreSQL", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		test(t, db)
	})
}

// tokenCalls counts the requests that ask Zoom for a token or as a user (OBF, ZAK, join tokens,
// the token endpoint, users/me): what a refused request must never cause. The meeting listing a
// connect starts in the background is left out, so a count taken around a refusal does not
// depend on when that listing lands.
func tokenCalls(emu *zoomemu.Emulator) int {
	n := 0
	for _, c := range emu.Requests() {
		if c.Endpoint != zoomemu.EndpointMeetings {
			n++
		}
	}
	return n
}
