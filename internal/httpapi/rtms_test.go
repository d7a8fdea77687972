package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const testStream = "609340fc9d894ba5a6fbb06b8aef22ec"

// rtmsWebhook is an RTMS event's body, as Zoom sends it: the fields flat in payload.
func rtmsWebhook(event, stream string, extra string) string {
	return `{"event":"` + event + `","event_ts":1,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"` + stream +
		`","server_urls":"wss://rtms.example/signaling","account_id":"acct-a","meeting_id":81112223333` + extra + `}}`
}

func TestRTMSStreamFromWebhooks(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	streamURL := "/rtms/stream?secret=" + botSecret + "&rtms_stream_id=" + testStream
	post := func(body string, h http.Header) int {
		resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", h, body)
		return resp.StatusCode
	}
	if resp, body := f.srv.do(t, http.MethodGet, streamURL, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("before any webhook: %d %s", resp.StatusCode, body)
	}
	started := rtmsWebhook("meeting.rtms_started", testStream, "")
	// Unsigned, stale or of another app: nothing changes.
	if got := post(started, header("Content-Type", "application/json")); got != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", got)
	}
	if got := post(started, signed(started, "1700000000", webhookToken)); got != http.StatusUnauthorized {
		t.Errorf("stale: %d", got)
	}
	other := rtmsWebhook("meeting.rtms_started", testStream, `,"client_id":"another-app"`)
	if got := post(other, signed(other, now(), webhookToken)); got != http.StatusOK {
		t.Errorf("another app's: %d", got)
	}
	if resp, _ := f.srv.do(t, http.MethodGet, streamURL, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after unsigned, stale and foreign webhooks: %d, want 404", resp.StatusCode)
	}

	for range 2 { // a repeat is idempotent
		if got := post(started, signed(started, now(), otherWebhookToken)); got != http.StatusOK {
			t.Fatalf("rtms_started: %d", got)
		}
	}
	resp, body := f.srv.do(t, http.MethodGet, streamURL, nil, "")
	want := zoom.RTMSSignature("oauth-client", "oauth-secret", "4444AAAiAAAAAiAiAiiAii==", testStream)
	var join map[string]any
	json.Unmarshal([]byte(body), &join)
	if resp.StatusCode != http.StatusOK || join["signature"] != want || join["meeting_uuid"] != "4444AAAiAAAAAiAiAiiAii==" ||
		join["server_urls"] != "wss://rtms.example/signaling" || join["state"] != "started" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the stream: %d %s", resp.StatusCode, body)
	}
	if resp, sig := f.srv.do(t, http.MethodGet, "/rtms/signature?secret="+botSecret+"&rtms_stream_id="+testStream, nil, ""); resp.StatusCode != http.StatusOK || sig != want {
		t.Errorf("the signature: %d %q", resp.StatusCode, sig)
	}
	var events int
	for range 3 {
		list, _ := f.events.ClaimEvents(t.Context(), timeFar(), 0, 100)
		for _, e := range list {
			if strings.HasPrefix(string(e.Type), "rtms.") {
				events++
			}
			f.events.EventDelivered(t.Context(), e.ID)
		}
	}
	if events != 1 {
		t.Errorf("%d rtms events for a repeated rtms_started, want 1", events)
	}

	interrupted := rtmsWebhook("meeting.rtms_interrupted", testStream, "")
	post(interrupted, signed(interrupted, now(), webhookToken))
	if _, body := f.srv.do(t, http.MethodGet, streamURL, nil, ""); !strings.Contains(body, `"state":"interrupted"`) {
		t.Errorf("after rtms_interrupted: %s", body)
	}
	stopped := `{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"` + testStream + `"}}`
	post(stopped, signed(stopped, now(), webhookToken))
	if resp, _ := f.srv.do(t, http.MethodGet, streamURL, nil, ""); resp.StatusCode != http.StatusGone {
		t.Errorf("a stopped stream: %d, want 410", resp.StatusCode)
	}
	if strings.Contains(f.srv.logs.String(), want) {
		t.Errorf("a signature is in the log")
	}
}

