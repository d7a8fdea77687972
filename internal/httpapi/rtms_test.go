package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
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
		join["server_urls"] != "wss://rtms.example/signaling" || join["state"] != "started" || resp.Header.Get("Cache-Control") != "no-store" ||
		join["meeting_id"] != "81112223333" || join["account_id"] != "acct-a" ||
		!strings.Contains(body, `"reconnect":{"signaling_seconds":60,"media_seconds":30}`) {
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

	// Zoom moves the stream (failover): the new server, twice (Zoom retries), is one rtms.moved.
	moved := strings.Replace(started, "wss://rtms.example/signaling", "wss://rtms-fra1.zoom.us/signaling", 1)
	for range 2 {
		post(moved, signed(moved, now(), webhookToken))
	}
	if _, body := f.srv.do(t, http.MethodGet, streamURL, nil, ""); !strings.Contains(body, `"server_urls":"wss://rtms-fra1.zoom.us/signaling"`) ||
		!strings.Contains(body, `"region":"fra1"`) || !strings.Contains(body, `"state":"started"`) || !strings.Contains(body, want) {
		t.Errorf("after the move: %s", body)
	}

	stopped := `{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"` + testStream + `","stop_reason":24}}`
	post(stopped, signed(stopped, now(), webhookToken))
	resp, body = f.srv.do(t, http.MethodGet, streamURL, nil, "")
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, "keep-alives (stop_reason 24)") || !strings.Contains(body, "POST /admin/rtms/start") {
		t.Errorf("a stopped stream: %d %s, want 410 with the reason", resp.StatusCode, body)
	}
	var types []string
	var stoppedData map[string]any
	for range 3 {
		list, _ := f.events.ClaimEvents(t.Context(), timeFar(), 0, 100)
		for _, e := range list {
			types = append(types, e.Type)
			if e.Type == "rtms.stopped" {
				var sent struct{ Data map[string]any }
				json.Unmarshal(e.Payload, &sent)
				stoppedData = sent.Data
			}
			f.events.EventDelivered(t.Context(), e.ID)
		}
	}
	if strings.Join(types, ",") != "rtms.interrupted,rtms.moved,rtms.stopped" {
		t.Errorf("events after the first: %v, want interrupted, moved, stopped", types)
	}
	if stoppedData["stop_reason"] != 24.0 || stoppedData["restartable"] != true || stoppedData["meeting_id"] != "81112223333" {
		t.Errorf("rtms.stopped's data: %v", stoppedData)
	}

	// The operator's view: no signature, the reason in words.
	resp, body = f.admin(t, http.MethodGet, "/admin/rtms/streams?meeting_id=81112223333", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"stop_reason":24`) || !strings.Contains(body, `"restartable":true`) ||
		!strings.Contains(body, `"kind":"meeting"`) || strings.Contains(body, want) {
		t.Errorf("the listing: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.admin(t, http.MethodGet, "/admin/rtms/streams?meeting_id=5551112222", ""); resp.StatusCode != http.StatusOK || body != `{"streams":[]}` {
		t.Errorf("another meeting's listing: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.admin(t, http.MethodGet, "/admin/rtms/streams/"+testStream, ""); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `"why":"the worker stopped answering keep-alives (stop_reason 24)"`) || strings.Contains(body, want) {
		t.Errorf("one stream: %d %s", resp.StatusCode, body)
	}
	for path, status := range map[string]int{
		"/admin/rtms/streams/0123456789abcdef0123456789abcdef": http.StatusNotFound,
		"/admin/rtms/streams/nope":                             http.StatusBadRequest,
		"/admin/rtms/streams?meeting_id=x":                     http.StatusBadRequest,
	} {
		if resp, body := f.admin(t, http.MethodGet, path, ""); resp.StatusCode != status {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, status)
		}
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/admin/rtms/streams", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the listing without the admin token: %d", resp.StatusCode)
	}
	if strings.Contains(f.srv.logs.String(), want) {
		t.Errorf("a signature is in the log")
	}
}

// A Video SDK session's stream is signed with the Video SDK app's credentials, never the General
// app's; without a Video SDK app it is acknowledged, logged as unusable and answered 404 naming
// the variables.
func TestRTMSSessionsSignWithTheVideoSDKApp(t *testing.T) {
	session := `{"event":"session.rtms_started","event_ts":1,"payload":{"session_id":"sess-1==","rtms_stream_id":"` + testStream +
		`","server_urls":"wss://rtms-sjc1.zoom.us/signaling","account_id":"acct-a"}}`
	streamURL := "/rtms/stream?secret=" + botSecret + "&rtms_stream_id=" + testStream

	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(session, now(), webhookToken), session)
	if resp.StatusCode != http.StatusOK || !strings.Contains(f.srv.logs.String(), "ZOOM_VIDEO_SDK_KEY") {
		t.Errorf("the session's webhook: %d; logs %s", resp.StatusCode, f.srv.logs.String())
	}
	if resp, body := f.srv.do(t, http.MethodGet, streamURL, nil, ""); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(body, "ZOOM_VIDEO_SDK_KEY and ZOOM_VIDEO_SDK_SECRET") {
		t.Errorf("an unsigned session: %d %s", resp.StatusCode, body)
	}

	db := sqlitetest.Open(t, sqlstore.Options{})
	f = newConnectedFixtureOn(t, db, webhookEmu, "", withWebhooks, func(d *Deps, _ string) {
		d.App.RTMS = rtms.NewService(rtms.Config{Store: db.Streams(),
			Sign:        func(id, stream string) string { return zoom.RTMSSignature("oauth-client", "oauth-secret", id, stream) },
			SignSession: func(id, stream string) string { return zoom.RTMSSignature("vsdk-key", "vsdk-secret", id, stream) }})
	})
	f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(session, now(), webhookToken), session)
	resp, body := f.srv.do(t, http.MethodGet, streamURL, nil, "")
	var join map[string]any
	json.Unmarshal([]byte(body), &join)
	if resp.StatusCode != http.StatusOK || join["session_id"] != "sess-1==" || join["meeting_uuid"] != nil || join["region"] != "sjc1" ||
		join["signature"] != zoom.RTMSSignature("vsdk-key", "vsdk-secret", "sess-1==", testStream) ||
		join["signature"] == zoom.RTMSSignature("oauth-client", "oauth-secret", "sess-1==", testStream) {
		t.Errorf("a signed session: %d %s", resp.StatusCode, body)
	}
}

