package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/zoomtoken/zoomtoken/internal/signature"
)

// handleHealthz serves GET /healthz: 200 while the process serves.
func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	}
}

// handleReadyz serves GET /readyz: 200 while the service takes traffic, 503 once it is shutting
// down (while it still serves, so a load balancer can stop sending first). /healthz stays the
// liveness probe.
func handleReadyz(draining *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if draining != nil && draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "shutting down")
			return
		}
		io.WriteString(w, "ok")
	}
}

// writeFieldErrors writes the {"errors": [...]} body POST / answers every failure with.
func writeFieldErrors(w http.ResponseWriter, status int, errs ...signature.FieldError) {
	writeJSON(w, status, signature.ValidationError{Errors: errs})
}

// writeJSON writes v as compact JSON without HTML escaping, as Express's res.json does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(marshalNoHTMLEscape(v))
}

// marshalNoHTMLEscape encodes v as compact JSON without escaping <, > and &. It is only given
// values that always encode (strings and structs of strings).
func marshalNoHTMLEscape(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeInternalError answers 500 with no detail; the detail goes to the log with the request id.
func writeInternalError(w http.ResponseWriter, r *http.Request, err error) {
	requestLogger(w).Error().Err(err).Msg("internal error")
	writeFieldErrors(w, http.StatusInternalServerError, signature.FieldError{Property: "server", Reason: "internal error"})
}
