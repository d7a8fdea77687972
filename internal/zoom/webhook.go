package zoom

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// WebhookWindow is how far a webhook's timestamp may be from now. Zoom documents none; five
// minutes is the usual choice (and Standard Webhooks').
const WebhookWindow = 5 * time.Minute

// WebhookSignature returns the x-zm-signature Zoom sends for a body: v0= and the hex
// HMAC-SHA256, keyed with the subscription's secret token, of "v0:{timestamp}:{body}".
func WebhookSignature(secretToken, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretToken))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Why a webhook was refused; the reasons name what was wrong, never the signature.
var (
	ErrWebhookNoSignature  = errors.New("no x-zm-signature header")
	ErrWebhookMalformed    = errors.New("x-zm-signature is not v0= and 64 hex digits")
	ErrWebhookStale        = errors.New("x-zm-request-timestamp is missing, not a number, or outside the 5-minute window")
	ErrWebhookUnknownToken = errors.New("the signature matches none of ZOOM_WEBHOOK_SECRET_TOKENS")
)

// VerifyWebhook checks that a webhook's raw body and headers were signed with one of the secret
// tokens (each compared in constant time, every one tried) at a time within WebhookWindow of
// now, and says why not.
func VerifyWebhook(secretTokens []string, timestamp, signature string, body []byte, now time.Time) error {
	if signature == "" {
		return ErrWebhookNoSignature
	}
	if hexPart, ok := strings.CutPrefix(signature, "v0="); !ok || len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdefABCDEF") != "" {
		return ErrWebhookMalformed
	}
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrWebhookStale
	}
	if d := now.Sub(time.Unix(seconds, 0)); d > WebhookWindow || d < -WebhookWindow {
		return ErrWebhookStale
	}
	valid := false
	for _, token := range secretTokens {
		if hmac.Equal([]byte(signature), []byte(WebhookSignature(token, timestamp, body))) {
			valid = true
		}
	}
	if !valid {
		return ErrWebhookUnknownToken
	}
	return nil
}

// URLValidation answers Zoom's endpoint.url_validation challenge: the hex HMAC-SHA256 of the
// plain token, keyed with the secret token.
func URLValidation(secretToken, plainToken string) string {
	mac := hmac.New(sha256.New, []byte(secretToken))
	mac.Write([]byte(plainToken))
	return hex.EncodeToString(mac.Sum(nil))
}

// WebhookEvent is a Zoom event notification, as far as zoomtoken reads it. Fields an event
// does not carry are zero; ids are zero unless they were whole positive numbers.
type WebhookEvent struct {
	// Event is the event's name, such as meeting.created.
	Event string
	// PlainToken is endpoint.url_validation's challenge.
	PlainToken string
	// UserID is app_deauthorized's payload.user_id: who removed the app, and
	// DeauthorizedAt its payload.deauthorization_time (zero when absent or unreadable).
	UserID         string
	DeauthorizedAt time.Time
	// MeetingID and HostID are a meeting event's payload.object.id and host_id.
	MeetingID int64
	HostID    string
	// ObjectUserID, PMI and PreviousPMI are user.updated's payload.object.id, its new pmi,
	// and the pmi before the change (payload.old_object.pmi).
	ObjectUserID     string
	PMI, PreviousPMI int64
	// The fields of the RTMS events ({meeting,webinar,session}.rtms_{started,interrupted,
	// stopped}), flat in payload: the stream, its meeting's uuid (or the session's id), the
	// signaling URL (absent from stop events), and the account. MeetingID holds payload.meeting_id
	// (a webinar's: webinar_id) there. ClientID is the app's, when the payload names it. A
	// webinar's event may carry only webinar_uuid: MeetingUUID holds it then.
	RTMSStreamID, MeetingUUID, SessionID, ServerURLs, AccountID, ClientID string
	// StopReason is an rtms_stopped's stop_reason, Zoom's STOP_REASON number (0 when absent or
	// unreadable).
	StopReason int
}

// webhookEnvelope is the JSON of an event, leniently typed: Zoom sends ids as numbers in some
// events and strings in others.
type webhookEnvelope struct {
	Event   string `json:"event"`
	Payload struct {
		PlainToken          string          `json:"plainToken"`
		UserID              string          `json:"user_id"`
		DeauthorizationTime json.RawMessage `json:"deauthorization_time"`
		Object              struct {
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
		// The RTMS events' flat fields.
		RTMSStreamID string          `json:"rtms_stream_id"`
		MeetingUUID  string          `json:"meeting_uuid"`
		WebinarUUID  string          `json:"webinar_uuid"`
		SessionID    string          `json:"session_id"`
		ServerURLs   json.RawMessage `json:"server_urls"`
		AccountID    string          `json:"account_id"`
		MeetingID    json.RawMessage `json:"meeting_id"`
		WebinarID    json.RawMessage `json:"webinar_id"`
		ClientID     string          `json:"client_id"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"payload"`
}

// ParseWebhook reads a verified webhook's body. Only a body that is not a JSON object is an
// error; unknown events and fields are left for the caller to ignore.
func ParseWebhook(body []byte) (WebhookEvent, error) {
	var env webhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return WebhookEvent{}, err
	}
	p := env.Payload
	ev := WebhookEvent{Event: env.Event, PlainToken: p.PlainToken, UserID: p.UserID, HostID: p.Object.HostID}
	ev.PMI = positiveID(p.Object.PMI)
	ev.PreviousPMI = positiveID(p.OldObject.PMI)
	if json.Unmarshal(p.Object.ID, &ev.ObjectUserID) != nil {
		ev.ObjectUserID = ""
	}
	ev.MeetingID = positiveID(p.Object.ID)
	if ev.MeetingID == 0 {
		ev.MeetingID = cmp.Or(positiveID(p.MeetingID), positiveID(p.WebinarID))
	}
	ev.RTMSStreamID, ev.MeetingUUID, ev.SessionID = p.RTMSStreamID, cmp.Or(p.MeetingUUID, p.WebinarUUID), p.SessionID
	if reason := positiveID(p.StopReason); reason <= 1000 {
		ev.StopReason = int(reason)
	}
	ev.AccountID, ev.ClientID, ev.ServerURLs = p.AccountID, p.ClientID, firstString(p.ServerURLs)
	ev.DeauthorizedAt = eventTime(p.DeauthorizationTime)
	return ev, nil
}

// eventTime reads a time Zoom writes as RFC 3339 ("2019-06-17T13:52:28.632Z"), or, leniently, as
// Unix milliseconds; zero otherwise.
func eventTime(raw json.RawMessage) time.Time {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
			return t
		}
		return time.Time{}
	}
	var ms int64
	if json.Unmarshal(raw, &ms) == nil && ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// firstString reads a JSON string, or the first string of an array of them (server_urls is a
// string today; be lenient); empty otherwise.
func firstString(raw json.RawMessage) string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many[0]
	}
	return ""
}

// positiveID reads a meeting id or PMI: a JSON integer, or a string of digits; zero otherwise.
func positiveID(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(string(bytes.Trim(raw, `"`)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
