package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// maxWebhookBody is the largest webhook body read: exactly 1 MiB is accepted.
const maxWebhookBody = 1 << 20

// webhookDeadline leaves a margin under the 3 seconds Zoom waits for an answer.
const webhookDeadline = 2500 * time.Millisecond

// handleZoomWebhook serves POST /webhooks/zoom: Zoom's event notifications. The signature over
// the raw body is checked before anything else (the size limit comes first, so a huge body is
// not hashed); then the event keeps the meeting map, the connections and the RTMS streams
// current. A storage failure answers 500, so Zoom retries.
func handleZoomWebhook(app vend.App, met *metrics.Metrics, now func() time.Time) http.HandlerFunc {
	tokens := app.WebhookTokens
	countWebhook := func(event, outcome string) {
		if met != nil {
			met.ObserveWebhook(event, outcome)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, maxWebhookBody)
		var rerr *requestError
		if errors.As(err, &rerr) && rerr.status == http.StatusRequestEntityTooLarge {
			countWebhook("", "too_large")
		}
		if err != nil {
			writeTextFailure(w, r, err)
			return
		}
		if err := zoom.VerifyWebhook(tokens, r.Header.Get("x-zm-request-timestamp"), r.Header.Get("x-zm-signature"), body, now()); err != nil {
			countWebhook("", "unauthorized")
			requestLogger(w).Warn().Str("reason", err.Error()).Msg("webhook refused")
			writeTextFailure(w, r, errUnauthorized)
			return
		}
		ev, err := zoom.ParseWebhook(body)
		if err != nil {
			countWebhook("", "malformed")
			writeTextFailure(w, r, badRequest("the body is not the JSON of a Zoom event"))
			return
		}
		if ev.Event == "endpoint.url_validation" {
			if ev.PlainToken == "" {
				countWebhook(ev.Event, "malformed")
				writeTextFailure(w, r, badRequest("payload.plainToken is missing"))
				return
			}
			countWebhook(ev.Event, "ok")
			writeJSON(w, http.StatusOK, map[string]string{"plainToken": ev.PlainToken,
				"encryptedToken": zoom.URLValidation(tokens[0], ev.PlainToken)})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), webhookDeadline)
		defer cancel()
		var outcome string
		if change, ok := rtmsChange(ev); ok {
			outcome, err = applyRTMSEvent(ctx, w, app, ev, change)
		} else {
			outcome, err = applyZoomEvent(ctx, w, app.Connected, ev)
		}
		if err != nil {
			countWebhook(ev.Event, "failed")
			writeTextFailure(w, r, fmt.Errorf("%w: %s: %w", errEffectNotStored, ev.Event, err))
			return
		}
		countWebhook(eventLabel(ev.Event), outcome)
		requestLogger(w).Debug().Str("event", ev.Event).Str("outcome", outcome).Msg("webhook")
		writeText(w, http.StatusOK, "ok")
	}
}

// applyZoomEvent changes what an event changes, with a deadline well inside Zoom's 3 seconds.
func applyZoomEvent(ctx context.Context, w http.ResponseWriter, cd *vend.Connected, ev zoom.WebhookEvent) (string, error) {
	if cd == nil {
		return "ignored", nil // webhooks without connected accounts: acknowledged
	}
	m := cd.Manager
	if !plainText(ev.UserID) || !plainText(ev.HostID) || !plainText(ev.ObjectUserID) {
		// A verified event with an id no database takes: acknowledged, so Zoom does not retry it
		// for days, and changing nothing.
		requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: an id that is not UTF-8 text; ignored")
		return "ignored", nil
	}
	switch ev.Event {
	case "app_deauthorized":
		switch {
		case ev.UserID == "":
			return "ignored", nil
		case ev.ClientID != cd.ClientID:
			// Another app's users remove that app; a connection of this one stays.
			requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: a deauthorization of another app (client_id); ignored")
			return "ignored", nil
		}
		err := m.Deauthorized(ctx, ev.UserID, ev.DeauthorizedAt)
		if errors.Is(err, connections.ErrOvertaken) {
			requestLogger(w).Warn().Str("event", ev.Event).Time("deauthorization_time", ev.DeauthorizedAt).
				Msg("webhook: a deauthorization older than the connection's latest connect (a replay, or undone by a reconnect); ignored")
			return "ignored", nil
		}
		return "ok", err
	case "meeting.created", "meeting.updated":
		if ev.MeetingID == 0 || ev.HostID == "" {
			return "ignored", nil
		}
		return "ok", m.MeetingHosted(ctx, ev.MeetingID, ev.HostID)
	case "meeting.deleted":
		if ev.MeetingID == 0 {
			return "ignored", nil
		}
		return "ok", m.MeetingDeleted(ctx, ev.MeetingID)
	case "user.updated":
		if ev.PMI == 0 || ev.ObjectUserID == "" {
			return "ignored", nil // only the PMI matters here
		}
		return "ok", m.PMIChanged(ctx, ev.ObjectUserID, ev.PMI, ev.PreviousPMI)
	}
	return "ignored", nil
}

// eventLabel keeps the metric's event label to the events zoomtoken knows.
func eventLabel(event string) string {
	if _, ok := rtmsChange(zoom.WebhookEvent{Event: event}); ok {
		return event
	}
	switch event {
	case "endpoint.url_validation", "app_deauthorized", "meeting.created", "meeting.updated", "meeting.deleted", "user.updated":
		return event
	}
	return "other"
}
