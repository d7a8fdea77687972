package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// rtmsVariables are what turns the RTMS routes on, as their 404 says.
const rtmsVariables = vend.RTMSVariables

// parseStreamID reads rtms_stream_id: Zoom's are 32 hex digits, and nothing else is looked up.
func parseStreamID(raw string) (string, error) {
	if raw == "" {
		return "", badRequest("rtms_stream_id is required")
	}
	if len(raw) != 32 || strings.Trim(strings.ToLower(raw), "0123456789abcdef") != "" {
		return "", badRequest("rtms_stream_id must be Zoom's stream id: 32 hexadecimal digits")
	}
	return raw, nil
}

// handleRTMSStream serves GET /rtms/stream?secret=S&rtms_stream_id=I: the object zoom/rtms's
// join() takes, its signature included, so a worker holds no Client Secret. A stopped stream is a
// 410 whose JSON is the stream without its signature (stop_reason, restartable) and, in error,
// why in words: a worker learns from it whether to report a restartable stop.
func handleRTMSStream(v *vend.Vendor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		join, err := streamJoin(r, v)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		var stopped *rtms.StoppedError
		switch {
		case errors.As(err, &stopped):
			writeJSON(w, http.StatusGone, struct {
				rtms.Join
				Error string `json:"error"`
			}{join, stopped.Error()})
		case err != nil:
			writeTextFailure(w, r, err)
		default:
			writeJSON(w, http.StatusOK, join)
		}
	}
}

// handleRTMSSignature serves GET /rtms/signature?secret=S&rtms_stream_id=I: the stream's
// signature alone, as the whole plain-text body.
func handleRTMSSignature(v *vend.Vendor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		join, err := streamJoin(r, v)
		if err != nil {
			writeTextFailure(w, r, err)
			return
		}
		writeToken(w, r, join.Signature)
	}
}

// streamJoin reads rtms_stream_id and returns the stream's join object, or why there is none.
func streamJoin(r *http.Request, v *vend.Vendor) (rtms.Join, error) {
	id, err := parseStreamID(r.URL.Query().Get("rtms_stream_id"))
	if err != nil {
		return rtms.Join{}, err
	}
	return v.StreamJoin(r.Context(), id)
}

// rtmsKinds maps an RTMS webhook's prefix to the kind of stream.
var rtmsKinds = map[string]rtms.Kind{"meeting": rtms.KindMeeting, "webinar": rtms.KindWebinar, "session": rtms.KindSession}

// rtmsStates maps an RTMS webhook's suffix to the state it announces.
var rtmsStates = map[string]rtms.State{"rtms_started": rtms.StateStarted, "rtms_interrupted": rtms.StateInterrupted,
	"rtms_stopped": rtms.StateStopped}

// rtmsChange reads an RTMS webhook, and reports false for any other event.
func rtmsChange(ev zoom.WebhookEvent) (rtms.Change, bool) {
	prefix, suffix, _ := strings.Cut(ev.Event, ".")
	kind, okKind := rtmsKinds[prefix]
	state, okState := rtmsStates[suffix]
	if !okKind || !okState {
		return rtms.Change{}, false
	}
	uuid := ev.MeetingUUID
	if kind == rtms.KindSession {
		uuid = ev.SessionID
	}
	return rtms.Change{Kind: kind, State: state, Stream: rtms.Stream{ID: ev.RTMSStreamID, MeetingUUID: uuid,
		MeetingID: ev.MeetingID, ServerURLs: ev.ServerURLs, AccountID: ev.AccountID, StopReason: ev.StopReason}}, true
}

// applyRTMSEvent records an RTMS webhook's stream. One naming another app, or without a stream id
// of Zoom's shape, changes nothing.
func applyRTMSEvent(ctx context.Context, w http.ResponseWriter, app vend.App, ev zoom.WebhookEvent, c rtms.Change) (string, error) {
	if app.RTMS == nil {
		return "ignored", nil
	}
	if ev.ClientID != "" && ev.ClientID != app.RTMSClientID {
		requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: an RTMS event of another app (client_id); ignored")
		return "ignored", nil
	}
	if _, err := parseStreamID(c.Stream.ID); err != nil || c.Stream.MeetingUUID == "" ||
		!plainText(c.Stream.MeetingUUID) || !plainText(c.Stream.ServerURLs) || !plainText(c.Stream.AccountID) {
		requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: an RTMS event without Zoom's stream id or meeting uuid; ignored")
		return "ignored", nil
	}
	stream, changed, err := app.RTMS.Record(ctx, c)
	if err != nil {
		return "", err
	}
	line := requestLogger(w).Info().Str("event", ev.Event).Str("rtms_stream_id", stream.ID).Str("state", string(stream.State)).
		Bool("changed", changed)
	if stream.State == rtms.StateStopped {
		line = line.Int("stop_reason", stream.StopReason).Bool("restartable", rtms.Restartable(stream.StopReason))
	}
	line.Msg("RTMS stream")
	if !app.RTMS.Usable(stream) {
		requestLogger(w).Warn().Str("event", ev.Event).Str("rtms_stream_id", stream.ID).
			Msg("RTMS: a Video SDK session's stream no worker can join: set ZOOM_VIDEO_SDK_KEY and ZOOM_VIDEO_SDK_SECRET to sign it")
	}
	return "ok", nil
}

