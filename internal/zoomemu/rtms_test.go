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
		app.KeepAlive = 10 * time.Millisecond
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

// rtmsPeer is a test's side of one socket: it reads every message into a channel, answering
// keep-alive requests at once as a worker does (unless silent).
type rtmsPeer struct {
	tb       testing.TB
	c        *websocket.Conn
	messages chan map[string]any
	err      error // why the socket ended, once messages is closed
}

// dial opens a socket and sends the handshake of msgType (with media_type for a media socket);
// it returns the peer and the answer.
func dial(tb testing.TB, url string, msgType int, uuid, stream, signature string, mediaType int) (*rtmsPeer, map[string]any) {
	return dialPeer(tb, url, msgType, uuid, stream, signature, mediaType, false)
}

func dialPeer(tb testing.TB, url string, msgType int, uuid, stream, signature string, mediaType int, silent bool) (*rtmsPeer, map[string]any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	hs := map[string]any{"msg_type": msgType, "protocol_version": 1, "meeting_uuid": uuid, "rtms_stream_id": stream, "sequence": 1,
		"signature": signature}
	if msgType == rtmsMediaHandshake {
		hs["media_type"], hs["payload_encryption"], hs["media_params"] = mediaType, false, map[string]any{}
	}
	if err := wsjson.Write(ctx, c, hs); err != nil {
		tb.Fatal(err)
	}
	p := &rtmsPeer{tb: tb, c: c, messages: make(chan map[string]any, 100)}
	go func() {
		defer close(p.messages)
		for {
			var msg map[string]any
			if p.err = wsjson.Read(context.Background(), c, &msg); p.err != nil {
				return
			}
			if msg["msg_type"] == float64(rtmsKeepAliveRequest) && !silent {
				wsjson.Write(context.Background(), c, map[string]any{"msg_type": rtmsKeepAliveResponse, "timestamp": msg["timestamp"]})
			}
			p.messages <- msg
		}
	}()
	return p, p.read()
}

// read returns the next message, failing the test if the socket ends or nothing comes in 5 s.
func (p *rtmsPeer) read() map[string]any {
	p.tb.Helper()
	select {
	case msg, ok := <-p.messages:
		if !ok {
			p.tb.Fatalf("the socket ended: %v", p.err)
		}
		return msg
	case <-time.After(5 * time.Second):
		p.tb.Fatalf("nothing came in 5 s")
	}
	return nil
}

func (p *rtmsPeer) send(msg map[string]any) {
	p.tb.Helper()
	if err := wsjson.Write(context.Background(), p.c, msg); err != nil {
		p.tb.Fatal(err)
	}
}

// until reads until a message of msgType comes, and returns it with the types of the messages
// read before it.
func (p *rtmsPeer) until(msgType int) (map[string]any, []int) {
	p.tb.Helper()
	var seen []int
	for {
		msg := p.read()
		t := int(msg["msg_type"].(float64))
		if t == msgType {
			return msg, seen
		}
		seen = append(seen, t)
	}
}

// closed reads until the socket ends, and returns how (-1: no close frame) and the message types
// read before.
func (p *rtmsPeer) closed() (websocket.StatusCode, []int) {
	p.tb.Helper()
	var seen []int
	for {
		select {
		case msg, ok := <-p.messages:
			if !ok {
				return websocket.CloseStatus(p.err), seen
			}
			seen = append(seen, int(msg["msg_type"].(float64)))
		case <-time.After(5 * time.Second):
			p.tb.Fatalf("the socket stayed open; read %v", seen)
		}
	}
}

// started is a started stream, as its webhook told.
type started struct {
	uuid, stream, signaling string
}

func (f *rtmsFixture) start(tb testing.TB) started {
	tb.Helper()
	if status, code := f.control(tb, "alice-id", "start", "rtms-client", "81112223333"); status != http.StatusNoContent {
		tb.Fatalf("start: %d (code %d)", status, code)
	}
	p := f.webhook(tb, "meeting.rtms_started")
	return started{p["meeting_uuid"].(string), p["rtms_stream_id"].(string), p["server_urls"].(string)}
}

