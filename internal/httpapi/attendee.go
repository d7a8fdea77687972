package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// maxAttendeeBody bounds a zoom_tokens callback; attendee caps a bot's metadata well below it.
const maxAttendeeBody = 64 << 10

// attendeeTokens is the answer attendee reads: each token absent when it could not be had.
type attendeeTokens struct {
	ZAK          string `json:"zak_token,omitempty"`
	AppPrivilege string `json:"app_privilege_token,omitempty"`
	OnBehalf     string `json:"onbehalf_token,omitempty"`
}

// attendeeDeadline is how long the tokens are gathered: attendee waits 30 s for the answer, once,
// so what is ready by then is sent rather than nothing.
const attendeeDeadline = 25 * time.Second

// handleAttendee serves POST /callbacks/attendee, attendee's zoom_tokens callback: the signature
// first (401), then the request (400), then every token that can be had, fetched at once, each
// left out with a logged reason when it cannot. 503 only when the database is down and no token
// could be had.
func handleAttendee(verifier *attendee.Verifier, v *vend.Vendor, m *metrics.Metrics, deadline time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, maxAttendeeBody)
		if err != nil {
			writeTextFailure(w, r, err)
			return
		}
		key, err := verifier.Verify(body, r.Header.Get("X-Webhook-Signature"))
		if err != nil {
			m.ObserveBotAuth(callerRefused)
			reason := err.Error()
			if errors.Is(err, attendee.ErrNotJSON) {
				reason = attendee.ErrNotJSON.Error() + ", so its signature cannot be checked"
			}
			requestLogger(w).Warn().Str("reason", reason).Msg("attendee callback refused")
			writeTextFailure(w, r, unauthorized(reason))
			return
		}
		m.ObserveBotAuth(callerAttendee)
		exchangeOf(w).caller = &caller{kind: callerAttendee, key: key, reach: vend.ReachConnected}
		req, err := attendee.ParseRequest(body)
		if err == nil {
			var meetingID int64
			if meetingID, err = zoom.MeetingIDFromURL(req.MeetingURL); err == nil {
				answerAttendee(w, r, v, req, meetingID, deadline)
				return
			}
		}
		writeTextFailure(w, r, badRequest(err.Error()))
	}
}

// answerAttendee gets the callback's tokens and answers them, logging each left out.
func answerAttendee(w http.ResponseWriter, r *http.Request, v *vend.Vendor, req attendee.Request, meetingID int64, deadline time.Duration) {
	log := requestLogger(w).With().Str("bot_id", req.BotID).Int64("meeting_id", meetingID).Logger()
	ctx, cancel := context.WithTimeout(r.Context(), deadline)
	defer cancel()
	set := v.Attendee(ctx, req, meetingID)
	if r.Context().Err() != nil {
		return // the bot hung up: nobody to answer (recorded as 499)
	}
	if errors.Is(set.AppPrivilege.PassedOver, connections.ErrUnavailable) {
		log.Warn().Err(set.AppPrivilege.PassedOver).Msg("attendee: the meeting map is unavailable")
	}
	for _, l := range set.LeftOut {
		logLeftOut(&log, l)
	}
	tokens := attendeeTokens{ZAK: set.ZAK.Value, AppPrivilege: set.AppPrivilege.Value, OnBehalf: set.OnBehalfList()}
	if tokens == (attendeeTokens{}) && set.DatabaseDown {
		writeTextFailure(w, r, connections.ErrUnavailable)
		return
	}
	log.Info().Bool("zak_token", tokens.ZAK != "").Bool("app_privilege_token", tokens.AppPrivilege != "").
		Int("onbehalf_tokens", len(set.OnBehalf)).Msg("attendee callback answered")
	writeJSON(w, http.StatusOK, tokens)
}

// logLeftOut logs why a token is not in the answer: at info when that is how things are (no such
// connection, no source), at warn when Zoom or the database failed. A named connection is given
// by its place in bot_metadata, not by the operator's ref for it.
func logLeftOut(log *zerolog.Logger, l vend.LeftOut) {
	event := log.Info()
	reason := l.Err.Error()
	var own vend.Reason
	if !errors.As(l.Err, &own) {
		f := classify(l.Err)
		if f.status >= 500 {
			event = log.Warn()
		}
		event = event.Int("status", f.status)
		if f.reason != "" {
			reason = f.reason
		}
	}
	if l.Named != "" {
		reason = l.Named + ": " + reason
	}
	if l.ConnectionID != "" {
		event = event.Str("connection", l.ConnectionID)
	}
	event.Str("token", l.Token).Str("reason", reason).Msg("attendee: token left out")
}
