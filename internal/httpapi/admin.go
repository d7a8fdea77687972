package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// maxAdminBody bounds an admin request body; a connect-link request is a few dozen bytes.
const maxAdminBody = 16 << 10

// adminOff answers an admin route whose feature is off: 404 with what turns it on.
func adminOff(reason string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSONFailure(w, r, &requestError{status: http.StatusNotFound, reason: reason}, adminBody)
	}
}

// connectionID is the {id} of an admin path. One that cannot be ours (not plain text) is looked
// up as the empty id, which matches nothing: a 404, as any unknown id gets.
func connectionID(r *http.Request) string {
	if id := chi.URLParam(r, "id"); plainText(id) {
		return id
	}
	return ""
}

// handleListConnections serves GET /admin/connections[?ref=R][&status=S].
func handleListConnections(m *connections.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status := connections.Status(q.Get("status"))
		if status != "" && status != connections.StatusActive && status != connections.StatusReauthorizationRequired {
			writeJSONFailure(w, r, badRequest("status must be active or reauthorization_required"), adminBody)
			return
		}
		if !plainText(q.Get("ref")) {
			writeJSONFailure(w, r, badRequest("ref "+notPlainText), adminBody)
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
		c, err := m.Connection(r.Context(), connectionID(r))
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
		c, err := m.Delete(r.Context(), connectionID(r))
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
		if err != nil || ref == "" || !plainText(ref) {
			writeJSONFailure(w, r, badRequest("the ref in the path is not percent-encoded text"), adminBody)
			return
		}
		c, err := m.RemoveRef(r.Context(), connectionID(r), ref)
		if errors.Is(err, connections.ErrNotFound) {
			err = &requestError{status: http.StatusNotFound, reason: "no connection with this id has this ref"}
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
		ref, ttl, err := parseConnectLinkRequest(w, r)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		link, expires := links.Mint(ref, ttl)
		writeJSON(w, http.StatusCreated, map[string]string{"url": link, "expires_at": expires.Format(time.RFC3339)})
	}
}

// parseConnectLinkRequest reads the body of POST /admin/connect-links: an optional ref and
// ttl_seconds; an empty body is all defaults.
func parseConnectLinkRequest(w http.ResponseWriter, r *http.Request) (string, time.Duration, error) {
	raw, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return "", 0, err
	}
	var body struct {
		Ref *string         `json:"ref"`
		TTL json.RawMessage `json:"ttl_seconds"`
	}
	if len(raw) > 0 {
		if err := decodeStrict(raw, &body, `{"ref": "customer-42", "ttl_seconds": 86400}`); err != nil {
			return "", 0, err
		}
	}
	ttl, err := connectLinkTTL(body.TTL)
	if err != nil {
		return "", 0, err
	}
	ref := ""
	if body.Ref != nil {
		if ref = *body.Ref; ref == "" {
			return "", 0, badRequest("ref is empty: leave it out for a link with no ref")
		}
	}
	if err := connectlink.CheckRef(ref); err != nil {
		return "", 0, badRequest(err.Error())
	}
	return ref, ttl, nil
}

// decodeStrict reads a JSON object body into v, refusing unknown fields (a misspelt
// "ttl_seconds" must not silently give the default) and anything after the object; example is
// what the 400 shows.
func decodeStrict(raw []byte, v any, example string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var unknown string
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		unknown = strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("the body has a field this route does not take, " + unknown + ": it takes " + example)
	case err != nil:
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest(typeErr.Field + " must be a " + jsonKind(typeErr.Type.Kind().String()) + ", as in " + example)
		}
		return badRequest("the body must be a JSON object such as " + example)
	case dec.More():
		return badRequest("the body must be one JSON object such as " + example)
	}
	return nil
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "map", "struct":
		return "JSON object"
	case "slice", "array":
		return "list"
	case "bool":
		return "boolean"
	}
	return "number"
}

// connectLinkTTL reads ttl_seconds: absent is the default, otherwise a JSON integer from 1 to
// 2592000 (30 days).
func connectLinkTTL(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 {
		return connectlink.DefaultTTL, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || bytes.ContainsAny(raw, ".eE") || n < 1 || n > int64(connectlink.MaxTTL/time.Second) {
		return 0, badRequest("ttl_seconds must be a whole number of seconds from 1 to 2592000")
	}
	return time.Duration(n) * time.Second, nil
}

// handleCreateBotLink serves POST /admin/bot-links {"route": R, "params": {…}, "ttl_seconds": N}:
// a bot link to route R with exactly those parameters, checked as the route checks them.
func handleCreateBotLink(links *botlink.Keys, publicURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		route, params, ttl, err := parseBotLinkRequest(w, r)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		path, expires, err := links.Mint(route, params, ttl)
		var bad *botlink.Malformed
		if errors.As(err, &bad) {
			err = badRequest(bad.Reason)
		}
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		answer := map[string]string{"path": path, "expires_at": expires.Format(time.RFC3339)}
		if publicURL != "" {
			answer["url"] = publicURL + path
		}
		requestLogger(w).Info().Str("route", route).Time("link_expires", expires).Msg("bot link minted")
		writeJSON(w, http.StatusCreated, answer)
	}
}

