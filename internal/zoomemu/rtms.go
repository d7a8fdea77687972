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
)

// EndpointRTMSControl is the PATCH that starts and stops a meeting's Realtime Media Streams.
const EndpointRTMSControl Endpoint = "rtms_control"

// RTMS is the emulated Realtime Media Streams side of Zoom (RTMS.md, "Part 4 additions"): the
// control call, the webhooks a stream's life sends, and the signaling and media WebSockets a
// worker joins. It refuses what Zoom refuses: a wrong signature, a second signaling connection, a
// worker that stops answering keep-alives; and it sends media only after CLIENT_READY_ACK, only
// of the kinds asked for. rtmssocket.go serves the sockets.
type RTMS struct {
	// ClientID and ClientSecret are the RTMS (General) app's: they sign meetings' and webinars'
	// streams.
	ClientID, ClientSecret string
	// VideoSDKKey and VideoSDKSecret are the Video SDK app's: they sign sessions' streams.
	VideoSDKKey, VideoSDKSecret string
	// WebhookURL receives the signed {meeting,webinar,session}.rtms_* events.
	WebhookURL string
	// NotEntitled makes every start fail with Zoom's 2310 (the account has no RTMS).
	NotEntitled bool
	// KeepAlive is how long a socket may sit idle before a keep-alive request, and the pace of
	// media messages; Zoom's 10 s by default (tests shorten it).
	KeepAlive time.Duration
	// SignalingWindow and MediaWindow are how long a lost connection may take to come back
	// before the stream stops; Zoom's 60 s and 30 s by default.
	SignalingWindow, MediaWindow time.Duration
	// SocketBase is where workers reach the sockets, such as "wss://127.0.0.1:9901" for a TLS
	// listener of their own; empty: the host the control call came to, over ws:// (wss:// when
	// it came over TLS).
	SocketBase string
	// Transcripts are the transcript lines a stream sends (msg_type 17); each other media kind
	// sends as many messages. Default: three lines.
	Transcripts []string
}

// The message types of RTMS's signaling and media sockets (zoom/rtms src/rtms.h MESSAGE_TYPE).
const (
	rtmsSignalingHandshake         = 1
	rtmsSignalingHandshakeResponse = 2
	rtmsMediaHandshake             = 3
	rtmsMediaHandshakeResponse     = 4
	rtmsEventSubscription          = 5
	rtmsEventUpdate                = 6
	rtmsClientReadyAck             = 7
	rtmsStreamStateUpdate          = 8
	rtmsSessionStateUpdate         = 9
	rtmsKeepAliveRequest           = 12
	rtmsKeepAliveResponse          = 13
)

// The status codes of a refused handshake: Zoom's current RTMS_STATUS table (zoom/skills
// data-types.md, rtms-samples' RTMSError.js). Older samples number them 13, 15 and 17.
const (
	rtmsStatusInvalidStreamID  = 2
	rtmsStatusInvalidSignature = 3
	rtmsStatusDuplicateSignal  = 8
)

// Values of the messages' fields (zoom/rtms src/rtms.h).
const (
	rtmsStreamStateTerminated = 4  // STREAM_STATE, in msg 8
	rtmsSessionStatePaused    = 3  // SESSION_STATE, in msg 9
	rtmsSessionStateResumed   = 4  // SESSION_STATE, in msg 9
	rtmsEventParticipantJoin  = 3  // EVENT_TYPE, in msg 5 and 6
	rtmsEventMediaInterrupted = 7  // EVENT_TYPE, in msg 6
	rtmsStopAwaitReconnection = 19 // STOP_REASON: nobody reconnected in time
	rtmsStopKeepAliveTimeout  = 24 // STOP_REASON: keep-alives went unanswered
	rtmsStopManualAPI         = 25 // STOP_REASON: the control call stopped it
	rtmsMediaAll              = 32 // media_type: every kind
	rtmsEveryKind             = 31 // audio | video | deskshare | transcript | chat
)

