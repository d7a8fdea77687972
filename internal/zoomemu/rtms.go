package zoomemu

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// EndpointRTMSControl is the PATCH that starts and stops a meeting's Realtime Media Streams.
const EndpointRTMSControl Endpoint = "rtms_control"

// RTMS is the emulated Realtime Media Streams app (RTMS.md): the control call, the webhooks a
// start and a stop send, and the signaling and media WebSockets a worker joins, which check the
// worker's signature exactly as Zoom's do.
type RTMS struct {
	// ClientID and ClientSecret are the RTMS app's; the secret signs what a worker presents.
	ClientID, ClientSecret string
	// WebhookURL receives the signed meeting.rtms_started and meeting.rtms_stopped.
	WebhookURL string
	// NotEntitled makes every start fail with Zoom's 2310 (the account has no RTMS).
	NotEntitled bool
	// KeepAlive is how often the sockets send a keep-alive request; default 5 s.
	KeepAlive time.Duration
	// Transcripts are sent on the media socket (msg_type 17), one a KeepAlive apart after the
	// handshake; default three lines.
	Transcripts []string
}

// The message types of RTMS's signaling and media sockets.
const (
	rtmsSignalingHandshake         = 1
	rtmsSignalingHandshakeResponse = 2
	rtmsMediaHandshake             = 3
	rtmsMediaHandshakeResponse     = 4
	rtmsStreamStateUpdate          = 8
	rtmsKeepAliveRequest           = 12
	rtmsKeepAliveResponse          = 13
	rtmsTranscript                 = 17
)

// rtmsStatusInvalidSignature is the status_code a handshake with a wrong signature gets.
const rtmsStatusInvalidSignature = 4

// rtmsStream is one started stream.
type rtmsStream struct {
	id          string
	meetingID   int64
	meetingUUID string
	stopped     chan struct{} // closed by a stop: the sockets close
}

// rtmsState is the emulator's RTMS state, under Emulator.mu.
type rtmsState struct {
	streams     map[string]*rtmsStream // by stream id
	keepAlives  int                    // keep-alive responses received
	handshakes  int                    // handshakes accepted, both sockets
	refusals    int                    // handshakes refused for their signature
	webhookSent sync.WaitGroup         // webhooks in flight, for Close
}

// RTMSSignature is what a worker must present for a stream: the hex HMAC-SHA256, keyed with the
// RTMS app's secret, of "{client_id},{meeting_uuid},{rtms_stream_id}". The emulator computes it on
// its own, so a test catches a service that signs otherwise.
func (e *Emulator) RTMSSignature(meetingUUID, streamID string) string {
	return rtmsSignature(e.cfg.RTMS.ClientID, e.cfg.RTMS.ClientSecret, meetingUUID, streamID)
}

func rtmsSignature(clientID, clientSecret, meetingUUID, streamID string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	fmt.Fprintf(mac, "%s,%s,%s", clientID, meetingUUID, streamID)
	return hex.EncodeToString(mac.Sum(nil))
}

// RTMSStats says how many handshakes the sockets accepted and refused (for a wrong signature),
// and how many keep-alive responses workers sent.
func (e *Emulator) RTMSStats() (accepted, refused, keepAlives int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rtms.handshakes, e.rtms.refusals, e.rtms.keepAlives
}

