package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// The bot routes that answer a token: each parses its parameters, asks the vendor, and answers
// the token or the reason there is none.

// tokenRoute is a bot route: parse reads the query (a 400 when it cannot), and ask has the
// vendor make the token for the caller's reach.
func tokenRoute[T any](parse func(url.Values) (T, error), ask func(context.Context, vend.Reach, T) (vend.Token, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parse(r.URL.Query())
		if err != nil {
			writeTextFailure(w, r, err)
			return
		}
		token, err := ask(r.Context(), reachOf(w), req)
		answerToken(w, r, token, err)
	}
}

// handleZAK serves GET /zak?secret=S[&(user=U|ref=R)]: the ZAK of that connected user, or,
// without a name, that of ZOOM_ZAK_USER from the S2S app.
func handleZAK(v *vend.Vendor) http.HandlerFunc { return tokenRoute(parseName, v.ZAK) }

// handleOBF serves GET /obf-token?secret=S&(user=U|ref=R)[&meeting_id=N]: an on-behalf-of
// token of that connected user, fresh each time (never cached or shared).
func handleOBF(v *vend.Vendor) http.HandlerFunc {
	type request struct {
		name      vend.Name
		meetingID int64
	}
	parse := func(q url.Values) (req request, err error) {
		req.name, err = parseRequiredName(q)
		if raw := q.Get("meeting_id"); err == nil && raw != "" {
			req.meetingID, err = parseMeetingID(raw)
		}
		return req, err
	}
	return tokenRoute(parse, func(ctx context.Context, reach vend.Reach, req request) (vend.Token, error) {
		return v.OBF(ctx, reach, req.name, req.meetingID)
	})
}

// handleAccessToken serves GET /access-token?(ref=R|user=U)[&min_valid=S]&expires=…&sig=…: the
// connection's access token itself, with at least min_valid seconds left (Recall.ai's
// customer-managed OAuth). Only a bot link reaches it (or CALLBACK_SECRETS_REACH=connected).
func handleAccessToken(v *vend.Vendor) http.HandlerFunc {
	type request struct {
		name     vend.Name
		minValid time.Duration
	}
	parse := func(q url.Values) (req request, err error) {
		req.minValid = defaultMinValid
		req.name, err = parseRequiredName(q)
		if raw := q.Get("min_valid"); err == nil && raw != "" {
			req.minValid, err = parseMinValid(raw)
		}
		return req, err
	}
	return tokenRoute(parse, func(ctx context.Context, reach vend.Reach, req request) (vend.Token, error) {
		return v.AccessToken(ctx, reach, req.name, req.minValid)
	})
}

// The min_valid an access token is asked with, as Recall.ai asks, and its bounds: an access
// token lives an hour, and the refresh margin is a few minutes.
const (
	defaultMinValid = 120 * time.Second
	minMinValid     = 60
	maxMinValid     = 3300
)

// parseMinValid reads min_valid: whole seconds from 60 to 3300.
func parseMinValid(raw string) (time.Duration, error) {
	n, err := strconv.Atoi(raw)
	if err != nil || strings.Trim(raw, "0123456789") != "" || n < minMinValid || n > maxMinValid {
		return 0, badRequest("min_valid must be whole seconds from 60 to 3300")
	}
	return time.Duration(n) * time.Second, nil
}

// handleJoinToken serves GET /join-token?secret=S&meeting_id=N[&type=T][&bypass_waiting_room=B]
// [&user=U|ref=R]: a fresh join token, never cached and never shared, since each is single-use.
func handleJoinToken(v *vend.Vendor) http.HandlerFunc {
	return tokenRoute(parseJoinTokenRequest, v.JoinToken)
}

// answerToken writes a vended token, or why there is none, and logs where it came from.
func answerToken(w http.ResponseWriter, r *http.Request, token vend.Token, err error) {
	log := requestLogger(w)
	switch {
	case token.PassedOver == nil:
	case errors.Is(token.PassedOver, connections.ErrUnavailable):
		log.Warn().Err(token.PassedOver).Msg("join token: the meeting map is unavailable; falling back to the S2S app")
	default:
		log.Info().Err(token.PassedOver).Msg("join token: the mapped host cannot make it; falling back")
	}
	if err != nil {
		writeTextFailure(w, r, err)
		return
	}
	x := exchangeOf(w)
	x.via, x.connectionID = token.Via, token.ConnectionID
	writeToken(w, r, token.Value)
}

// parseName reads user= or ref=, which name a connected account; giving both is a 400.
func parseName(q url.Values) (vend.Name, error) {
	name := vend.Name{User: q.Get("user"), Ref: q.Get("ref")}
	switch {
	case name.User != "" && name.Ref != "":
		return vend.Name{}, badRequest("give user or ref, not both")
	case !plainText(name.User):
		return vend.Name{}, badRequest("user " + notPlainText)
	case !plainText(name.Ref):
		return vend.Name{}, badRequest("ref " + notPlainText)
	}
	return name, nil
}

// notPlainText is the 400's reason for a name that is not plainText.
const notPlainText = "must be UTF-8 text without control characters (such as NUL)"

// plainText reports whether a name from outside (a ref, a user, an id) is text a database takes
// as it is: valid UTF-8 with no control character. Anything else is the caller's mistake, a 400,
// never a database error that would read as an outage.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// parseRequiredName is parseName for the routes that always name a connection.
func parseRequiredName(q url.Values) (vend.Name, error) {
	name, err := parseName(q)
	if err == nil && !name.Given() {
		err = badRequest("name the connected user: user=<Zoom user id or email> or ref=<your id for them>")
	}
	return name, err
}

// parseMeetingID reads a numeric meeting id, dropping the spaces and dashes people copy along
// with it ("123 456 789", "123-456-789"). Anything else that is not a digit is refused, so
// nothing but digits can reach Zoom's URL.
func parseMeetingID(raw string) (int64, error) {
	if raw == "" {
		return 0, badRequest("meeting_id is required")
	}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, raw)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		if id, err := zoom.MeetingIDFromURL(raw); err == nil {
			return 0, badRequest("meeting_id is a Zoom link: give the meeting id alone, " + strconv.FormatInt(id, 10))
		}
		return 0, badRequest("meeting_id must be the numeric meeting id, such as 85012345678 (spaces and dashes are fine)")
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case err != nil:
		return 0, badRequest(fmt.Sprintf("meeting_id has %d digits: Zoom's meeting ids have 9 to 11", len(digits)))
	case id <= 0:
		return 0, badRequest("meeting_id must be the numeric meeting id, such as 85012345678 (spaces and dashes are fine)")
	}
	return id, nil
}

// parseJoinTokenRequest reads meeting_id, type, bypass_waiting_room and the connection's name.
func parseJoinTokenRequest(q url.Values) (vend.JoinTokenRequest, error) {
	meetingID, err := parseMeetingID(q.Get("meeting_id"))
	if err != nil {
		return vend.JoinTokenRequest{}, err
	}
	req := vend.JoinTokenRequest{MeetingID: meetingID, Kind: zoom.LocalRecording}
	if t := q.Get("type"); t != "" {
		var ok bool
		if req.Kind, ok = zoom.ParseJoinTokenKind(t); !ok {
			return vend.JoinTokenRequest{}, badRequest("type must be local_recording, live_streaming or local_archiving")
		}
	}
	switch q.Get("bypass_waiting_room") {
	case "", "false":
	case "true":
		req.Bypass = true
	default:
		return vend.JoinTokenRequest{}, badRequest("bypass_waiting_room must be true or false")
	}
	req.Name, err = parseName(q)
	return req, err
}
