package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// maxWebhookBody is the largest webhook body read: exactly 1 MiB is accepted.
const maxWebhookBody = 1 << 20

// webhookDeadline leaves a margin under the 3 seconds Zoom waits for an answer.
const webhookDeadline = 2500 * time.Millisecond

// zoomEvent is the envelope of a Zoom webhook, as far as zoomtoken reads it.
type zoomEvent struct {
	Event   string `json:"event"`
	Payload struct {
		PlainToken string `json:"plainToken"`
		UserID     string `json:"user_id"`
		Object     struct {
			// ID is a meeting id (a number) in meeting events, a user id (a string) in
			// user.updated.
			ID     json.RawMessage `json:"id"`
			HostID string          `json:"host_id"`
			PMI    json.RawMessage `json:"pmi"`
		} `json:"object"`
		// OldObject holds the changed fields' values before, in user.updated.
		OldObject struct {
			PMI json.RawMessage `json:"pmi"`
		} `json:"old_object"`
	} `json:"payload"`
}

// positiveID reads a meeting id or PMI: a JSON integer, or a string of digits.
func positiveID(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.Trim(raw, `"`)), 10, 64)
	return n, err == nil && n > 0
}

// handleZoomWebhook serves POST /webhooks/zoom: Zoom's event notifications. The signature over
// the raw body is checked before anything else (the size limit comes first, so a huge body is
// not hashed); then the event keeps the meeting map and the connections current. A storage
// failure answers 500, so Zoom retries.
func handleZoomWebhook(tokens []string, m *connections.Manager, met *metrics.Metrics, now func() time.Time) http.HandlerFunc {
	countWebhook := func(event, outcome string) {
		if met != nil {
			met.ObserveWebhook(event, outcome)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, maxWebhookBody)); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				countWebhook("", "too_large")
				writeText(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
				return
			}
			writeText(w, http.StatusBadRequest, "the body could not be read")
			return
		}
		if !zoom.VerifyWebhook(tokens, r.Header.Get("x-zm-request-timestamp"), r.Header.Get("x-zm-signature"), body.Bytes(), now()) {
			countWebhook("", "unauthorized")
			writeText(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		var ev zoomEvent
		if err := json.Unmarshal(body.Bytes(), &ev); err != nil {
			countWebhook("", "malformed")
			writeText(w, http.StatusBadRequest, "the body is not the JSON of a Zoom event")
			return
		}
		if ev.Event == "endpoint.url_validation" {
			if ev.Payload.PlainToken == "" {
				countWebhook(ev.Event, "malformed")
				writeText(w, http.StatusBadRequest, "payload.plainToken is missing")
				return
			}
			countWebhook(ev.Event, "ok")
			writeJSON(w, http.StatusOK, map[string]string{"plainToken": ev.Payload.PlainToken,
				"encryptedToken": zoom.URLValidation(tokens[0], ev.Payload.PlainToken)})
			return
		}
		outcome, err := applyZoomEvent(r.Context(), m, ev)
		if err != nil {
			requestLogger(w).Error().Str("event", ev.Event).Err(err).Msg("webhook: storing its effect failed; Zoom will retry")
			countWebhook(ev.Event, "failed")
			writeText(w, http.StatusInternalServerError, "could not store the event's effect; retry")
			return
		}
		countWebhook(eventLabel(ev.Event), outcome)
		requestLogger(w).Debug().Str("event", ev.Event).Str("outcome", outcome).Msg("webhook")
		writeText(w, http.StatusOK, "ok")
	}
}

// applyZoomEvent changes what an event changes, with a deadline well inside Zoom's 3 seconds.
func applyZoomEvent(ctx context.Context, m *connections.Manager, ev zoomEvent) (string, error) {
	if m == nil {
		return "ignored", nil // webhooks without connected accounts: acknowledged
	}
	ctx, cancel := context.WithTimeout(ctx, webhookDeadline)
	defer cancel()
	obj := ev.Payload.Object
	meetingID, hasMeeting := positiveID(obj.ID)
	switch ev.Event {
	case "app_deauthorized":
		if ev.Payload.UserID == "" {
			return "ignored", nil
		}
		return "ok", m.Deauthorized(ctx, ev.Payload.UserID)
	case "meeting.created", "meeting.updated":
		if !hasMeeting || obj.HostID == "" {
			return "ignored", nil
		}
		return "ok", m.MeetingHosted(ctx, meetingID, obj.HostID)
	case "meeting.deleted":
		if !hasMeeting {
			return "ignored", nil
		}
		return "ok", m.MeetingDeleted(ctx, meetingID)
	case "user.updated":
		var userID string
		pmi, hasPMI := positiveID(obj.PMI)
		if !hasPMI || json.Unmarshal(obj.ID, &userID) != nil || userID == "" {
			return "ignored", nil // only the PMI matters here
		}
		previous, _ := positiveID(ev.Payload.OldObject.PMI)
		return "ok", m.PMIChanged(ctx, userID, pmi, previous)
	}
	return "ignored", nil
}

// eventLabel keeps the metric's event label to the events zoomtoken knows.
func eventLabel(event string) string {
	switch event {
	case "endpoint.url_validation", "app_deauthorized", "meeting.created", "meeting.updated", "meeting.deleted", "user.updated":
		return event
	}
	return "other"
}