// handleRTMSControl is PATCH /v2/live_meetings/{meetingId}/rtms_app/status: a host's user token
// (or an S2S token of the account) starts or stops the meeting's stream. A start answers 204 and
// then sends meeting.rtms_started; a stop sends meeting.rtms_stopped.
func (e *Emulator) handleRTMSControl(w http.ResponseWriter, r *http.Request, at accessToken) {
	var body struct {
		Action   string `json:"action"`
		Settings struct {
			ClientID string `json:"client_id"`
		} `json:"settings"`
	}
	id, err := strconv.ParseInt(r.PathValue("meetingId"), 10, 64)
	scope := ScopeRTMSControl
	if at.user != nil {
		scope = strings.TrimSuffix(scope, ":admin") // a user's token has the granular scope
	}
	switch {
	case e.cfg.RTMS == nil:
		writeZoomError(w, http.StatusNotFound, 404, "Not found.")
		return
	case !at.has(scope):
		writeMissingScope(w, scope)
		return
	case json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body) != nil:
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid request body.")
		return
	case body.Settings.ClientID != e.cfg.RTMS.ClientID:
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid client_id.")
		return
	case err != nil || id <= 0 || !e.meetingExists(id):
		writeZoomError(w, http.StatusNotFound, 3001, fmt.Sprintf("Meeting does not exist: %d.", id))
		return
	case at.user != nil && !e.hostsMeeting(at.user, id):
		writeZoomError(w, http.StatusBadRequest, 2308, "The user is not on the invite list of this external meeting.")
		return
	case e.cfg.RTMS.NotEntitled:
		writeZoomError(w, http.StatusBadRequest, 2310, "The account is not entitled to Realtime Media Streams.")
		return
	}
	switch body.Action {
	case "start":
		s := e.startRTMS(id)
		w.WriteHeader(http.StatusNoContent)
		e.sendRTMSWebhook("meeting.rtms_started", s, "ws://"+r.Host+"/rtms/signaling")
	case "stop":
		s := e.activeRTMS(id)
		if s == nil {
			writeZoomError(w, http.StatusBadRequest, 2310, "Failed to perform RTMS app operation.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
		e.stopRTMS(s)
	case "pause", "resume":
		w.WriteHeader(http.StatusNoContent)
	default:
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid action: "+body.Action)
	}
}

func (e *Emulator) meetingExists(id int64) bool {
	for _, m := range e.cfg.Meetings {
		if m == id {
			return true
		}
	}
	return e.hostedByAnyone(id)
}

// startRTMS returns the meeting's running stream, starting one if there is none.
func (e *Emulator) startRTMS(meetingID int64) *rtmsStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.runningRTMS(meetingID); s != nil {
		return s
	}
	s := &rtmsStream{id: randomHex(16), meetingID: meetingID, meetingUUID: randomString(22) + "==",
		stopped: make(chan struct{})}
	e.rtms.streams[s.id] = s
	return s
}

// activeRTMS returns the meeting's running stream, or nil.
func (e *Emulator) activeRTMS(meetingID int64) *rtmsStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runningRTMS(meetingID)
}

// runningRTMS is the meeting's running stream, or nil; e.mu is held.
func (e *Emulator) runningRTMS(meetingID int64) *rtmsStream {
	for _, s := range e.rtms.streams {
		if s.meetingID == meetingID && !isClosed(s.stopped) {
			return s
		}
	}
	return nil
}

// RTMSStream returns the id of the meeting's running stream, or "" when none runs.
func (e *Emulator) RTMSStream(meetingID int64) string {
	if s := e.activeRTMS(meetingID); s != nil {
		return s.id
	}
	return ""
}

// StopRTMS stops a stream as the meeting ending does: its sockets close and
// meeting.rtms_stopped is sent.
func (e *Emulator) StopRTMS(streamID string) error {
	e.mu.Lock()
	s := e.rtms.streams[streamID]
	e.mu.Unlock()
	if s == nil {
		return fmt.Errorf("zoomemu: no RTMS stream %q", streamID)
	}
	e.stopRTMS(s)
	return nil
}

func (e *Emulator) stopRTMS(s *rtmsStream) {
	e.mu.Lock()
	already := isClosed(s.stopped)
	if !already {
		close(s.stopped)
	}
	e.mu.Unlock()
	if !already {
		e.sendRTMSWebhook("meeting.rtms_stopped", s, "")
	}
}

// sendRTMSWebhook sends an RTMS event in the background, as Zoom does after its answer.
func (e *Emulator) sendRTMSWebhook(event string, s *rtmsStream, serverURL string) {
	payload := map[string]any{"meeting_uuid": s.meetingUUID, "rtms_stream_id": s.id, "account_id": "emu-account",
		"meeting_id": s.meetingID, "is_original_host": true, "operator_id": "emu-operator"}
	if serverURL != "" {
		payload["server_urls"] = serverURL
	}
	if e.cfg.RTMS.WebhookURL == "" {
		return
	}
	e.rtms.webhookSent.Add(1)
	go func() {
		defer e.rtms.webhookSent.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.SendWebhook(ctx, e.cfg.RTMS.WebhookURL, event, payload)
	}()
}

// WaitWebhooks waits until the webhooks in flight have been answered.
func (e *Emulator) WaitWebhooks() { e.rtms.webhookSent.Wait() }

// rtmsHandshake is what a worker sends first on either socket.
type rtmsHandshake struct {
	MsgType      int    `json:"msg_type"`
	MeetingUUID  string `json:"meeting_uuid"`
	RTMSStreamID string `json:"rtms_stream_id"`
	Signature    string `json:"signature"`
}