// Zoom's timings, and the emulator's own limits.
const (
	rtmsMissedKeepAlives       = 3 // unanswered keep-alives that end a socket
	rtmsDefaultKeepAlive       = 10 * time.Second
	rtmsDefaultSignalingWindow = 60 * time.Second
	rtmsDefaultMediaWindow     = 30 * time.Second
	rtmsWebhookTimeout         = 10 * time.Second
	rtmsHandshakeTimeout       = 10 * time.Second
)

// The kinds of stream, as their webhooks' prefix names them.
const (
	RTMSMeeting = "meeting"
	RTMSWebinar = "webinar"
	RTMSSession = "session" // a Video SDK session
)

// rtmsMediaKinds are the media kinds: their media_type bit, their URL name, and the msg_type
// their data arrives as.
var rtmsMediaKinds = []struct {
	bit     int
	name    string
	msgType int
}{{1, "audio", 14}, {2, "video", 15}, {4, "deskshare", 16}, {8, "transcript", 17}, {16, "chat", 18}}

// rtmsStream is one stream, under Emulator.mu.
type rtmsStream struct {
	id, kind string
	// uuid is the meeting's or webinar's uuid, or the session's id: what the signature covers.
	uuid string
	// number is the meeting's or webinar's number; 0 for a session.
	number int64
	// base is "ws://host" or "wss://host"; server counts the moves (failovers).
	base   string
	server int

	stopped, paused bool
	signaling       *rtmsSocket
	ready           bool // CLIENT_READY_ACK came on the current signaling socket
	media           map[*rtmsSocket]bool
	// sent counts media messages by msg_type across reconnects, so a worker that comes back
	// carries on where it left.
	sent map[int]int
	// lostBy is the stop reason if a lost connection does not come back in time.
	lostBy                     int
	signalingTimer, mediaTimer *time.Timer
}

// serverName is the stream's current server, as its URLs name it.
func (s *rtmsStream) serverName() string { return "emu" + strconv.Itoa(s.server) }

// signalingURL is the stream's server_urls.
func (s *rtmsStream) signalingURL() string {
	return s.base + "/rtms/" + s.serverName() + "/signaling"
}

// mediaURLs are msg 2's media_server.server_urls: one per kind, and "all".
func (s *rtmsStream) mediaURLs() map[string]string {
	urls := map[string]string{"all": s.base + "/rtms/" + s.serverName() + "/media"}
	for _, k := range rtmsMediaKinds {
		urls[k.name] = urls["all"] + "/" + k.name
	}
	return urls
}

// rtmsState is the emulator's RTMS state, under Emulator.mu.
type rtmsState struct {
	streams    map[string]*rtmsStream // by stream id
	keepAlives int                    // keep-alive responses received
	handshakes int                    // handshakes accepted, both sockets
	refusals   map[int]int            // handshakes refused, by status_code

	// The webhooks waiting to be sent, in order, whether a sender is draining them, and how many
	// are queued or in flight (WaitWebhooks waits on sent for it to be zero). A WaitGroup will
	// not do: a webhook may be queued while someone waits.
	outbox  []rtmsWebhook
	sending bool
	pending int
	sent    *sync.Cond
}

type rtmsWebhook struct {
	event   string
	payload map[string]any
}

// RTMSSignature is what a worker must present for a meeting's or webinar's stream: the hex
// HMAC-SHA256, keyed with the RTMS app's secret, of "{client_id},{meeting_uuid},{rtms_stream_id}".
// The emulator computes it on its own, so a test catches a service that signs otherwise.
func (e *Emulator) RTMSSignature(meetingUUID, streamID string) string {
	return rtmsSignature(e.cfg.RTMS.ClientID, e.cfg.RTMS.ClientSecret, meetingUUID, streamID)
}

// RTMSSessionSignature is the same for a Video SDK session's stream, keyed with the Video SDK
// app's key and secret.
func (e *Emulator) RTMSSessionSignature(sessionID, streamID string) string {
	return rtmsSignature(e.cfg.RTMS.VideoSDKKey, e.cfg.RTMS.VideoSDKSecret, sessionID, streamID)
}

