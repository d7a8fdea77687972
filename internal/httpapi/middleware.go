package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/xid"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// requestIDHeader carries the request id both ways.
const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// requestContext gives each request an id and the logger. It keeps an inbound X-Request-Id when
// it is short and plain (so a caller cannot inject log lines or huge values), otherwise makes
// one, and sends it back. The logger is stored as is; requestLogger adds the id only when a
// handler actually logs, which keeps the common path free of a per-request logger copy.
func requestContext(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(requestIDHeader)
			if !plainRequestID(id) {
				id = xid.New().String()
			}
			w.Header().Set(requestIDHeader, id)
			// No answer is ever meant to be sniffed into something else (a token into HTML).
			w.Header().Set("X-Content-Type-Options", "nosniff")
			ctx := log.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// requestLogger returns the request's logger with its request id, for lines handlers write.
func requestLogger(r *http.Request) *zerolog.Logger {
	l := hlog.FromRequest(r).With().Str("request_id", requestIDOf(r)).Logger()
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

// accessLog writes one line per request and records it in m (when not nil). It names the route
// pattern, never the raw path, and redacts query values that are not known to be harmless:
// secrets travel in the query.
func accessLog(m *metrics.Metrics) func(http.Handler) http.Handler {
	return hlog.AccessHandler(func(r *http.Request, status, size int, duration time.Duration) {
		level := zerolog.InfoLevel
		if status >= 500 {
			level = zerolog.WarnLevel
		}
		pattern := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			pattern = rc.RoutePattern()
		}
		e := hlog.FromRequest(r).WithLevel(level).
			Str("request_id", requestIDOf(r)).
			Str("method", r.Method).
			Str("route", pattern).
			Int("status", status).
			Int("size", size).
			Dur("duration", duration)
		if r.URL.RawQuery != "" {
			query, unknown := redactQuery(r.URL.RawQuery)
			e = e.Str("query", query)
			if unknown > 0 {
				e = e.Int("query_unknown_keys", unknown)
			}
		}
		e.Msg("request")
		if m != nil {
			m.ObserveRequest(pattern, status, duration)
		}
	})
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
	"secret":              nil, "user": nil, "ref": nil, // the connect flow's and the callback's:
	"expires": nil, "sig": nil, "code": nil, "state": nil, "error": nil,
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

// recoverPanic turns a handler panic into a 500. The panic value is not logged, since it could
// hold anything; the stack shows where it happened.
func recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				requestLogger(r).Error().Bytes("stack", debug.Stack()).Msg("handler panicked")
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
