package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/vend"
)

// handleHealthz serves GET /healthz: 200 while the process serves.
func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	}
}

// about is what GET / answers: a browser pointed at the service learns what it is and where its
// routes are described.
const about = `zoomtoken: Zoom credentials for web front-ends and meeting bots.
POST / signs a Meeting SDK JWT; the other routes and their docs: https://github.com/zoomtoken/zoomtoken#routes-in-brief
Liveness: GET /healthz.
`

// handleAbout serves GET /: a short text saying what the service is.
func handleAbout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, about)
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

// methodNotAllowed answers a bot route asked with another method than GET.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) { onlyMethod("GET")(w, r) }

// onlyMethod answers a route asked with another method than the one it serves.
func onlyMethod(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", method)
		w.Header().Set("Cache-Control", "no-store")
		writeText(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here: use "+method)
	}
}

// connectedOff answers a connected-account route while connected accounts are off.
func connectedOff(w http.ResponseWriter, r *http.Request) { featureOff(vend.ConnectedVariables)(w, r) }

// featureOff answers 404 naming the variables that turn a route on.
func featureOff(variables string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeTextFailure(w, r, vend.Off{Variables: variables}) }
}

// noStore marks every answer of the bot routes as not cacheable: tokens are fresh or useless.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// writeToken answers 200 with the token as the whole body. An empty token is never a 200.
func writeToken(w http.ResponseWriter, r *http.Request, token string) {
	if !vend.Plausible(token) {
		writeTextFailure(w, r, vend.ErrNotAToken)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(token)))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, token)
}

// writeText answers with a short plain-text body, exactly the text (the contract names the
// bodies, such as "unauthorized", byte for byte).
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, text)
}

// writeFieldErrors writes the {"errors": [...]} body POST / answers every failure with.
func writeFieldErrors(w http.ResponseWriter, status int, errs ...sdkjwt.FieldError) {
	writeJSON(w, status, sdkjwt.ValidationError{Errors: errs})
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
