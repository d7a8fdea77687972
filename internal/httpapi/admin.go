package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
)

// maxAdminBody bounds an admin request body; a connect-link request is a few dozen bytes.
const maxAdminBody = 16 << 10

// writeAdminError answers an admin request the API refuses as it stands (401, 400, 404).
func writeAdminError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]string{"error": reason})
}

// handleListConnections serves GET /admin/connections[?ref=R][&status=S].
func handleListConnections(m *connections.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status := connections.Status(q.Get("status"))
		if status != "" && status != connections.StatusActive && status != connections.StatusReauthorizationRequired {
			writeAdminError(w, http.StatusBadRequest, "status must be active or reauthorization_required")
			return
		}
		list, err := m.Connections(r.Context(), connections.Filter{Ref: q.Get("ref"), Status: status})
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		fields := make([]connections.Fields, len(list))
		for i, c := range list {
			fields[i] = c.Fields()
		}
		writeJSON(w, http.StatusOK, map[string]any{"connections": fields})
	}
}

// handleGetConnection serves GET /admin/connections/{id}.
func handleGetConnection(m *connections.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := m.Connection(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		writeJSON(w, http.StatusOK, c.Fields())
	}
}

// handleDeleteConnection serves DELETE /admin/connections/{id}: its tokens are revoked at Zoom
// (best effort), then it is deleted with its meetings.
func handleDeleteConnection(m *connections.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := m.Delete(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		requestLogger(w).Info().Str("connection", c.ID).Msg("connection deleted by the admin API")
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleRemoveRef serves DELETE /admin/connections/{id}/refs/{ref}: ref (percent-encoded in the
// path) stops resolving to the connection, which is answered as it now is.
func handleRemoveRef(m *connections.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref, err := url.PathUnescape(chi.URLParam(r, "ref"))
		if err != nil || ref == "" {
			writeAdminError(w, http.StatusBadRequest, "the ref in the path is not percent-encoded text")
			return
		}
		c, err := m.RemoveRef(r.Context(), chi.URLParam(r, "id"), ref)
		if errors.Is(err, connections.ErrNotFound) {
			writeAdminError(w, http.StatusNotFound, "no connection with this id has this ref")
			return
		}
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		writeJSON(w, http.StatusOK, c.Fields())
	}
}

// handleCreateConnectLink serves POST /admin/connect-links {"ref": R, "ttl_seconds": N}.
func handleCreateConnectLink(links *connectlink.Signer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Ref *string         `json:"ref"`
			TTL json.RawMessage `json:"ttl_seconds"`
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxAdminBody)); err != nil {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "the body is larger than 16 KiB")
			return
		}
		if buf.Len() > 0 {
			if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
				writeAdminError(w, http.StatusBadRequest, `the body must be a JSON object such as {"ref": "customer-42", "ttl_seconds": 86400}`)
				return
			}
		}
		ttl, problem := connectLinkTTL(body.TTL)
		ref := ""
		if body.Ref != nil {
			ref = *body.Ref
		}
		if problem == "" && (utf8.RuneCountInString(ref) > connectlink.MaxRefLength || !utf8.ValidString(ref)) {
			problem = "ref must be text of at most 200 characters"
		}
		if problem != "" {
			writeAdminError(w, http.StatusBadRequest, problem)
			return
		}
		link, expires := links.Mint(ref, ttl)
		writeJSON(w, http.StatusCreated, map[string]string{"url": link, "expires_at": expires.Format(time.RFC3339)})
	}
}

// connectLinkTTL reads ttl_seconds: absent is the default, otherwise a JSON integer from 1 to
// 2592000 (30 days).
func connectLinkTTL(raw json.RawMessage) (time.Duration, string) {
	if len(raw) == 0 {
		return connectlink.DefaultTTL, ""
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || bytes.ContainsAny(raw, ".eE") || n < 1 || n > int64(connectlink.MaxTTL/time.Second) {
		return 0, "ttl_seconds must be a whole number of seconds from 1 to 2592000"
	}
	return time.Duration(n) * time.Second, ""
}
