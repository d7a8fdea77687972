package zoom

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// retryAfter decodes Zoom's Retry-After header.
func FuzzRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "1", "-1", "99999999999999999999", "Mon, 23 Nov 2026 12:00:10 GMT",
		"2026-11-23T13:00:00Z", "2026-11-23T13:00:00", "2026-13-45T99:00:00Z", "1e3"} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		if d := retryAfter(value, now); d < 0 {
			t.Fatalf("retryAfter(%q) = %v", value, d)
		}
	})
}

// restError decodes Zoom's error answers: any status and body gives a classified error whose
// text is bounded and never the raw body.
func FuzzRestError(f *testing.F) {
	f.Add(404, `{"code":3001,"message":"Meeting does not exist: 1."}`, "", "")
	f.Add(429, `{"code":429,"message":"daily"}`, "", "2026-11-24T00:00:00Z")
	f.Add(400, `{"code":4711,"message":"Invalid access token, does not contain scopes:[x]."}`, "", "")
	f.Add(503, `<html>`, "QPS", "5")
	f.Add(401, `{"code":"124"}`, "", "")
	tr := newTransport(Config{Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, status int, body, limitType, retry string) {
		if status < 100 || status > 999 || status == 200 {
			return
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		resp.Header.Set("X-RateLimit-Type", limitType)
		resp.Header.Set("Retry-After", retry)
		e := tr.restError(opZAK, resp, []byte(body))
		if e.Kind < KindUnavailable || e.Kind > KindRefused {
			t.Fatalf("unclassified: %+v", e)
		}
		if len(e.Message) > maxMessage+len("…") || e.RetryAfter < 0 {
			t.Fatalf("message of %d bytes, retry after %v", len(e.Message), e.RetryAfter)
		}
		if (status == 429 || status >= 500) != (e.Kind == KindUnavailable) {
			t.Fatalf("status %d classified %v", status, e.Kind)
		}
	})
}

// ParseWebhook decodes a webhook's body once its signature passes: whatever it holds, nothing
// panics, and only whole positive ids that stand in the body come out.
func FuzzParseWebhook(f *testing.F) {
	for _, seed := range []string{
		`{"event":"meeting.created","payload":{"object":{"id":85746065432,"host_id":"h"}}}`,
		`{"event":"meeting.deleted","payload":{"object":{"id":"85746065432"}}}`,
		`{"event":"user.updated","payload":{"object":{"id":"u1","pmi":5551112222}}}`,
		`{"event":"app_deauthorized","payload":{"user_id":"u1"}}`,
		`{"event":"meeting.created","payload":{"object":{"id":1.5e3,"host_id":"h"}}}`,
		`{"event":"user.updated","payload":{"object":{"id":7,"pmi":"-1"}}}`, `[]`, `{"payload":null}`,
		`{"event":"user.updated","payload":{"object":{"id":"u1","pmi":5551112223},"old_object":{"id":"u1","pmi":"5551112222"}}}`,
		`{"event":"meeting.rtms_started","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"609340fc9d894ba5a6fbb06b8aef22ec","server_urls":"wss://rtms.zoom.us","meeting_id":81112223333}}`,
		`{"event":"session.rtms_stopped","payload":{"session_id":"s1","rtms_stream_id":"x","server_urls":["wss://a","wss://b"]}}`,
		`{"event":"webinar.rtms_stopped","payload":{"webinar_uuid":"w==","webinar_id":"91112223333","rtms_stream_id":"x","stop_reason":24}}`,
		`{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"u","rtms_stream_id":"x","stop_reason":"6"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseWebhook(body)
		if err != nil {
			return
		}
		if ev.StopReason < 0 || ev.StopReason > 1000 {
			t.Fatalf("stop_reason %d read from %s", ev.StopReason, body)
		}
		for _, id := range []int64{ev.MeetingID, ev.PMI, ev.PreviousPMI} {
			if id < 0 || id > 0 && !strings.Contains(string(body), strconv.FormatInt(id, 10)) {
				t.Fatalf("id %d read from %s", id, body)
			}
		}
	})
}
