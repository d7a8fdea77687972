package zoom

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Zoom's codes for a Realtime Media Streams control call that cannot be made.
const (
	// CodeRTMSNotInvited: the meeting is outside the token's account and its user is not on the
	// invite list.
	CodeRTMSNotInvited = 2308
	// CodeRTMSNotEntitled: the account has no RTMS entitlement.
	CodeRTMSNotEntitled = 2310
)

// opRTMSControl starts or stops a stream.
var opRTMSControl = operation{name: "rtms control", endpoint: EndpointRTMSControl}

// EndpointRTMSControl names the RTMS start/stop call, as Hooks receive it.
const EndpointRTMSControl = "rtms_control"

// RTMSAction is what a control call asks of a meeting's stream.
type RTMSAction string

// The actions zoomtoken asks for.
const (
	RTMSStart RTMSAction = "start"
	RTMSStop  RTMSAction = "stop"
)

// RTMSSignature is what a Realtime Media Streams worker presents in its signaling and media
// handshakes: the lowercase hex HMAC-SHA256, keyed with the RTMS app's client secret, of
// "{client_id},{id},{rtms_stream_id}", id being the meeting uuid (meetings and webinars) or the
// session id (Video SDK sessions). It has no timestamp: it is a bearer credential for that one
// stream.
func RTMSSignature(clientID, clientSecret, id, streamID string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(clientID + "," + id + "," + streamID))
	return hex.EncodeToString(mac.Sum(nil))
}

// RTMSControl asks Zoom to start or stop a meeting's stream for the RTMS app clientID
// (participantUserID, when not empty, names the participant whose app it is).
type RTMSControl struct {
	MeetingID         int64
	Action            RTMSAction
	ClientID          string
	ParticipantUserID string
}

func (rc RTMSControl) request() (string, []byte) {
	settings := map[string]string{"client_id": rc.ClientID}
	if rc.ParticipantUserID != "" {
		settings["participant_user_id"] = rc.ParticipantUserID
	}
	body, _ := json.Marshal(map[string]any{"action": rc.Action, "settings": settings}) // strings only: always encodes
	return "/v2/live_meetings/" + strconv.FormatInt(rc.MeetingID, 10) + "/rtms_app/status", body
}

// controlRTMS sends the control call once: Zoom may have acted on a call whose answer was lost,
// so it is never retried (the rate gate still paces it).
func (tr *transport) controlRTMS(ctx context.Context, at accessToken, rc RTMSControl) error {
	ctx, cancel := context.WithTimeout(ctx, tr.cfg.Budget)
	defer cancel()
	probe, tooLong := at.gate.pass(ctx)
	if tooLong > 0 {
		return &Error{Kind: KindUnavailable, Op: opRTMSControl.name, Status: http.StatusTooManyRequests, RateLimitType: rateLimitQPS,
			RetryAfter: tooLong, Message: "Zoom's per-second rate limit for this account is reached"}
	}
	path, body := rc.request()
	began := time.Now()
	_, zerr := tr.send(ctx, opRTMSControl, at, http.MethodPatch, path, nil, body)
	tr.observe(opRTMSControl, zerr, time.Since(began))
	if zerr != nil && zerr.Status == http.StatusTooManyRequests && zerr.RateLimitType != rateLimitDaily {
		at.gate.limited(zerr.RetryAfter)
	}
	if probe {
		at.gate.report()
	}
	if zerr != nil {
		return zerr
	}
	return nil
}

// ControlRTMS starts or stops a meeting's stream with the S2S app's token (meetings inside its
// own account). A refused access token is replaced and the call made once more: Zoom did not act
// on it.
func (c *Client) ControlRTMS(ctx context.Context, rc RTMSControl) error {
	for refreshed := false; ; refreshed = true {
		at, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		err = c.tr.controlRTMS(ctx, at, rc)
		if IsInvalidAccessToken(err) && !refreshed {
			c.tokens.invalidate(at.value)
			continue
		}
		return err
	}
}

// ControlRTMS starts or stops a meeting's stream with a user's token: the host's (also before
// they join), or an invited participant's once they joined.
func (u *UserClient) ControlRTMS(ctx context.Context, t UserToken, rc RTMSControl) error {
	return u.tr.controlRTMS(ctx, u.at(t), rc)
}

// NotRunning reports whether a refused stop says there is no stream to stop: Zoom's 2310
// ("failed to perform RTMS app operation"), 3001 (no such live meeting) or a 404. Zoom's docs name
// no code of their own for it. (For a start, 2310 means the account has no RTMS entitlement.)
func NotRunning(err error) bool {
	var zerr *Error
	return errors.As(err, &zerr) &&
		(zerr.Code == CodeRTMSNotEntitled || zerr.Code == CodeMeetingNotFound || zerr.Status == http.StatusNotFound)
}