// handleRTMSControl serves POST /admin/rtms/start and /admin/rtms/stop: the call is made with
// the named connection's token, else the meeting's host connection's (the meeting map), else the
// S2S app's. It answers 202: the stream's change arrives by webhook.
func handleRTMSControl(action zoom.RTMSAction, v *vend.Vendor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parseRTMSControl(w, r)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		req.Action = action
		made, err := v.ControlRTMS(r.Context(), req)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		answer := map[string]any{"meeting_id": strconv.FormatInt(req.MeetingID, 10), "action": action, "via": made.Via,
			"connection_id": nil}
		if made.ConnectionID != "" {
			answer["connection_id"] = made.ConnectionID
		}
		requestLogger(w).Info().Str("action", string(action)).Str("via", made.Via).Msg("RTMS control sent to Zoom")
		writeJSON(w, http.StatusAccepted, answer)
	}
}

// parseRTMSControl reads the body of POST /admin/rtms/start and /stop.
func parseRTMSControl(w http.ResponseWriter, r *http.Request) (vend.RTMSControlRequest, error) {
	raw, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return vend.RTMSControlRequest{}, err
	}
	var body struct {
		MeetingID         string `json:"meeting_id"`
		User              string `json:"user"`
		Ref               string `json:"ref"`
		ParticipantUserID string `json:"participant_user_id"`
	}
	if err := decodeStrict(raw, &body, `{"meeting_id": "81112223333"}`); err != nil {
		return vend.RTMSControlRequest{}, err
	}
	meetingID, err := parseMeetingID(body.MeetingID)
	if err == nil {
		_, err = parseName(url.Values{"user": {body.User}, "ref": {body.Ref}})
	}
	return vend.RTMSControlRequest{MeetingID: meetingID, Name: vend.Name{User: body.User, Ref: body.Ref},
		ParticipantUserID: body.ParticipantUserID}, err
}

// maxListedStreams caps GET /admin/rtms/streams: the newest streams, for an operator deciding
// whether to restart one.
const maxListedStreams = 1000

// streamFields is a stream as the admin API shows it: what a worker's join() takes, without
// the signature, with its kind, its stop reason in words and its last event's time.
type streamFields struct {
	rtms.Join
	Kind rtms.Kind `json:"kind"`
	// Why is the stop reason in words.
	Why       string    `json:"why,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newStreamFields(s rtms.Stream) streamFields {
	f := streamFields{Join: s.Unsigned(), Kind: s.Kind, UpdatedAt: s.UpdatedAt.UTC()}
	if s.State == rtms.StateStopped {
		f.Why = rtms.StopReasonText(s.StopReason)
	}
	return f
}

// handleListStreams serves GET /admin/rtms/streams[?meeting_id=N]: the streams verified webhooks
// announced (of that meeting), the most recently started first.
func handleListStreams(streams *rtms.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var meetingID int64
		if raw := r.URL.Query().Get("meeting_id"); raw != "" {
			id, err := parseMeetingID(raw)
			if err != nil {
				writeJSONFailure(w, r, err, adminBody)
				return
			}
			meetingID = id
		}
		list, err := streams.Streams(r.Context(), meetingID, maxListedStreams)
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		answer := make([]streamFields, len(list))
		for i, s := range list {
			answer[i] = newStreamFields(s)
		}
		writeJSON(w, http.StatusOK, map[string]any{"streams": answer})
	}
}

// handleGetStream serves GET /admin/rtms/streams/{id}: one stream, without its signature.
func handleGetStream(streams *rtms.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := parseStreamID(chi.URLParam(r, "id"))
		if err == nil {
			var s rtms.Stream
			if s, err = streams.Stream(r.Context(), id); err == nil {
				writeJSON(w, http.StatusOK, newStreamFields(s))
				return
			}
		}
		writeJSONFailure(w, r, err, adminBody)
	}
}
