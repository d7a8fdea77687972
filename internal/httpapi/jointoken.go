package httpapi

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// parseMeetingID reads a numeric meeting id, dropping the spaces and dashes people copy along
// with it ("123 456 789", "123-456-789"). Anything else that is not a digit is refused, so
// nothing but digits can reach Zoom's URL.
func parseMeetingID(raw string) (int64, string) {
	if raw == "" {
		return 0, "meeting_id is required"
	}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, raw)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, "meeting_id must be the numeric meeting id"
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, "meeting_id must be the numeric meeting id"
	}
	return id, ""
}

// joinTokenRequest is what GET /join-token asks for, once read.
type joinTokenRequest struct {
	meetingID int64
	kind      zoom.JoinTokenKind
	bypass    bool
}

// parseJoinTokenRequest reads meeting_id, type and bypass_waiting_room; the string is the 400's
// reason when they are wrong.
func parseJoinTokenRequest(q url.Values) (joinTokenRequest, string) {
	meetingID, problem := parseMeetingID(q.Get("meeting_id"))
	if problem != "" {
		return joinTokenRequest{}, problem
	}
	req := joinTokenRequest{meetingID: meetingID, kind: zoom.LocalRecording}
	if t := q.Get("type"); t != "" {
		var ok bool
		if req.kind, ok = zoom.ParseJoinTokenKind(t); !ok {
			return joinTokenRequest{}, "type must be local_recording, live_streaming or local_archiving"
		}
	}
	switch q.Get("bypass_waiting_room") {
	case "", "false":
	case "true":
		req.bypass = true
	default:
		return joinTokenRequest{}, "bypass_waiting_room must be true or false"
	}
	return req, ""
}

// tokenSource makes one token. passOn, when set, says which of its failures let the next source
// try instead.
type tokenSource struct {
	get    func(ctx context.Context) (string, error)
	passOn func(error) bool
}

// handleJoinToken serves GET /join-token?secret=S&meeting_id=N[&type=T][&bypass_waiting_room=B]
// [&user=U|ref=R]: a fresh join token, never cached and never shared, since each is single-use.
// It chooses where the token comes from (the named connection; else the meeting's connected
// host, then the S2S app), then asks them in turn.
func handleJoinToken(s2s *zoom.Client, cd *Connected) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, problem := parseJoinTokenRequest(r.URL.Query())
		user, ref, nameProblem := connectionName(r)
		if problem == "" {
			problem = nameProblem
		}
		if problem != "" {
			writeText(w, http.StatusBadRequest, problem)
			return
		}
		fromUser := func(ctx context.Context, t zoom.UserToken) (string, error) {
			return cd.Zoom.JoinToken(ctx, t, req.meetingID, req.kind, req.bypass)
		}
		if user != "" || ref != "" {
			if cd == nil {
				connectedOff(w, r)
				return
			}
			connectedToken(w, r, cd, user, ref, fromUser)
			return
		}
		for _, source := range joinTokenSources(w, r, s2s, cd, req, fromUser) {
			token, err := source.get(r.Context())
			if err != nil && source.passOn != nil && source.passOn(err) {
				requestLogger(w).Info().Err(err).Msg("join token: the mapped host cannot make it; falling back")
				continue
			}
			if err != nil {
				writeTextFailure(w, r, err)
				return
			}
			writeToken(w, token)
			return
		}
	}
}

// joinTokenSources lists where a meeting's join token may come from, in order: the meeting's
// connected host when the meeting map names an active one (passing on to the next when that
// connection has ended or Zoom says the user does not host it), then the S2S app, or, without
// one, an answer of why there is no token (404, or 503 while the meeting map is unreadable).
func joinTokenSources(w http.ResponseWriter, r *http.Request, s2s *zoom.Client, cd *Connected, req joinTokenRequest,
	fromUser func(context.Context, zoom.UserToken) (string, error)) []tokenSource {
	var sources []tokenSource
	var mapErr error
	if cd != nil {
		host, err := cd.Manager.Host(r.Context(), req.meetingID)
		switch {
		case errors.Is(err, connections.ErrUnavailable):
			requestLogger(w).Warn().Err(err).Msg("join token: the meeting map is unavailable; falling back to the S2S app")
			mapErr = err
		case err == nil && host.Status == connections.StatusActive:
			sources = append(sources, tokenSource{
				get: func(ctx context.Context) (string, error) {
					token, err := cd.asConnection(ctx, host, fromUser)
					if err == nil {
						requestLogger(w).Debug().Str("connection", host.ID).Msg("join token from the meeting's connected host")
					}
					return token, err
				},
				passOn: hostCannotMake,
			})
		}
	}
	last := tokenSource{get: func(context.Context) (string, error) { return "", cmp.Or(mapErr, errNoJoinTokenSource) }}
	if s2s != nil {
		last.get = func(ctx context.Context) (string, error) {
			return s2s.JoinToken(ctx, req.meetingID, req.kind, req.bypass)
		}
	}
	return append(sources, last)
}