// join opens the stream's signaling socket and returns it with the media URLs its answer names.
func (f *rtmsFixture) join(tb testing.TB, s started) (*rtmsPeer, map[string]any) {
	tb.Helper()
	sig, answer := dial(tb, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 0)
	if answer["msg_type"] != float64(rtmsSignalingHandshakeResponse) || answer["status_code"] != float64(0) {
		tb.Fatalf("signaling answer: %v", answer)
	}
	return sig, answer["media_server"].(map[string]any)["server_urls"].(map[string]any)
}

func (f *rtmsFixture) media(tb testing.TB, s started, url string, mediaType int) *rtmsPeer {
	tb.Helper()
	m, answer := dial(tb, url, rtmsMediaHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), mediaType)
	if answer["msg_type"] != float64(rtmsMediaHandshakeResponse) || answer["status_code"] != float64(0) {
		tb.Fatalf("media answer: %v", answer)
	}
	return m
}

// A worker as Zoom's current samples are: per-kind media URLs, nothing before CLIENT_READY_ACK,
// the transcript in Zoom's shape, and a stop that says its reason as an integer on signaling
// only.
func TestRTMSPerKindMediaReadyAckAndStop(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	s := f.start(t)
	if !strings.HasPrefix(s.signaling, "ws://") || len(s.stream) != 32 {
		t.Fatalf("rtms_started: %+v", s)
	}
	sig, urls := f.join(t, s)
	for _, kind := range []string{"audio", "video", "deskshare", "transcript", "chat", "all"} {
		if u, _ := urls[kind].(string); !strings.HasPrefix(u, "ws://") {
			t.Errorf("no %s media URL in %v", kind, urls)
		}
	}
	media := f.media(t, s, urls["transcript"].(string), 8)

	// No media before msg 7: only keep-alives.
	for range 3 {
		if msg := media.read(); msg["msg_type"] != float64(rtmsKeepAliveRequest) {
			t.Fatalf("before CLIENT_READY_ACK: %v", msg)
		}
	}
	sig.send(map[string]any{"msg_type": rtmsClientReadyAck, "rtms_stream_id": s.stream})
	var lines []string
	for len(lines) < 3 {
		msg, _ := media.until(17)
		content := msg["content"].(map[string]any)
		if content["user_name"] != "Alice" || content["start_time"] == nil || content["end_time"] == nil {
			t.Errorf("a transcript message: %v", msg)
		}
		lines = append(lines, content["data"].(string))
	}

	if err := f.emu.StopRTMS(s.stream, 6); err != nil {
		t.Fatal(err)
	}
	update, _ := sig.until(rtmsStreamStateUpdate)
	if update["state"] != float64(rtmsStreamStateTerminated) || update["reason"] != float64(6) || update["stop_reason"] != float64(6) {
		t.Errorf("msg 8: %v", update)
	}
	if status, seen := media.closed(); status != websocket.StatusNormalClosure || slices.Contains(seen, rtmsStreamStateUpdate) {
		t.Errorf("the media socket: closed %v after %v, want a normal closure and no msg 8", status, seen)
	}
	if stopped := f.webhook(t, "meeting.rtms_stopped"); stopped["stop_reason"] != float64(6) || stopped["rtms_stream_id"] != s.stream {
		t.Errorf("rtms_stopped: %v", stopped)
	}
	if _, answer := dial(t, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 0); answer["status_code"] != float64(rtmsStatusInvalidStreamID) {
		t.Errorf("a stopped stream's handshake: %v", answer)
	}
}