func TestRTMSRouteGuardsAndInput(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/rtms/stream?rtms_stream_id=" + testStream, http.StatusUnauthorized},
		{"/rtms/stream?secret=wrong-secret-0123456789&rtms_stream_id=" + testStream, http.StatusUnauthorized},
		{"/rtms/stream?secret=" + botSecret, http.StatusBadRequest},
		{"/rtms/stream?secret=" + botSecret + "&rtms_stream_id=../../users/me", http.StatusBadRequest},
		{"/rtms/stream?secret=" + botSecret + "&rtms_stream_id=" + testStream + "0", http.StatusBadRequest},
		{"/rtms/stream?secret=" + botSecret + "&rtms_stream_id=" + testStream + "&rtms_stream_id=" + testStream, http.StatusBadRequest},
		{"/rtms/signature?secret=" + botSecret + "&rtms_stream_id=zz9340fc9d894ba5a6fbb06b8aef22ec", http.StatusBadRequest},
		{"/rtms/signature?secret=" + botSecret + "&rtms_stream_id=" + testStream, http.StatusNotFound},
	} {
		if resp, body := f.srv.do(t, http.MethodGet, tc.path, nil, ""); resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
		}
	}
	off := newTestServer(t, Deps{CallbackSecrets: []string{botSecret}})
	if resp, body := off.do(t, http.MethodGet, "/rtms/stream?secret="+botSecret+"&rtms_stream_id="+testStream, nil, ""); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(body, "ZOOM_WEBHOOK_SECRET_TOKENS") {
		t.Errorf("RTMS off: %d %s", resp.StatusCode, body)
	}
}

func TestRTMSControl(t *testing.T) {
	f := newConnectedFixture(t, func(c *zoomemu.Config) {
		webhookEmu(c)
		c.RTMS = &zoomemu.RTMS{ClientID: "oauth-client", ClientSecret: "oauth-secret"}
	}, "", withWebhooks)
	if resp, _ := f.connect(t, "alice-id", "alice-ref"); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	admin := header("Authorization", "Bearer "+adminToken, "Content-Type", "application/json")
	for _, tc := range []struct {
		name, path, body string
		status           int
		answer           string
	}{
		{"the host, from the meeting map", "/admin/rtms/start", `{"meeting_id":"5551112222"}`, http.StatusAccepted, `"via":"connection"`},
		{"the named connection", "/admin/rtms/stop", `{"meeting_id":"5551112222","ref":"alice-ref"}`, http.StatusAccepted, `"action":"stop"`},
		{"an external meeting", "/admin/rtms/start", `{"meeting_id":"70000000001","user":"alice@example.com"}`, http.StatusNotFound, "invite list"},
		{"nobody can reach it", "/admin/rtms/start", `{"meeting_id":"99999999999"}`, http.StatusNotFound, "no connected account hosts this meeting"},
		{"no such connection", "/admin/rtms/start", `{"meeting_id":"5551112222","user":"nobody@example.com"}`, http.StatusNotFound, "no connected Zoom account"},
		{"a bad meeting id", "/admin/rtms/start", `{"meeting_id":"12ab"}`, http.StatusBadRequest, "meeting_id"},
		{"a number for the meeting id", "/admin/rtms/start", `{"meeting_id":5551112222}`, http.StatusBadRequest, "meeting_id must be a string"},
		{"an unknown field", "/admin/rtms/start", `{"meeting_id":"5551112222","meeting":"x"}`, http.StatusBadRequest, "does not take"},
		{"not JSON", "/admin/rtms/start", `meeting`, http.StatusBadRequest, "JSON"},
	} {
		resp, body := f.srv.do(t, http.MethodPost, tc.path, admin, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.answer) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, resp.StatusCode, body, tc.status, tc.answer)
		}
	}
	if resp, _ := f.srv.do(t, http.MethodPost, "/admin/rtms/start", header("Content-Type", "application/json"), `{"meeting_id":"5551112222"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the admin token: %d", resp.StatusCode)
	}
	// A Zoom that is down is a 503 and the call is made once.
	before := f.emu.Calls(zoomemu.EndpointRTMSControl)
	f.emu.Script(zoomemu.EndpointRTMSControl, zoomemu.ServerError())
	if resp, body := f.srv.do(t, http.MethodPost, "/admin/rtms/start", admin, `{"meeting_id":"5551112222"}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Zoom failing: %d %s", resp.StatusCode, body)
	}
	if calls := f.emu.Calls(zoomemu.EndpointRTMSControl) - before; calls != 1 {
		t.Errorf("%d control calls to a failing Zoom, want 1: it may have acted", calls)
	}
}

func TestRTMSWithoutEntitlement(t *testing.T) {
	f := newConnectedFixture(t, func(c *zoomemu.Config) {
		webhookEmu(c)
		c.RTMS = &zoomemu.RTMS{ClientID: "oauth-client", ClientSecret: "oauth-secret", NotEntitled: true}
	}, "", withWebhooks)
	f.connect(t, "alice-id", "")
	resp, body := f.srv.do(t, http.MethodPost, "/admin/rtms/start", header("Authorization", "Bearer "+adminToken), `{"meeting_id":"5551112222"}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "entitlement") {
		t.Errorf("no RTMS entitlement: %d %s", resp.StatusCode, body)
	}
}

// timeFar is a claim time every event is due by.
func timeFar() time.Time { return time.Now().Add(1000 * time.Hour) }
