package zoom

import (
	"testing"
	"time"
)

func TestDeauthorizationTime(t *testing.T) {
	for raw, want := range map[string]time.Time{
		`"2019-06-17T13:52:28.632Z"`: time.Date(2019, 6, 17, 13, 52, 28, 632e6, time.UTC),
		`"2019-06-17T13:52:28Z"`:     time.Date(2019, 6, 17, 13, 52, 28, 0, time.UTC),
		`1560779548632`:              time.UnixMilli(1560779548632),
		`"yesterday"`:                {},
		`null`:                       {},
	} {
		ev, err := ParseWebhook([]byte(`{"event":"app_deauthorized","payload":{"user_id":"u","client_id":"c","deauthorization_time":` + raw + `}}`))
		if err != nil || !ev.DeauthorizedAt.Equal(want) || ev.ClientID != "c" {
			t.Errorf("%s: %v %v %q, want %v", raw, ev.DeauthorizedAt, err, ev.ClientID, want)
		}
	}
}

// RTMS events as Zoom sends them for meetings, webinars (which may carry only webinar_uuid and
// webinar_id) and sessions, stop_reason included.
func TestParseRTMSWebhooks(t *testing.T) {
	for body, want := range map[string]WebhookEvent{
		`{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"m==","rtms_stream_id":"s","meeting_id":81112223333,"stop_reason":6}}`: {
			MeetingUUID: "m==", MeetingID: 81112223333, StopReason: 6},
		`{"event":"webinar.rtms_started","payload":{"webinar_uuid":"w==","webinar_id":91112223333,"rtms_stream_id":"s","server_urls":"wss://rtms-sjc1.zoom.us"}}`: {
			MeetingUUID: "w==", MeetingID: 91112223333, ServerURLs: "wss://rtms-sjc1.zoom.us"},
		`{"event":"session.rtms_stopped","payload":{"session_id":"sess","rtms_stream_id":"s","stop_reason":"24"}}`: {
			SessionID: "sess", StopReason: 24},
		`{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"m==","rtms_stream_id":"s","stop_reason":-3}}`: {MeetingUUID: "m=="},
	} {
		ev, err := ParseWebhook([]byte(body))
		if err != nil || ev.MeetingUUID != want.MeetingUUID || ev.SessionID != want.SessionID || ev.MeetingID != want.MeetingID ||
			ev.StopReason != want.StopReason || ev.ServerURLs != want.ServerURLs || ev.RTMSStreamID != "s" {
			t.Errorf("%s: %+v %v", body, ev, err)
		}
	}
}