// A webinar's stream may name only webinar_uuid and webinar_id: they stand for the meeting's.
func TestRTMSWebinarUUID(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	webinar := `{"event":"webinar.rtms_started","event_ts":1,"payload":{"webinar_uuid":"web-1==","webinar_id":91112223333,"rtms_stream_id":"` +
		testStream + `","server_urls":"wss://rtms.example/signaling"}}`
	f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(webinar, now(), webhookToken), webinar)
	resp, body := f.srv.do(t, http.MethodGet, "/rtms/stream?secret="+botSecret+"&rtms_stream_id="+testStream, nil, "")
	var join map[string]any
	json.Unmarshal([]byte(body), &join)
	if resp.StatusCode != http.StatusOK || join["meeting_uuid"] != "web-1==" || join["meeting_id"] != "91112223333" ||
		join["signature"] != zoom.RTMSSignature("oauth-client", "oauth-secret", "web-1==", testStream) {
		t.Errorf("a webinar's stream: %d %s", resp.StatusCode, body)
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
		{"a stream that is not running", "/admin/rtms/stop", `{"meeting_id":"5551112222"}`, http.StatusNotFound, "no stream of the RTMS app is running"},
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
	if logs := f.srv.logs.String(); !strings.Contains(logs, `"zoom_code":2310,"message":"zoom call failed"`) ||
		strings.Contains(logs, `"level":"error"`) {
		t.Errorf("the stop of a stream not running is logged otherwise: %s", logs)
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