func rtmsSignature(clientID, clientSecret, id, streamID string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	fmt.Fprintf(mac, "%s,%s,%s", clientID, id, streamID)
	return hex.EncodeToString(mac.Sum(nil))
}

// signatureFor is the signature a stream's handshakes must carry.
func (e *Emulator) signatureFor(s *rtmsStream) string {
	if s.kind == RTMSSession {
		return e.RTMSSessionSignature(s.uuid, s.id)
	}
	return e.RTMSSignature(s.uuid, s.id)
}

// RTMSStats says how many handshakes the sockets accepted, how many they refused for a wrong
// signature, and how many keep-alive responses workers sent.
func (e *Emulator) RTMSStats() (accepted, refused, keepAlives int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rtms.handshakes, e.rtms.refusals[rtmsStatusInvalidSignature], e.rtms.keepAlives
}

// RTMSRefusals says how many handshakes were refused with a status_code.
func (e *Emulator) RTMSRefusals(statusCode int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rtms.refusals[statusCode]
}

// handleRTMSControl is PATCH /v2/live_meetings/{meetingId}/rtms_app/status: a host's user token
// (or an S2S token of the account) starts, stops, pauses or resumes the meeting's stream. Each
// answers 204; a start then sends meeting.rtms_started, a stop meeting.rtms_stopped.
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
	if body.Action == "start" {
		w.WriteHeader(http.StatusNoContent)
		e.StartRTMS(RTMSMeeting, strconv.FormatInt(id, 10), wsBase(r))
		return
	}
	s := e.activeRTMS(id)
	switch {
	case body.Action != "stop" && body.Action != "pause" && body.Action != "resume":
		writeZoomError(w, http.StatusBadRequest, 300, "Invalid action: "+body.Action)
	case s == nil:
		// Zoom's generic refusal of an RTMS app operation; for a stop, nothing is running.
		writeZoomError(w, http.StatusBadRequest, 2310, "Failed to perform RTMS app operation.")
	case body.Action == "stop":
		w.WriteHeader(http.StatusNoContent)
		e.stopRTMS(s, rtmsStopManualAPI)
	default:
		w.WriteHeader(http.StatusNoContent)
		e.pauseRTMS(s, body.Action == "pause")
	}
}

// wsBase is the WebSocket base URL of the request's host: wss:// when it came over TLS.
func wsBase(r *http.Request) string {
	if r.TLS != nil {
		return "wss://" + r.Host
	}
	return "ws://" + r.Host
}

func (e *Emulator) meetingExists(id int64) bool {
	for _, m := range e.cfg.Meetings {
		if m == id {
			return true
		}
	}
	return e.hostedByAnyone(id)
}

// StartRTMS starts a stream of kind (RTMSMeeting, RTMSWebinar or RTMSSession) for id (the
// meeting's or webinar's number, or the session's id), served at base ("ws://host" or
// "wss://host"; RTMS.SocketBase overrides it), and sends its rtms_started. A meeting or webinar with a running stream keeps it.
// It returns the stream's id.
func (e *Emulator) StartRTMS(kind, id, base string) string {
	if e.cfg.RTMS.SocketBase != "" {
		base = e.cfg.RTMS.SocketBase
	}
	e.mu.Lock()
	number, _ := strconv.ParseInt(id, 10, 64)
	if kind != RTMSSession {
		if s := e.runningRTMS(number); s != nil {
			e.mu.Unlock()
			return s.id
		}
	}
	s := &rtmsStream{id: randomHex(16), kind: kind, number: number, uuid: randomString(22) + "==", base: base,
		media: map[*rtmsSocket]bool{}, sent: map[int]int{}}
	if kind == RTMSSession {
		s.number, s.uuid = 0, id
	}
	e.rtms.streams[s.id] = s
	payload := e.rtmsPayload(s)
	payload["server_urls"] = s.signalingURL()
	e.mu.Unlock()
	e.sendRTMSWebhook(kind+".rtms_started", payload)
	return s.id
}