// parseBotLinkRequest reads the body of POST /admin/bot-links.
func parseBotLinkRequest(w http.ResponseWriter, r *http.Request) (string, map[string]string, time.Duration, error) {
	raw, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return "", nil, 0, err
	}
	var body struct {
		Route  string            `json:"route"`
		Params map[string]string `json:"params"`
		TTL    json.RawMessage   `json:"ttl_seconds"`
	}
	if err := decodeStrict(raw, &body, `{"route": "/obf-token", "params": {"ref": "customer-42"}, "ttl_seconds": 86400}`); err != nil {
		return "", nil, 0, err
	}
	ttl, err := connectLinkTTL(body.TTL)
	if err != nil {
		return "", nil, 0, err
	}
	if err := CheckBotLinkParams(body.Route, body.Params); err != nil {
		return "", nil, 0, err
	}
	return body.Route, body.Params, ttl, nil
}

// CheckBotLinkParams checks a link's parameters as its route will when the link is used, so a link
// that can only ever answer 400 is never minted.
func CheckBotLinkParams(route string, params map[string]string) error {
	q := url.Values{}
	for name, value := range params {
		q.Set(name, value)
	}
	var err error
	switch route {
	case "/zak":
		_, err = parseName(q)
	case "/join-token":
		_, err = parseJoinTokenRequest(q)
	case "/obf-token", "/access-token":
		_, err = parseRequiredName(q)
		if raw := q.Get("meeting_id"); err == nil && raw != "" && route == "/obf-token" {
			_, err = parseMeetingID(raw)
		}
		if raw := q.Get("min_valid"); err == nil && raw != "" && route == "/access-token" {
			_, err = parseMinValid(raw)
		}
	case "/rtms/stream", "/rtms/signature":
		_, err = parseStreamID(q.Get("rtms_stream_id"))
	}
	if ref := q.Get("ref"); err == nil && ref != "" {
		if refErr := connectlink.CheckRef(ref); refErr != nil {
			err = badRequest(refErr.Error())
		}
	}
	return err
}

// eventFields is an event as the admin API shows it: never its payload or a signature.
type eventFields struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Key           string     `json:"key"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	FailedAt      *time.Time `json:"failed_at,omitempty"`
}

func newEventFields(r outbox.Record) eventFields {
	f := eventFields{ID: r.ID, Type: r.Type, Key: r.Subject, State: r.State, Attempts: r.Attempts,
		LastError: r.LastError, CreatedAt: r.CreatedAt}
	if r.State == outbox.StateFailed {
		f.FailedAt = &r.FailedAt
	} else {
		f.NextAttemptAt = &r.NextAttemptAt
	}
	return f
}

// handleListEvents serves GET /admin/events[?state=pending|failed][&type=T]: the outbox, oldest
// first, and whether delivery is paused.
func handleListEvents(store outbox.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := outbox.Filter{State: q.Get("state"), Type: q.Get("type")}
		if f.State != "" && f.State != outbox.StatePending && f.State != outbox.StateFailed {
			writeJSONFailure(w, r, badRequest("state must be pending or failed"), adminBody)
			return
		}
		if !plainText(f.Type) {
			writeJSONFailure(w, r, badRequest("type "+notPlainText), adminBody)
			return
		}
		records, err := store.Events(r.Context(), f)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		paused, since, reason, err := store.DeliveryPaused(r.Context())
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		list := make([]eventFields, len(records))
		for i, rec := range records {
			list[i] = newEventFields(rec)
		}
		delivery := map[string]any{"paused": paused}
		if paused {
			delivery["paused_at"], delivery["reason"] = since, reason
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": list, "delivery": delivery})
	}
}

// handleRetryEvent serves POST /admin/events/{id}/retry: the event is due now, its retries
// starting over.
func handleRetryEvent(store outbox.Store, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if !plainText(id) {
			id = "" // matches nothing: a 404, as any unknown id gets
		}
		err := store.RetryEvent(r.Context(), id, now())
		if errors.Is(err, outbox.ErrNotFound) {
			err = &requestError{status: http.StatusNotFound, reason: "no event with this id is in the outbox (a delivered one is not kept)"}
		}
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		requestLogger(w).Info().Str("event_id", id).Msg("event replayed by the admin API")
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "state": outbox.StatePending})
	}
}

// handleRetryFailed serves POST /admin/events/retry: every failed event is due now, and a
// paused delivery resumes.
func handleRetryFailed(store outbox.Store, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		paused, _, _, err := store.DeliveryPaused(r.Context())
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		n, err := store.RetryFailed(r.Context(), now())
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		requestLogger(w).Info().Int("replayed", n).Bool("resumed", paused).Msg("failed events replayed by the admin API")
		writeJSON(w, http.StatusOK, map[string]any{"replayed": n, "resumed": paused})
	}
}
