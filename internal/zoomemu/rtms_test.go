package zoomemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

const rtmsMeeting = 81112223333

// rtmsFixture is the emulator with an RTMS app, whose webhooks land on a channel.
type rtmsFixture struct {
	emu      *Emulator
	srv      *httptest.Server
	webhooks chan map[string]any
}

func newRTMSFixture(tb testing.TB, app RTMS, changes ...func(*Config)) *rtmsFixture {
	tb.Helper()
	f := &rtmsFixture{webhooks: make(chan map[string]any, 8)}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		json.Unmarshal(body, &ev)
		f.webhooks <- ev
	}))
	tb.Cleanup(receiver.Close)
	app.ClientID, app.ClientSecret, app.WebhookURL = "rtms-client", "rtms-secret", receiver.URL
	if app.KeepAlive == 0 {
		app.KeepAlive = 5 * time.Millisecond
	}
	cfg := Config{
		OAuthApp: &OAuthApp{ClientID: "rtms-client", ClientSecret: "rtms-secret"},
		Users: []User{{ID: "alice-id", Email: "alice@example.com", Meetings: []int64{rtmsMeeting}},
			{ID: "bob-id", Email: "bob@example.com"}},
		WebhookSecretToken: "webhook-secret-token",
		RTMS:               &app,
	}
	for _, change := range changes {
		change(&cfg)
	}
	f.emu = New(cfg)
	f.srv = httptest.NewServer(f.emu)
	tb.Cleanup(func() { f.emu.Close(); f.srv.Close(); f.emu.WaitWebhooks() })
	return f
}

// control sends the start/stop PATCH with user's token and returns the status and Zoom's code.
func (f *rtmsFixture) control(tb testing.TB, user, action, clientID string, meetingID string) (int, int) {
	tb.Helper()
	access, _, _, err := f.emu.IssueTokens(user)
	if err != nil {
		tb.Fatal(err)
	}
	body := `{"action":"` + action + `","settings":{"client_id":"` + clientID + `"}}`
	req, _ := http.NewRequest(http.MethodPatch, f.srv.URL+"/v2/live_meetings/"+meetingID+"/rtms_app/status", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Code int `json:"code"`
	}
	json.NewDecoder(resp.Body).Decode(&answer)
	return resp.StatusCode, answer.Code
}

func (f *rtmsFixture) webhook(tb testing.TB, event string) map[string]any {
	tb.Helper()
	select {
	case ev := <-f.webhooks:
		if ev["event"] != event {
			tb.Fatalf("webhook %v, want %s", ev["event"], event)
		}
		return ev["payload"].(map[string]any)
	case <-time.After(5 * time.Second):
		tb.Fatalf("no %s webhook", event)
	}
	return nil
}

// handshake dials a socket and sends the handshake of msgType with signature; it returns the
// connection and the answer.
func handshake(tb testing.TB, ctx context.Context, url string, msgType int, uuid, stream, signature string) (*websocket.Conn, map[string]any) {
	tb.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	if err := wsjson.Write(ctx, c, map[string]any{"msg_type": msgType, "protocol_version": 1, "meeting_uuid": uuid,
		"rtms_stream_id": stream, "sequence": 1, "signature": signature}); err != nil {
		tb.Fatal(err)
	}
	var answer map[string]any
	if err := wsjson.Read(ctx, c, &answer); err != nil {
		tb.Fatal(err)
	}
	return c, answer
}

func TestRTMSStartJoinTranscriptsAndStop(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	if status, code := f.control(t, "alice-id", "start", "rtms-client", "81112223333"); status != http.StatusNoContent {
		t.Fatalf("start: %d (code %d)", status, code)
	}
	started := f.webhook(t, "meeting.rtms_started")
	uuid, stream, signaling := started["meeting_uuid"].(string), started["rtms_stream_id"].(string), started["server_urls"].(string)
	if len(stream) != 32 || uuid == "" || !strings.HasPrefix(signaling, "ws://") || started["meeting_id"] != float64(rtmsMeeting) {
		t.Fatalf("rtms_started payload: %v", started)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	signature := f.emu.RTMSSignature(uuid, stream)

	sig, answer := handshake(t, ctx, signaling, rtmsSignalingHandshake, uuid, stream, signature)
	server := answer["media_server"].(map[string]any)["server_urls"].(map[string]any)["all"].(string)
	if answer["msg_type"] != float64(rtmsSignalingHandshakeResponse) || answer["status_code"] != float64(0) || !strings.HasSuffix(server, "/rtms/media") {
		t.Fatalf("signaling answer: %v", answer)
	}
	media, answer := handshake(t, ctx, server, rtmsMediaHandshake, uuid, stream, signature)
	if answer["msg_type"] != float64(rtmsMediaHandshakeResponse) || answer["status_code"] != float64(0) {
		t.Fatalf("media answer: %v", answer)
	}
	var lines []string
	for len(lines) < 3 {
		var msg struct {
			MsgType   int   `json:"msg_type"`
			Timestamp int64 `json:"timestamp"`
			Content   struct {
				Data string `json:"data"`
			} `json:"content"`
		}
		if err := wsjson.Read(ctx, media, &msg); err != nil {
			t.Fatalf("after %d transcript lines: %v", len(lines), err)
		}
		switch msg.MsgType {
		case rtmsKeepAliveRequest:
			wsjson.Write(ctx, media, map[string]any{"msg_type": rtmsKeepAliveResponse, "timestamp": msg.Timestamp})
		case rtmsTranscript:
			lines = append(lines, msg.Content.Data)
		}
	}
	if accepted, refused, keepAlives := f.emu.RTMSStats(); accepted != 2 || refused != 0 || keepAlives == 0 {
		t.Errorf("handshakes accepted %d, refused %d, keep-alives answered %d", accepted, refused, keepAlives)
	}

	if err := f.emu.StopRTMS(stream); err != nil {
		t.Fatal(err)
	}
	if stopped := f.webhook(t, "meeting.rtms_stopped"); stopped["rtms_stream_id"] != stream {
		t.Errorf("rtms_stopped payload: %v", stopped)
	}
	for _, c := range []*websocket.Conn{sig, media} {
		for {
			var msg map[string]any
			err := wsjson.Read(ctx, c, &msg)
			if err != nil {
				if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					t.Errorf("closed with %v, want a normal closure after the stop", err)
				}
				break
			}
		}
	}
	// A stopped stream takes no handshake, even a signed one.
	if _, answer := handshake(t, ctx, signaling, rtmsSignalingHandshake, uuid, stream, signature); answer["status_code"] == float64(0) {
		t.Errorf("a stopped stream accepted a handshake: %v", answer)
	}
}