// The sockets check the signature as Zoom does: HMAC-SHA256 of "client_id,meeting_uuid,stream"
// with the client secret. Anything else is refused with status_code 3 and a close (code 1000).
func TestRTMSRefusesAWrongSignature(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	s := f.start(t)
	right := f.emu.RTMSSignature(s.uuid, s.stream)
	for name, signature := range map[string]string{
		"empty":                 "",
		"another secret":        rtmsSignature("rtms-client", "another-secret", s.uuid, s.stream),
		"upper case":            strings.ToUpper(right),
		"fields in other order": f.emu.RTMSSignature(s.stream, s.uuid),
		"truncated":             right[:32],
	} {
		t.Run(name, func(t *testing.T) {
			c, answer := dial(t, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, signature, 0)
			if answer["status_code"] != float64(rtmsStatusInvalidSignature) {
				t.Fatalf("answer: %v", answer)
			}
			if status, _ := c.closed(); status != websocket.StatusNormalClosure {
				t.Errorf("after the refusal: %v, want close code 1000", status)
			}
		})
	}
	if accepted, refused, _ := f.emu.RTMSStats(); accepted != 0 || refused != 5 {
		t.Errorf("accepted %d, refused %d", accepted, refused)
	}
}

// Zoom takes one signaling connection per stream: a second worker is refused with 8, and the
// first one's reconnect (after it left) is taken.
func TestRTMSOneSignalingConnectionPerStream(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	s := f.start(t)
	first, _ := f.join(t, s)
	if _, answer := dial(t, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 0); answer["status_code"] != float64(rtmsStatusDuplicateSignal) {
		t.Fatalf("a second signaling connection: %v", answer)
	}
	first.c.CloseNow()
	f.webhook(t, "meeting.rtms_interrupted")
	f.join(t, s) // fails the test unless taken
	if n := f.emu.RTMSRefusals(rtmsStatusDuplicateSignal); n != 1 {
		t.Errorf("%d duplicate refusals, want 1", n)
	}
}

// media_type is honoured: an audio-only worker gets msg 14 and never msg 17, on the "all" URL as
// on the audio one; a kind's URL carries that kind only.
func TestRTMSSendsOnlyTheKindsAskedFor(t *testing.T) {
	f := newRTMSFixture(t, RTMS{Transcripts: []string{"one", "two"}})
	s := f.start(t)
	sig, urls := f.join(t, s)
	all := f.media(t, s, urls["all"].(string), 1)
	audio := f.media(t, s, urls["audio"].(string), 1|8) // transcript asked on the audio URL: not sent there
	chat := f.media(t, s, urls["chat"].(string), 32)
	sig.send(map[string]any{"msg_type": rtmsClientReadyAck, "rtms_stream_id": s.stream})
	_, before := all.until(14)
	_, alsoBefore := audio.until(14)
	msg, _ := chat.until(18)
	if slices.Contains(before, 17) || slices.Contains(alsoBefore, 17) || msg["content"].(map[string]any)["data"] == nil {
		t.Errorf("an audio-only worker got a transcript: %v %v", before, alsoBefore)
	}
	f.emu.StopRTMS(s.stream, 6)
	for _, m := range []*rtmsPeer{all, audio} {
		if _, seen := m.closed(); slices.Contains(seen, 17) || slices.Contains(seen, 15) {
			t.Errorf("an audio-only socket got %v", seen)
		}
	}
}

// Three unanswered keep-alives end a socket: a lost signaling socket interrupts the stream, and
// if nobody reconnects within the window it stops with stop_reason 24.
func TestRTMSKeepAlivesAreEnforced(t *testing.T) {
	f := newRTMSFixture(t, RTMS{SignalingWindow: 100 * time.Millisecond})
	s := f.start(t)
	sig, answer := dialPeer(t, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 0, true)
	if answer["status_code"] != float64(0) {
		t.Fatalf("signaling answer: %v", answer)
	}
	status, seen := sig.closed()
	if status != websocket.StatusPolicyViolation || len(seen) != rtmsMissedKeepAlives {
		t.Errorf("closed with %v after %v, want a policy violation after %d keep-alive requests", status, seen, rtmsMissedKeepAlives)
	}
	f.webhook(t, "meeting.rtms_interrupted")
	if stopped := f.webhook(t, "meeting.rtms_stopped"); stopped["stop_reason"] != float64(rtmsStopKeepAliveTimeout) {
		t.Errorf("rtms_stopped: %v", stopped)
	}
}

