package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/xid"
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// requestIDHeader carries the request id both ways.
const requestIDHeader = "X-Request-Id"

// observe is the middleware around every request. It gives the request its id, keeping an
// inbound X-Request-Id when it is short and plain (so a caller cannot inject log lines or huge
// values) and sending it back; it turns a handler's panic into a 500; and once the answer is
// written it logs the access line and records the request in m (when not nil). The three are one
// middleware so that all of a request's bookkeeping is one small allocation, an exchange, which
// travels down as the ResponseWriter: this runs on every request, POST / is measured against bare
// net/http, and a context value would cost a copy of the request each time.
func observe(log zerolog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	base := &log // shared: the request id is added only to lines a handler actually writes
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			x := &exchange{ResponseWriter: w, log: base}
			id := r.Header.Get(requestIDHeader)
			if !plainRequestID(id) {
				id = xid.NewWithTime(start).String()
			}
			// No answer is ever meant to be sniffed into something else (a token into HTML). The
			// values live in the exchange: set the usual way, each would be a separate allocation.
			x.headerValues = [2]string{id, "nosniff"}
			h := w.Header()
			h[requestIDHeader] = x.headerValues[0:1:1]
			h["X-Content-Type-Options"] = x.headerValues[1:2:2]
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					// The panic value is not logged, since it could hold anything; the stack shows
					// where it happened.
					requestLogger(x).Error().Bytes("stack", debug.Stack()).Msg("handler panicked")
					if x.status == 0 {
						http.Error(x, "internal error", http.StatusInternalServerError)
					}
				}
				x.record(r, time.Since(start), m)
			}()
			next.ServeHTTP(x, r)
		})
	}
}

// exchange is one request's bookkeeping: its id and logger, and what was answered.
type exchange struct {
	http.ResponseWriter
	log          *zerolog.Logger
	status, size int
	headerValues [2]string // X-Request-Id's, then X-Content-Type-Options'
	// caller is a bot route's caller, once known; via and connectionID say where a vended token
	// came from. The access line names them, so the log alone says who got what.
	caller            *caller
	via, connectionID string
}

func (x *exchange) WriteHeader(status int) {
	if x.status == 0 {
		x.status = status
	}
	x.ResponseWriter.WriteHeader(status)
}

func (x *exchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	n, err := x.ResponseWriter.Write(p)
	x.size += n
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// record writes the access line and the metrics of the finished request. It names the route
// pattern, never the raw path, and redacts query values that are not known to be harmless:
// secrets travel in the query.
func (x *exchange) record(r *http.Request, took time.Duration, m *metrics.Metrics) {
	status := x.status
	switch {
	case status == 0 && errors.Is(r.Context().Err(), context.Canceled):
		// The caller hung up and the handler, having no one to answer, wrote nothing.
		status = statusClientClosedRequest
	case status == 0:
		status = http.StatusOK // net/http answers 200 to a handler that wrote nothing
	}
	pattern := "unmatched"
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			pattern = p
		}
	}
	level := zerolog.InfoLevel
	switch {
	case status >= 500:
		level = zerolog.WarnLevel
	case pattern == "/healthz" || pattern == "/readyz":
		level = zerolog.DebugLevel // a platform's probes, every few seconds: noise at info
	}
	e := x.log.WithLevel(level).
		Str("request_id", x.headerValues[0]).
		Str("method", r.Method).
		Str("route", pattern).
		Int("status", status).
		Int("size", x.size).
		Dur("duration", took)
	if c := x.caller; c != nil {
		e = e.Str("caller", c.kind).Int("caller_key", c.key)
		if c.linkExpires != 0 {
			e = e.Int64("link_expires", c.linkExpires)
		}
	}
	if x.via != "" {
		e = e.Str("via", x.via)
	}
	if x.connectionID != "" {
		e = e.Str("connection_id", x.connectionID)
	}
	if r.URL.RawQuery != "" {
		query, unknown := redactQuery(r.URL.RawQuery)
		e = e.Str("query", query)
		if unknown > 0 {
			e = e.Int("query_unknown_keys", unknown)
		}
	}
	e.Msg("request")
	if m != nil {
		m.ObserveRequest(pattern, status, took)
	}
}

// exchangeOf returns the exchange observe passed down as w, looking through writers that wrap it
// in turn; outside observe (a handler called directly), a fresh one with a disabled logger.
func exchangeOf(w http.ResponseWriter) *exchange {
	for {
		switch v := w.(type) {
		case *exchange:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			nop := zerolog.Nop()
			return &exchange{log: &nop}
		}
	}
}

// requestLogger returns the logger with the request id of the request w answers, for lines
// handlers write.
func requestLogger(w http.ResponseWriter) *zerolog.Logger {
	x := exchangeOf(w)
	l := x.log.With().Str("request_id", x.headerValues[0]).Logger()
	return &l
}

func plainRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// knownQueryKeys are the query parameters the service reads; only they are named in the access
// log (any other key may be a secret pasted in the wrong place). harmless says which values may
// be logged, and in what shape; every other value is REDACTED.
var knownQueryKeys = map[string]func(value string) bool{
	"meeting_id": func(v string) bool {
		return len(v) <= 24 && strings.Trim(v, "0123456789 -") == ""
	},
	"type": func(v string) bool {
		_, ok := zoom.ParseJoinTokenKind(v)
		return ok
	},
	"bypass_waiting_room": func(v string) bool { return v == "true" || v == "false" },
	// GET /admin/connections' filter.
	"status": func(v string) bool {
		return v == string(connections.StatusActive) || v == string(connections.StatusReauthorizationRequired)
	},
	// A stream id is not a credential; its signature is.
	"rtms_stream_id": func(v string) bool { return len(v) <= 64 && strings.Trim(v, "0123456789abcdefABCDEF") == "" },
	"secret":         nil, "user": nil, "ref": nil, // the connect flow's and the callback's:
	"sig": nil, "code": nil, "state": nil,
	// Zoom's OAuth error (access_denied) is no secret, and says why a connect failed.
	"error": plainWord,
	// A link's expiry is a time, not a secret; its signature is.
	"expires":   func(v string) bool { return len(v) <= 12 && strings.Trim(v, "0123456789") == "" },
	"min_valid": func(v string) bool { return len(v) <= 6 && strings.Trim(v, "0123456789") == "" },
}

// plainWord reports whether v is a short lower-case word such as an OAuth error code.
func plainWord(v string) bool {
	return v != "" && len(v) <= 64 && strings.Trim(v, "abcdefghijklmnopqrstuvwxyz_") == ""
}

// maxLoggedQuery bounds the access log's query field.
const maxLoggedQuery = 256

// redactQuery returns what the access log may show of a query: known keys only (sorted), their
// values REDACTED unless known harmless and well formed, and the number of unknown keys, which are
// counted but never named. The result is at most maxLoggedQuery bytes.
func redactQuery(raw string) (logged string, unknown int) {
	values, _ := url.ParseQuery(raw)
	keys := make([]string, 0, len(values))
	for k := range values {
		if _, known := knownQueryKeys[k]; known {
			keys = append(keys, k)
		} else {
			unknown++
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		harmless := knownQueryKeys[k]
		for _, v := range values[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			if harmless != nil && harmless(v) {
				b.WriteString(url.QueryEscape(v))
			} else {
				b.WriteString("REDACTED")
			}
		}
	}
	logged = b.String()
	if len(logged) > maxLoggedQuery {
		logged = logged[:maxLoggedQuery] + "…"
	}
	return logged, unknown
}
