package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// RTMS holds what the Realtime Media Streams routes need; nil in Deps turns them off.
type RTMS struct {
	Service *rtms.Service
	// ClientID is the RTMS app's: the control call names it, and a webhook naming another app
	// is ignored.
	ClientID string
}

// rtmsVariables are what turns the RTMS routes on, as their 404 says.
const rtmsVariables = "ZOOM_WEBHOOK_SECRET_TOKENS with connected accounts (ZOOM_RTMS_CLIENT_ID and ZOOM_RTMS_CLIENT_SECRET for an RTMS app of its own)"

// parseStreamID reads rtms_stream_id: Zoom's are 32 hex digits, and nothing else is looked up.
func parseStreamID(raw string) (string, string) {
	if raw == "" {
		return "", "rtms_stream_id is required"
	}
	if len(raw) != 32 || strings.Trim(strings.ToLower(raw), "0123456789abcdef") != "" {
		return "", "rtms_stream_id must be Zoom's stream id: 32 hexadecimal digits"
	}
	return raw, ""
}

// handleRTMSStream serves GET /rtms/stream?secret=S&rtms_stream_id=I: the object zoom/rtms's
// join() takes, its signature included, so a worker holds no Client Secret.
func handleRTMSStream(rt *RTMS) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if join, ok := joinOf(w, r, rt); ok {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			writeJSON(w, http.StatusOK, join)
		}
	}
}

// handleRTMSSignature serves GET /rtms/signature?secret=S&rtms_stream_id=I: the stream's
// signature alone, as the whole plain-text body.
func handleRTMSSignature(rt *RTMS) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if join, ok := joinOf(w, r, rt); ok {
			writeToken(w, join.Signature)
		}
	}
}

// joinOf reads rtms_stream_id and returns the stream's join object, or answers why there is
// none (400, 404, 410, 503) and returns false.
func joinOf(w http.ResponseWriter, r *http.Request, rt *RTMS) (rtms.Join, bool) {
	id, problem := parseStreamID(r.URL.Query().Get("rtms_stream_id"))
	if problem != "" {
		writeText(w, http.StatusBadRequest, problem)
		return rtms.Join{}, false
	}
	join, err := rt.Service.Join(r.Context(), id)
	if err != nil {
		writeTextFailure(w, r, err)
		return rtms.Join{}, false
	}
	return join, true
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
		MeetingID: ev.MeetingID, ServerURLs: ev.ServerURLs, AccountID: ev.AccountID}}, true
}

// applyRTMSEvent records an RTMS webhook's stream. One naming another app, or without a stream id
// of Zoom's shape, changes nothing.
func applyRTMSEvent(ctx context.Context, w http.ResponseWriter, rt *RTMS, ev zoom.WebhookEvent, c rtms.Change) (string, error) {
	if rt == nil {
		return "ignored", nil
	}
	if ev.ClientID != "" && ev.ClientID != rt.ClientID {
		requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: an RTMS event of another app (client_id); ignored")
		return "ignored", nil
	}
	if _, problem := parseStreamID(c.Stream.ID); problem != "" || c.Stream.MeetingUUID == "" {
		requestLogger(w).Warn().Str("event", ev.Event).Msg("webhook: an RTMS event without Zoom's stream id or meeting uuid; ignored")
		return "ignored", nil
	}
	stream, changed, err := rt.Service.Record(ctx, c)
	if err != nil {
		return "", err
	}
	requestLogger(w).Info().Str("event", ev.Event).Str("rtms_stream_id", stream.ID).Str("state", string(stream.State)).
		Bool("changed", changed).Msg("RTMS stream")
	return "ok", nil
}

// rtmsControlRequest is the body of POST /admin/rtms/start and /stop.
type rtmsControlRequest struct {
	MeetingID         string `json:"meeting_id"`
	User              string `json:"user"`
	Ref               string `json:"ref"`
	ParticipantUserID string `json:"participant_user_id"`
}

// errNoRTMSSource says nobody's token can start or stop a meeting's stream.
var errNoRTMSSource = errors.New("no connected account hosts this meeting, and no Server-to-Server app is configured")

// handleRTMSControl serves POST /admin/rtms/start and /admin/rtms/stop: the call is made with
// the named connection's token, else the meeting's host connection's (the meeting map), else the
// S2S app's. It answers 202: the stream's change arrives by webhook.
func handleRTMSControl(action zoom.RTMSAction, rt *RTMS, cd *Connected, s2s *zoom.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body rtmsControlRequest
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxAdminBody)); err != nil {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "the body is larger than 16 KiB")
			return
		}
		if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
			writeAdminError(w, http.StatusBadRequest, `the body must be a JSON object such as {"meeting_id": "81112223333"}`)
			return
		}
		meetingID, problem := parseMeetingID(body.MeetingID)
		if problem == "" && body.User != "" && body.Ref != "" {
			problem = "give user or ref, not both"
		}
		if problem != "" {
			writeAdminError(w, http.StatusBadRequest, problem)
			return
		}
		control := zoom.RTMSControl{MeetingID: meetingID, Action: action, ClientID: rt.ClientID, ParticipantUserID: body.ParticipantUserID}
		answer := map[string]any{"meeting_id": strconv.FormatInt(meetingID, 10), "action": action, "via": "s2s", "connection_id": nil}
		ctx := r.Context()
		var conn connections.Connection
		var err error
		switch {
		case body.User != "" || body.Ref != "":
			conn, err = cd.Manager.Lookup(ctx, body.User, body.Ref)
		default:
			conn, err = cd.Manager.Host(ctx, meetingID)
			if errors.Is(err, connections.ErrNotFound) || err == nil && conn.Status != connections.StatusActive {
				conn, err = connections.Connection{}, nil // nobody connected hosts it: the S2S app
			}
		}
		switch {
		case err != nil:
			writeJSONFailure(w, r, err, adminBody)
			return
		case conn.ID != "":
			_, err = cd.asConnection(ctx, conn, func(ctx context.Context, t zoom.UserToken) (string, error) {
				return "", cd.Zoom.ControlRTMS(ctx, t, control)
			})
			answer["via"], answer["connection_id"] = "connection", conn.ID
		case s2s != nil:
			err = s2s.ControlRTMS(ctx, control)
		default:
			err = errNoRTMSSource
		}
		if err != nil {
			writeJSONFailure(w, r, err, adminBody)
			return
		}
		requestLogger(w).Info().Str("action", string(action)).Str("via", answer["via"].(string)).Msg("RTMS control sent to Zoom")
		writeJSON(w, http.StatusAccepted, answer)
	}
}