// A lost media socket is reported on signaling (MEDIA_CONNECTION_INTERRUPTED); a worker back
// within the window carries on where it left; the stream stays up.
func TestRTMSMediaInterruption(t *testing.T) {
	f := newRTMSFixture(t, RTMS{Transcripts: []string{"one", "two", "three", "four"}})
	s := f.start(t)
	sig, urls := f.join(t, s)
	media := f.media(t, s, urls["transcript"].(string), 8)
	sig.send(map[string]any{"msg_type": rtmsClientReadyAck, "rtms_stream_id": s.stream})
	first, _ := media.until(17)
	if err := f.emu.InterruptRTMS(s.stream, "media"); err != nil {
		t.Fatal(err)
	}
	event, _ := sig.until(rtmsEventUpdate)
	if event["event"].(map[string]any)["event_type"] != float64(rtmsEventMediaInterrupted) {
		t.Fatalf("on signaling: %v", event)
	}
	media = f.media(t, s, urls["transcript"].(string), 8)
	next, _ := media.until(17)
	// A line in flight when the socket dropped is lost, as with Zoom; none is sent twice.
	if line := next["content"].(map[string]any)["data"]; first["content"].(map[string]any)["data"] != "one" || line == "one" {
		t.Errorf("after the reconnect: %v then %v", first, next)
	}
	select {
	case ev := <-f.webhooks:
		t.Errorf("a media interruption sent %v", ev["event"])
	default:
	}
}

// Failover: the sockets drop, the old server refuses the stream, a new rtms_started names the new
// server, and the same signature joins it.
func TestRTMSFailover(t *testing.T) {
	f := newRTMSFixture(t, RTMS{})
	s := f.start(t)
	sig, _ := f.join(t, s)
	if err := f.emu.FailoverRTMS(s.stream); err != nil {
		t.Fatal(err)
	}
	if status, _ := sig.closed(); status != -1 {
		t.Errorf("the old signaling socket: %v, want dropped without a close frame", status)
	}
	moved := f.webhook(t, "meeting.rtms_started")
	if moved["rtms_stream_id"] != s.stream || moved["meeting_uuid"] != s.uuid || moved["server_urls"] == s.signaling {
		t.Fatalf("the failover's rtms_started: %v", moved)
	}
	if _, answer := dial(t, s.signaling, rtmsSignalingHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 0); answer["status_code"] != float64(rtmsStatusInvalidStreamID) {
		t.Errorf("the old server: %v", answer)
	}
	s.signaling = moved["server_urls"].(string)
	f.join(t, s)
	select {
	case ev := <-f.webhooks:
		t.Errorf("a failover also sent %v", ev["event"])
	case <-time.After(50 * time.Millisecond):
	}
}