// The sockets check the signature as Zoom does: HMAC-SHA256 of "client_id,meeting_uuid,stream"
// with the client secret. Anything else, including the right HMAC over other fields or with
// another key, is refused with a non-zero status_code and a close.
func TestRTMSRefusesAWrongSignature(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	f.control(t, "alice-id", "start", "rtms-client", "81112223333")
	started := f.webhook(t, "meeting.rtms_started")
	uuid, stream, signaling := started["meeting_uuid"].(string), started["rtms_stream_id"].(string), started["server_urls"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	right := f.emu.RTMSSignature(uuid, stream)
	for name, signature := range map[string]string{
		"empty":                 "",
		"another secret":        rtmsSignature("rtms-client", "another-secret", uuid, stream),
		"upper case":            strings.ToUpper(right),
		"fields in other order": f.emu.RTMSSignature(stream, uuid),
		"truncated":             right[:32],
	} {
		t.Run(name, func(t *testing.T) {
			c, answer := handshake(t, ctx, signaling, rtmsSignalingHandshake, uuid, stream, signature)
			if answer["status_code"] == float64(0) {
				t.Fatalf("accepted: %v", answer)
			}
			var msg map[string]any
			if err := wsjson.Read(ctx, c, &msg); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Errorf("after the refusal: %v, want a policy-violation close", err)
			}
		})
	}
	if accepted, refused, _ := f.emu.RTMSStats(); accepted != 0 || refused != 5 {
		t.Errorf("accepted %d, refused %d", accepted, refused)
	}
}

func TestRTMSControlErrors(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	for _, tc := range []struct {
		name, user, clientID, meeting string
		status, code                  int
	}{
		{"another app's client id", "alice-id", "other-client", "81112223333", http.StatusBadRequest, 300},
		{"no such meeting", "alice-id", "rtms-client", "999", http.StatusNotFound, 3001},
		{"not the host of an external meeting", "bob-id", "rtms-client", "81112223333", http.StatusBadRequest, 2308},
	} {
		if status, code := f.control(t, tc.user, "start", tc.clientID, tc.meeting); status != tc.status || code != tc.code {
			t.Errorf("%s: %d code %d, want %d code %d", tc.name, status, code, tc.status, tc.code)
		}
	}
	if status, code := f.control(t, "alice-id", "stop", "rtms-client", "81112223333"); status != http.StatusBadRequest || code != 2310 {
		t.Errorf("stop with nothing running: %d code %d", status, code)
	}
	unentitled := newRTMSFixture(t, RTMS{NotEntitled: true})
	if status, code := unentitled.control(t, "alice-id", "start", "rtms-client", "81112223333"); status != http.StatusBadRequest || code != 2310 {
		t.Errorf("no RTMS entitlement: %d code %d", status, code)
	}
	select {
	case ev := <-f.webhooks:
		t.Errorf("a refused control sent %v", ev["event"])
	default:
	}
}

// Starting a stream needs the RTMS scope, as Zoom's does: a token without it is refused with 4711.
func TestRTMSControlNeedsItsScope(t *testing.T) {
	f := newRTMSFixture(t, RTMS{}, func(c *Config) {
		c.OAuthApp.Scopes = slices.DeleteFunc(UserScopes(), func(s string) bool { return strings.Contains(s, "rtms") })
	})
	if status, code := f.control(t, "alice-id", "start", "rtms-client", "81112223333"); status != http.StatusBadRequest || code != 4711 {
		t.Errorf("without the scope: %d code %d, want 400 code 4711", status, code)
	}
}
