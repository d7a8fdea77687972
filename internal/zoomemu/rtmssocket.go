package zoomemu

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// How a socket was dropped by the emulator, which decides what its end causes.
const (
	dropNone        = iota
	dropInterrupted // a network failure: the stream is interrupted
	dropMoved       // the stream moved (failover) or its signaling went: nothing more
	dropKeepAlive   // three keep-alives went unanswered
)

// rtmsSocket is one worker's signaling or media socket.
type rtmsSocket struct {
	conn      *websocket.Conn
	signaling bool
	// kinds is the media_type bits a media socket carries.
	kinds int

	mu       sync.Mutex
	dropped  int
	answered chan struct{} // a keep-alive response came
	ended    chan struct{} // the reader stopped: the socket is gone
}

// write sends a message; a socket that is gone is not an error here (its end is handled once).
func (sock *rtmsSocket) write(msg map[string]any) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return wsjson.Write(ctx, sock.conn, msg) == nil
}

// close ends the socket with a normal close frame, as a stream's stop does.
func (sock *rtmsSocket) close(reason string) {
	sock.setDropped(dropMoved)
	go sock.conn.Close(websocket.StatusNormalClosure, reason)
}

// drop ends the socket without a close frame, as a failing network or server does.
func (sock *rtmsSocket) drop(why int) {
	sock.setDropped(why)
	sock.conn.CloseNow()
}

func (sock *rtmsSocket) setDropped(why int) {
	sock.mu.Lock()
	defer sock.mu.Unlock()
	if sock.dropped == dropNone {
		sock.dropped = why
	}
}

func (sock *rtmsSocket) why() int {
	sock.mu.Lock()
	defer sock.mu.Unlock()
	return sock.dropped
}

// rtmsHandshake is what a worker sends first on either socket. A session's worker may name its
// session_id where a meeting's names meeting_uuid.
type rtmsHandshake struct {
	MsgType      int    `json:"msg_type"`
	MeetingUUID  string `json:"meeting_uuid"`
	SessionID    string `json:"session_id"`
	RTMSStreamID string `json:"rtms_stream_id"`
	Signature    string `json:"signature"`
	MediaType    int    `json:"media_type"`
}

// rtmsMessage is any later message from a worker, as far as the emulator reads it.
type rtmsMessage struct {
	MsgType int `json:"msg_type"`
	Events  []struct {
		EventType int  `json:"event_type"`
		Subscribe bool `json:"subscribe"`
	} `json:"events"`
}

// handleRTMSSignaling is GET /rtms/{server}/signaling: the signaling handshake, whose answer names
// the media URLs; then keep-alives, CLIENT_READY_ACK, event subscriptions, and the stream's state.
func (e *Emulator) handleRTMSSignaling(w http.ResponseWriter, r *http.Request) {
	sock, s := e.acceptRTMS(w, r, rtmsSignalingHandshake, rtmsSignalingHandshakeResponse, "")
	if sock == nil {
		return
	}
	e.mu.Lock()
	urls := s.mediaURLs()
	e.mu.Unlock()
	sock.write(map[string]any{"msg_type": rtmsSignalingHandshakeResponse, "protocol_version": 1, "status_code": 0,
		"media_server": map[string]any{"server_urls": urls}})
	e.serveRTMSSocket(sock, s)
}

// handleRTMSMedia is GET /rtms/{server}/media[/{kind}]: the media handshake, then the kinds asked
// for (on a kind's own URL, that kind only) once the worker said CLIENT_READY_ACK on signaling.
func (e *Emulator) handleRTMSMedia(w http.ResponseWriter, r *http.Request) {
	sock, s := e.acceptRTMS(w, r, rtmsMediaHandshake, rtmsMediaHandshakeResponse, r.PathValue("kind"))
	if sock == nil {
		return
	}
	sock.write(map[string]any{"msg_type": rtmsMediaHandshakeResponse, "protocol_version": 1, "status_code": 0,
		"media_type": sock.kinds, "payload_encryption": false, "media_params": map[string]any{}})
	e.serveRTMSSocket(sock, s)
}