// Video SDK sessions' streams are signed with the Video SDK app's credentials, not the General
// app's; webinars' events name webinar_uuid and webinar_id.
func TestRTMSSessionsAndWebinars(t *testing.T) {
	f := newRTMSFixture(t, RTMS{VideoSDKKey: "vsdk-key", VideoSDKSecret: "vsdk-secret"})
	base := "ws://" + strings.TrimPrefix(f.srv.URL, "http://")
	stream := f.emu.StartRTMS(RTMSSession, "session-1==", base)
	p := f.webhook(t, "session.rtms_started")
	if p["session_id"] != "session-1==" || p["rtms_stream_id"] != stream || p["meeting_uuid"] != nil {
		t.Fatalf("session.rtms_started: %v", p)
	}
	url := p["server_urls"].(string)
	if _, answer := dial(t, url, rtmsSignalingHandshake, "session-1==", stream, f.emu.RTMSSignature("session-1==", stream), 0); answer["status_code"] != float64(rtmsStatusInvalidSignature) {
		t.Errorf("a session signed with the General app: %v", answer)
	}
	if _, answer := dial(t, url, rtmsSignalingHandshake, "session-1==", stream, rtmsSignature("vsdk-key", "vsdk-secret", "session-1==", stream), 0); answer["status_code"] != float64(0) {
		t.Errorf("a session signed with the Video SDK app: %v", answer)
	}
	f.emu.StartRTMS(RTMSWebinar, "91112223333", base)
	w := f.webhook(t, "webinar.rtms_started")
	if w["webinar_uuid"] == nil || w["webinar_id"] != float64(91112223333) || w["meeting_uuid"] != nil {
		t.Errorf("webinar.rtms_started: %v", w)
	}
}

// Pause and resume (the control call) are said on signaling (msg 9); no media flows while paused.
// A worker subscribing to participant events (msg 5) gets them (msg 6).
func TestRTMSPauseResumeAndEvents(t *testing.T) {
	f := newRTMSFixture(t, RTMS{Transcripts: []string{"one", "two"}})
	s := f.start(t)
	sig, urls := f.join(t, s)
	sig.send(map[string]any{"msg_type": rtmsEventSubscription, "events": []map[string]any{{"event_type": 3, "subscribe": true}}})
	if event, _ := sig.until(rtmsEventUpdate); event["event"].(map[string]any)["event_type"] != float64(3) {
		t.Errorf("a participant event: %v", event)
	}
	media := f.media(t, s, urls["transcript"].(string), 8)
	if status, _ := f.control(t, "alice-id", "pause", "rtms-client", "81112223333"); status != http.StatusNoContent {
		t.Fatalf("pause: %d", status)
	}
	if msg, _ := sig.until(rtmsSessionStateUpdate); msg["state"] != float64(rtmsSessionStatePaused) {
		t.Errorf("msg 9 on pause: %v", msg)
	}
	sig.send(map[string]any{"msg_type": rtmsClientReadyAck, "rtms_stream_id": s.stream})
	for range 3 {
		if msg := media.read(); msg["msg_type"] != float64(rtmsKeepAliveRequest) {
			t.Fatalf("while paused: %v", msg)
		}
	}
	f.control(t, "alice-id", "resume", "rtms-client", "81112223333")
	if msg, _ := sig.until(rtmsSessionStateUpdate); msg["state"] != float64(rtmsSessionStateResumed) {
		t.Errorf("msg 9 on resume: %v", msg)
	}
	media.until(17)
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

// A worker shaped like Zoom's own Go sample (rtms-samples boilerplate/working_go): one media
// socket on the "all" URL with media_type 32 and its media_params, CLIENT_READY_ACK once the
// media answer says 0. It gets every kind.
func TestRTMSZoomsGoSampleGetsEveryKind(t *testing.T) {
	f := newRTMSFixture(t, RTMS{Transcripts: []string{"one"}})
	s := f.start(t)
	sig, urls := f.join(t, s)
	media, answer := dial(t, urls["all"].(string), rtmsMediaHandshake, s.uuid, s.stream, f.emu.RTMSSignature(s.uuid, s.stream), 32)
	if answer["status_code"] != float64(0) {
		t.Fatalf("media answer: %v", answer)
	}
	sig.send(map[string]any{"msg_type": rtmsClientReadyAck, "rtms_stream_id": s.stream})
	kinds := map[int]bool{}
	for len(kinds) < 5 {
		msg := media.read()
		if kind := int(msg["msg_type"].(float64)); kind >= 14 && kind <= 18 {
			kinds[kind] = true
		}
	}
}