// activeRTMS returns the meeting's running stream, or nil.
func (e *Emulator) activeRTMS(meetingID int64) *rtmsStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runningRTMS(meetingID)
}

// runningRTMS is the meeting's (or webinar's) running stream, or nil; e.mu is held.
func (e *Emulator) runningRTMS(number int64) *rtmsStream {
	for _, s := range e.rtms.streams {
		if s.number == number && s.kind != RTMSSession && !s.stopped {
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

// stream returns a stream by id, or an error naming it.
func (e *Emulator) stream(streamID string) (*rtmsStream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.rtms.streams[streamID]
	if s == nil {
		return nil, fmt.Errorf("zoomemu: no RTMS stream %q", streamID)
	}
	return s, nil
}

// StopRTMS stops a stream for Zoom's stop reason (6: the meeting ended): msg 8 goes on its
// signaling socket, its sockets close, and rtms_stopped is sent with the reason.
func (e *Emulator) StopRTMS(streamID string, reason int) error {
	s, err := e.stream(streamID)
	if err == nil {
		e.stopRTMS(s, reason)
	}
	return err
}

func (e *Emulator) stopRTMS(s *rtmsStream, reason int) {
	e.mu.Lock()
	if s.stopped {
		e.mu.Unlock()
		return
	}
	s.stopped = true
	stopTimer(s.signalingTimer)
	stopTimer(s.mediaTimer)
	signaling, media := s.signaling, s.mediaSockets()
	payload := e.rtmsPayload(s)
	payload["stop_reason"] = reason
	e.mu.Unlock()
	if signaling != nil {
		// zoom/rtms reads "reason", rtms-samples' event sample "stop_reason": both are sent.
		signaling.write(map[string]any{"msg_type": rtmsStreamStateUpdate, "rtms_stream_id": s.id, "state": rtmsStreamStateTerminated,
			"reason": reason, "stop_reason": reason, "timestamp": e.cfg.Now().UnixMilli()})
		signaling.close("stream stopped")
	}
	for _, m := range media {
		m.close("stream stopped")
	}
	e.sendRTMSWebhook(s.kind+".rtms_stopped", payload)
}

// FailoverRTMS moves a stream to another server, as Zoom does when one fails: its sockets drop,
// the old server refuses it, and a new signed rtms_started names the new server_urls.
func (e *Emulator) FailoverRTMS(streamID string) error {
	s, err := e.stream(streamID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if s.stopped {
		e.mu.Unlock()
		return fmt.Errorf("zoomemu: RTMS stream %q has stopped", streamID)
	}
	s.server++
	stopTimer(s.signalingTimer)
	stopTimer(s.mediaTimer)
	sockets := s.mediaSockets()
	if s.signaling != nil {
		sockets = append(sockets, s.signaling)
	}
	s.signaling, s.ready, s.media = nil, false, map[*rtmsSocket]bool{}
	payload := e.rtmsPayload(s)
	payload["server_urls"] = s.signalingURL()
	e.mu.Unlock()
	for _, sock := range sockets {
		sock.drop(dropMoved)
	}
	e.sendRTMSWebhook(s.kind+".rtms_started", payload)
	return nil
}

// InterruptRTMS drops a stream's signaling socket (socket "signaling", the default) or its media
// sockets ("media") without a close frame, as a network failure does.
func (e *Emulator) InterruptRTMS(streamID, socket string) error {
	s, err := e.stream(streamID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	var sockets []*rtmsSocket
	switch socket {
	case "", "signaling":
		if s.signaling != nil {
			sockets = append(sockets, s.signaling)
		}
	case "media":
		sockets = s.mediaSockets()
	default:
		e.mu.Unlock()
		return fmt.Errorf("zoomemu: socket must be signaling or media, not %q", socket)
	}
	e.mu.Unlock()
	if len(sockets) == 0 {
		return fmt.Errorf("zoomemu: RTMS stream %q has no %s socket connected", streamID, socket)
	}
	for _, sock := range sockets {
		sock.drop(dropInterrupted)
	}
	return nil
}

// pauseRTMS pauses or resumes a stream's media, and says so on its signaling socket (msg 9).
func (e *Emulator) pauseRTMS(s *rtmsStream, pause bool) {
	e.mu.Lock()
	s.paused = pause
	signaling := s.signaling
	e.mu.Unlock()
	state := rtmsSessionStateResumed
	if pause {
		state = rtmsSessionStatePaused
	}
	if signaling != nil {
		signaling.write(map[string]any{"msg_type": rtmsSessionStateUpdate, "rtms_stream_id": s.id, "state": state,
			"stop_reason": 0, "timestamp": e.cfg.Now().UnixMilli()})
	}
}

// mediaSockets lists the stream's media sockets; e.mu is held.
func (s *rtmsStream) mediaSockets() []*rtmsSocket {
	list := make([]*rtmsSocket, 0, len(s.media))
	for m := range s.media {
		list = append(list, m)
	}
	return list
}

// rtmsPayload is the flat payload of the stream's webhooks, in its kind's names; e.mu is held.
func (e *Emulator) rtmsPayload(s *rtmsStream) map[string]any {
	payload := map[string]any{"rtms_stream_id": s.id, "account_id": "emu-account", "operator_id": "emu-operator"}
	switch s.kind {
	case RTMSSession:
		payload["session_id"] = s.uuid
	case RTMSWebinar:
		// A webinar's events name webinar_uuid and webinar_id.
		payload["webinar_uuid"], payload["webinar_id"], payload["is_original_host"] = s.uuid, s.number, true
	default:
		payload["meeting_uuid"], payload["meeting_id"], payload["is_original_host"] = s.uuid, s.number, true
	}
	return payload
}

// sendRTMSWebhook queues an RTMS event: they are sent one at a time, in order, in the background,
// as Zoom sends them after its answer.
func (e *Emulator) sendRTMSWebhook(event string, payload map[string]any) {
	if e.cfg.RTMS.WebhookURL == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rtms.pending++
	e.rtms.outbox = append(e.rtms.outbox, rtmsWebhook{event, payload})
	if !e.rtms.sending {
		e.rtms.sending = true
		go e.drainRTMSWebhooks()
	}
}

// drainRTMSWebhooks sends the queued webhooks until none is left.
func (e *Emulator) drainRTMSWebhooks() {
	for {
		e.mu.Lock()
		if len(e.rtms.outbox) == 0 {
			e.rtms.sending = false
			e.mu.Unlock()
			return
		}
		next := e.rtms.outbox[0]
		e.rtms.outbox = e.rtms.outbox[1:]
		e.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), rtmsWebhookTimeout)
		e.SendWebhook(ctx, e.cfg.RTMS.WebhookURL, next.event, next.payload)
		cancel()
		e.mu.Lock()
		e.rtms.pending--
		e.rtms.sent.Broadcast()
		e.mu.Unlock()
	}
}

// WaitWebhooks waits until no RTMS webhook is queued or in flight.
func (e *Emulator) WaitWebhooks() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.rtms.pending > 0 {
		e.rtms.sent.Wait()
	}
}

// rtmsConfig returns the RTMS settings with Zoom's defaults filled in.
func (e *Emulator) rtmsConfig() RTMS {
	c := *e.cfg.RTMS
	if c.KeepAlive <= 0 {
		c.KeepAlive = rtmsDefaultKeepAlive
	}
	if c.SignalingWindow <= 0 {
		c.SignalingWindow = rtmsDefaultSignalingWindow
	}
	if c.MediaWindow <= 0 {
		c.MediaWindow = rtmsDefaultMediaWindow
	}
	if c.Transcripts == nil {
		c.Transcripts = []string{"Hello, everyone.", "Let's begin with the roadmap.", "Thanks, that's all for today."}
	}
	return c
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