// acceptRTMS upgrades the request, reads the handshake of type want and checks it as Zoom does:
// a stream this server serves, its id, its signature, and one signaling connection. A refusal
// answers a non-zero status_code and closes (code 1000, as Zoom's troubleshooting page has it).
func (e *Emulator) acceptRTMS(w http.ResponseWriter, r *http.Request, want, answer int, kind string) (*rtmsSocket, *rtmsStream) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), rtmsHandshakeTimeout)
	defer cancel()
	var hs rtmsHandshake
	if err := wsjson.Read(ctx, c, &hs); err != nil || hs.MsgType != want {
		c.Close(websocket.StatusProtocolError, "expected a handshake")
		return nil, nil
	}
	id := hs.MeetingUUID
	if id == "" {
		id = hs.SessionID
	}
	sock := &rtmsSocket{conn: c, signaling: want == rtmsSignalingHandshake, answered: make(chan struct{}, 1), ended: make(chan struct{})}

	e.mu.Lock()
	s := e.rtms.streams[hs.RTMSStreamID]
	status := 0
	switch {
	case e.cfg.RTMS == nil || s == nil || s.stopped || r.PathValue("server") != s.serverName():
		status = rtmsStatusInvalidStreamID // this server does not serve the stream (any more)
	case s.uuid != id || !hmac.Equal([]byte(hs.Signature), []byte(e.signatureFor(s))):
		status = rtmsStatusInvalidSignature
	case sock.signaling && s.signaling != nil:
		status = rtmsStatusDuplicateSignal
	case sock.signaling:
		s.signaling, s.ready = sock, false
		stopTimer(s.signalingTimer)
	default:
		sock.kinds = mediaKinds(hs.MediaType, kind)
		s.media[sock] = true
		stopTimer(s.mediaTimer)
	}
	if status == 0 {
		e.rtms.handshakes++
	} else {
		if e.rtms.refusals == nil {
			e.rtms.refusals = map[int]int{}
		}
		e.rtms.refusals[status]++
	}
	e.mu.Unlock()
	if status != 0 {
		wsjson.Write(ctx, c, map[string]any{"msg_type": answer, "protocol_version": 1, "status_code": status})
		c.Close(websocket.StatusNormalClosure, "handshake refused")
		return nil, nil
	}
	return sock, s
}

// mediaKinds is what a media socket carries: the kinds asked for (32: every kind), and on a
// kind's own URL only that kind.
func mediaKinds(asked int, urlKind string) int {
	if asked&rtmsMediaAll != 0 {
		asked = rtmsEveryKind
	}
	asked &= rtmsEveryKind
	if urlKind == "" {
		return asked
	}
	for _, k := range rtmsMediaKinds {
		if k.name == urlKind {
			return asked & k.bit
		}
	}
	return 0
}

// serveRTMSSocket reads the worker's messages and, until the socket ends, sends keep-alive
// requests when it is idle (a media socket is busy while it has media to send) and ends it after
// three unanswered. Its end is then handled once.
func (e *Emulator) serveRTMSSocket(sock *rtmsSocket, s *rtmsStream) {
	cfg := e.rtmsConfig()
	go e.readRTMS(sock, s)
	tick := time.NewTicker(cfg.KeepAlive)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-sock.ended:
			e.rtmsSocketEnded(sock, s, cfg)
			return
		case <-e.closed:
			sock.close("emulator closed")
			<-sock.ended
			return
		case <-sock.answered:
			missed = 0
		case <-tick.C:
			if !sock.signaling && e.sendMedia(sock, s, cfg) {
				continue
			}
			if missed == rtmsMissedKeepAlives {
				sock.setDropped(dropKeepAlive)
				go sock.conn.Close(websocket.StatusPolicyViolation, "keep-alive timeout")
				tick.Stop() // the socket is closing: nothing more to send
				continue
			}
			missed++
			sock.write(map[string]any{"msg_type": rtmsKeepAliveRequest, "timestamp": e.cfg.Now().UnixMilli()})
		}
	}
}

// readRTMS reads a socket until it ends: keep-alive responses, CLIENT_READY_ACK and event
// subscriptions.
func (e *Emulator) readRTMS(sock *rtmsSocket, s *rtmsStream) {
	defer close(sock.ended)
	for {
		var msg rtmsMessage
		if err := wsjson.Read(context.Background(), sock.conn, &msg); err != nil {
			return
		}
		switch msg.MsgType {
		case rtmsKeepAliveResponse:
			e.mu.Lock()
			e.rtms.keepAlives++
			e.mu.Unlock()
			select {
			case sock.answered <- struct{}{}:
			default:
			}
		case rtmsClientReadyAck:
			e.mu.Lock()
			if sock.signaling && s.signaling == sock {
				s.ready = true
			}
			e.mu.Unlock()
		case rtmsEventSubscription:
			for _, ev := range msg.Events {
				if ev.Subscribe && ev.EventType == rtmsEventParticipantJoin && sock.signaling {
					// The meeting's participants so far, as joins.
					sock.write(map[string]any{"msg_type": rtmsEventUpdate, "event": map[string]any{"event_type": rtmsEventParticipantJoin,
						"participants": []map[string]any{{"user_id": 16778240, "user_name": "Alice"}}, "timestamp": e.cfg.Now().UnixMilli()}})
				}
			}
		}
	}
}