// acceptRTMS upgrades the request, reads the handshake of type want, and checks its signature
// against the stream it names. A refusal answers status_code 4 and closes.
func (e *Emulator) acceptRTMS(w http.ResponseWriter, r *http.Request, want, answer int) (*websocket.Conn, *rtmsStream, bool) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var hs rtmsHandshake
	if err := wsjson.Read(ctx, c, &hs); err != nil || hs.MsgType != want {
		c.Close(websocket.StatusProtocolError, "expected a handshake")
		return nil, nil, false
	}
	e.mu.Lock()
	s := e.rtms.streams[hs.RTMSStreamID]
	e.mu.Unlock()
	valid := e.cfg.RTMS != nil && s != nil && s.meetingUUID == hs.MeetingUUID && !isClosed(s.stopped) &&
		hmac.Equal([]byte(hs.Signature), []byte(e.RTMSSignature(hs.MeetingUUID, hs.RTMSStreamID)))
	e.mu.Lock()
	if valid {
		e.rtms.handshakes++
	} else {
		e.rtms.refusals++
	}
	e.mu.Unlock()
	if !valid {
		wsjson.Write(ctx, c, map[string]any{"msg_type": answer, "protocol_version": 1, "status_code": rtmsStatusInvalidSignature,
			"reason": "invalid signature"})
		c.Close(websocket.StatusPolicyViolation, "invalid signature")
		return nil, nil, false
	}
	return c, s, true
}

// handleRTMSSignaling is the signaling socket: the handshake (whose answer names the media
// socket), keep-alives, and a state update and close when the stream stops.
func (e *Emulator) handleRTMSSignaling(w http.ResponseWriter, r *http.Request) {
	e.serveRTMSSocket(w, r, rtmsSignalingHandshake, rtmsSignalingHandshakeResponse, map[string]any{
		"media_server": map[string]any{"server_urls": map[string]string{"all": "ws://" + r.Host + "/rtms/media"}}}, nil)
}

// handleRTMSMedia is the media socket: the handshake, then the transcript lines, keep-alives,
// and a close when the stream stops.
func (e *Emulator) handleRTMSMedia(w http.ResponseWriter, r *http.Request) {
	lines := e.cfg.RTMS.Transcripts
	if lines == nil {
		lines = []string{"Hello, everyone.", "Let's begin with the roadmap.", "Thanks, that's all for today."}
	}
	e.serveRTMSSocket(w, r, rtmsMediaHandshake, rtmsMediaHandshakeResponse, map[string]any{"media_params": map[string]any{}}, lines)
}

// serveRTMSSocket accepts a socket whose handshake is of type want, answers it with type answer
// and the fields of extra, then serves it with transcripts.
func (e *Emulator) serveRTMSSocket(w http.ResponseWriter, r *http.Request, want, answer int, extra map[string]any, transcripts []string) {
	c, s, ok := e.acceptRTMS(w, r, want, answer)
	if !ok {
		return
	}
	defer c.CloseNow()
	reply := map[string]any{"msg_type": answer, "protocol_version": 1, "status_code": 0}
	for k, v := range extra {
		reply[k] = v
	}
	wsjson.Write(r.Context(), c, reply)
	e.serveRTMS(r.Context(), c, s, transcripts)
}

// serveRTMS sends a keep-alive request (and the next transcript line, if any) every KeepAlive
// until the stream stops, the worker leaves or the emulator closes, and counts the worker's
// keep-alive responses.
func (e *Emulator) serveRTMS(ctx context.Context, c *websocket.Conn, s *rtmsStream, transcripts []string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		for {
			var msg struct {
				MsgType int `json:"msg_type"`
			}
			if err := wsjson.Read(ctx, c, &msg); err != nil {
				return
			}
			if msg.MsgType == rtmsKeepAliveResponse {
				e.mu.Lock()
				e.rtms.keepAlives++
				e.mu.Unlock()
			}
		}
	}()
	every := e.cfg.RTMS.KeepAlive
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.closed:
			c.Close(websocket.StatusGoingAway, "emulator closed")
			return
		case <-s.stopped:
			wsjson.Write(ctx, c, map[string]any{"msg_type": rtmsStreamStateUpdate, "state": 4, "reason": "meeting ended"})
			c.Close(websocket.StatusNormalClosure, "stream stopped")
			return
		case <-tick.C:
		}
		now := e.cfg.Now().UnixMilli()
		if wsjson.Write(ctx, c, map[string]any{"msg_type": rtmsKeepAliveRequest, "timestamp": now}) != nil {
			return
		}
		if len(transcripts) > 0 {
			line := transcripts[0]
			transcripts = transcripts[1:]
			if wsjson.Write(ctx, c, map[string]any{"msg_type": rtmsTranscript, "content": map[string]any{
				"user_id": 16778240, "user_name": "Alice", "data": line, "timestamp": now}}) != nil {
				return
			}
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