// sendMedia sends a media socket the next message of each kind it carries, once the stream is
// ready and not paused, and reports whether it sent any.
func (e *Emulator) sendMedia(sock *rtmsSocket, s *rtmsStream, cfg RTMS) bool {
	e.mu.Lock()
	if !s.ready || s.paused || s.stopped || !s.media[sock] {
		e.mu.Unlock()
		return false
	}
	var due []map[string]any
	now := e.cfg.Now().UnixMilli()
	for _, k := range rtmsMediaKinds {
		n := s.sent[k.msgType]
		if sock.kinds&k.bit == 0 || n >= len(cfg.Transcripts) {
			continue
		}
		s.sent[k.msgType] = n + 1
		due = append(due, map[string]any{"msg_type": k.msgType, "content": mediaContent(k.name, cfg.Transcripts[n], n, now)})
	}
	e.mu.Unlock()
	for _, msg := range due {
		sock.write(msg)
	}
	return len(due) > 0
}

// mediaContent is a synthetic message of a media kind, in Zoom's shape: who, the data (base64
// for audio and pictures, text for transcripts and chat), and when.
func mediaContent(kind, line string, n int, now int64) map[string]any {
	content := map[string]any{"user_id": 16778240, "user_name": "Alice", "timestamp": now}
	switch kind {
	case "audio":
		content["data"] = base64.StdEncoding.EncodeToString(make([]byte, 320)) // 10 ms of 16 kHz L16 silence
	case "video", "deskshare":
		content["data"] = base64.StdEncoding.EncodeToString([]byte{0xff, 0xd8, 0xff, 0xd9}) // an empty JPEG
	case "transcript":
		content["data"], content["start_time"], content["end_time"] = line, now-1000, now
	case "chat":
		content["data"] = "chat message " + string(rune('1'+n))
	}
	return content
}

// rtmsSocketEnded handles a socket's end that the stream's stop or move did not cause. A lost
// signaling socket interrupts the stream (its media sockets go with it, and *.rtms_interrupted
// is sent); a lost media socket is reported on signaling as MEDIA_CONNECTION_INTERRUPTED. Either
// way the stream stops if the connection is not back within its window.
func (e *Emulator) rtmsSocketEnded(sock *rtmsSocket, s *rtmsStream, cfg RTMS) {
	why := sock.why()
	reason := rtmsStopAwaitReconnection
	if why == dropKeepAlive {
		reason = rtmsStopKeepAliveTimeout
	}
	e.mu.Lock()
	if s.stopped || why == dropMoved {
		delete(s.media, sock)
		e.mu.Unlock()
		return
	}
	if !sock.signaling {
		if !s.media[sock] {
			e.mu.Unlock()
			return
		}
		delete(s.media, sock)
		signaling := s.signaling
		s.lostBy = reason
		if len(s.media) == 0 {
			stopTimer(s.mediaTimer)
			s.mediaTimer = time.AfterFunc(cfg.MediaWindow, func() { e.rtmsWindowPassed(s, false) })
		}
		e.mu.Unlock()
		if signaling != nil {
			signaling.write(map[string]any{"msg_type": rtmsEventUpdate, "event": map[string]any{
				"event_type": rtmsEventMediaInterrupted, "timestamp": e.cfg.Now().UnixMilli()}})
		}
		return
	}
	if s.signaling != sock {
		e.mu.Unlock()
		return
	}
	media := s.mediaSockets()
	s.signaling, s.ready, s.lostBy = nil, false, reason
	s.media = map[*rtmsSocket]bool{}
	stopTimer(s.mediaTimer)
	stopTimer(s.signalingTimer)
	s.signalingTimer = time.AfterFunc(cfg.SignalingWindow, func() { e.rtmsWindowPassed(s, true) })
	payload := e.rtmsPayload(s)
	e.mu.Unlock()
	for _, m := range media {
		m.drop(dropMoved)
	}
	e.sendRTMSWebhook(s.kind+".rtms_interrupted", payload)
}

// rtmsWindowPassed stops a stream whose lost connection did not come back in time.
func (e *Emulator) rtmsWindowPassed(s *rtmsStream, signaling bool) {
	e.mu.Lock()
	back := signaling && s.signaling != nil || !signaling && len(s.media) > 0
	reason := s.lostBy
	e.mu.Unlock()
	if !back {
		e.stopRTMS(s, reason)
	}
}
