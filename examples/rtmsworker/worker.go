package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Stream is what zoomtoken's GET /rtms/stream answers (and each rtms.* event's data holds):
// everything join() needs, the signature included, and how long a lost connection may take to
// come back.
type Stream struct {
	MeetingUUID  string `json:"meeting_uuid"`
	SessionID    string `json:"session_id"`
	RTMSStreamID string `json:"rtms_stream_id"`
	ServerURLs   string `json:"server_urls"`
	Signature    string `json:"signature"`
	State        string `json:"state"`
	MeetingID    string `json:"meeting_id"`
	Region       string `json:"region"`
	Reconnect    struct {
		SignalingSeconds int `json:"signaling_seconds"`
		MediaSeconds     int `json:"media_seconds"`
	} `json:"reconnect"`
}

// Ended is how a stream ended: Zoom's stop reason, whether the stream may be restarted through
// the API (POST /admin/rtms/start), and why in words.
type Ended struct {
	StopReason  int
	Restartable bool
	Why         string
}

// Media is one media message: its kind ("audio", "video", "deskshare", "transcript", "chat"),
// who, and the data (text for transcripts and chat, base64 otherwise).
type Media struct {
	Kind, UserName, Data string
}

// The media kinds, their media_type bit, and the msg_type their data arrives as.
var mediaKinds = []struct {
	bit     int
	name    string
	msgType int
}{{1, "audio", 14}, {2, "video", 15}, {4, "deskshare", 16}, {8, "transcript", 17}, {16, "chat", 18}}

// The RTMS message types this worker speaks (zoom/rtms src/rtms.h).
const (
	msgSignalingHandshake = 1
	msgSignalingAnswer    = 2
	msgMediaHandshake     = 3
	msgMediaAnswer        = 4
	msgEventUpdate        = 6
	msgClientReady        = 7
	msgStreamState        = 8
	msgSessionState       = 9
	msgKeepAliveRequest   = 12
	msgKeepAliveResponse  = 13
	streamTerminated      = 4 // STREAM_STATE
	eventMediaInterrupted = 7 // EVENT_TYPE
)

// Worker joins one stream and keeps it: a media socket per kind asked for, keep-alives answered,
// and after a lost connection or a move (failover) it comes back within Zoom's windows, asking
// zoomtoken for the stream again. It holds no Client Secret, and never prints its caller secret
// or the stream's signature.
type Worker struct {
	// Service is zoomtoken's base URL; Secret one of its CALLBACK_SECRETS.
	Service, Secret string
	StreamID        string
	// Kinds is the media_type bitmask asked for (1 audio, 2 video, 4 deskshare, 8 transcript,
	// 16 chat); default transcript.
	Kinds int
	// Backoff is the first wait before a reconnect, doubled after each failed try up to ten
	// times itself: Zoom's failover pages wait 3 s, then 6, 12, 24, 30.
	Backoff time.Duration
	// SignalingWindow and MediaWindow bound a reconnect; zero: what zoomtoken's stream says
	// (Zoom's 60 s and 30 s).
	SignalingWindow, MediaWindow time.Duration
	HTTP                         *http.Client
	// OnMedia gets every media message; Logf every change of state.
	OnMedia func(Media)
	Logf    func(format string, args ...any)
}

// errStopped carries a stream's end out of the code that found it.
type errStopped struct{ Ended }

func (e *errStopped) Error() string { return "the stream stopped: " + e.Why }

// Run joins the stream and keeps it until it ends (the Ended it returns), ctx ends, or it cannot
// be kept: a lost connection not back within its window, or a refusal no retry can cure.
func (w *Worker) Run(ctx context.Context) (Ended, error) {
	w.defaults()
	var deadline time.Time // while reconnecting: when to give up
	attempt := 0
	var s Stream
	for {
		if !deadline.IsZero() {
			if !w.wait(ctx, attempt, deadline) {
				if ctx.Err() != nil {
					return Ended{}, ctx.Err()
				}
				return Ended{}, fmt.Errorf("the signaling connection did not come back within %s", w.signalingWindow(s))
			}
			attempt++
		}
		next, err := w.Fetch(ctx)
		var stopped *errStopped
		switch {
		case errors.As(err, &stopped):
			return stopped.Ended, nil
		case ctx.Err() != nil:
			return Ended{}, ctx.Err()
		case err != nil && deadline.IsZero() && s.RTMSStreamID == "":
			return Ended{}, err // never joined: nothing to keep
		case err != nil:
			w.Logf("zoomtoken: %v; trying again", err)
			if deadline.IsZero() {
				deadline = time.Now().Add(w.signalingWindow(s))
			}
			continue
		}
		if s.ServerURLs != "" && next.ServerURLs != s.ServerURLs {
			w.Logf("the stream moved to %s", next.ServerURLs)
		}
		s = next
		ended, err := w.session(ctx, s, func() { deadline, attempt = time.Time{}, 0 })
		var fatal *fatalError
		switch {
		case ended != nil:
			return *ended, nil
		case ctx.Err() != nil:
			return Ended{}, ctx.Err()
		case errors.As(err, &fatal):
			return Ended{}, fatal.err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(w.signalingWindow(s))
			w.Logf("signaling lost (%v); reconnecting within %s", err, w.signalingWindow(s))
		} else {
			w.Logf("reconnect failed: %v", err)
		}
	}
}

// fatalError is a failure no reconnect can cure.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

func (w *Worker) defaults() {
	if w.Kinds == 0 {
		w.Kinds = 8
	}
	if w.Backoff <= 0 {
		w.Backoff = 3 * time.Second
	}
	if w.HTTP == nil {
		w.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if w.OnMedia == nil {
		w.OnMedia = func(Media) {}
	}
	if w.Logf == nil {
		w.Logf = func(string, ...any) {}
	}
}

func (w *Worker) signalingWindow(s Stream) time.Duration {
	return window(w.SignalingWindow, s.Reconnect.SignalingSeconds, 60)
}

func (w *Worker) mediaWindow(s Stream) time.Duration {
	return window(w.MediaWindow, s.Reconnect.MediaSeconds, 30)
}

func window(set time.Duration, seconds, zoom int) time.Duration {
	switch {
	case set > 0:
		return set
	case seconds > 0:
		return time.Duration(seconds) * time.Second
	}
	return time.Duration(zoom) * time.Second
}

// wait sleeps the attempt's backoff, and reports false if the deadline (or ctx) comes first.
func (w *Worker) wait(ctx context.Context, attempt int, deadline time.Time) bool {
	d := min(w.Backoff<<min(attempt, 10), 10*w.Backoff)
	if time.Now().Add(d).After(deadline) {
		d = time.Until(deadline)
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	return time.Now().Before(deadline)
}

// Fetch asks zoomtoken for the stream, as a worker does when its dispatcher hands it only a
// stream id and again after losing it (a move changes its server_urls). A stopped stream is an
// *errStopped. No error names the caller secret.
func (w *Worker) Fetch(ctx context.Context) (Stream, error) {
	w.defaults()
	target := w.Service + "/rtms/stream?" + url.Values{"secret": {w.Secret}, "rtms_stream_id": {w.StreamID}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return Stream{}, fmt.Errorf("asking %s: %w", withoutQuery(target), errors.Unwrap(err))
	}
	resp, err := w.HTTP.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message quotes the URL, secret included
		}
		return Stream{}, fmt.Errorf("asking %s: %w", withoutQuery(target), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		var s Stream
		return s, json.Unmarshal(body, &s)
	case http.StatusGone:
		var gone struct {
			StopReason  int    `json:"stop_reason"`
			Restartable bool   `json:"restartable"`
			Error       string `json:"error"`
		}
		json.Unmarshal(body, &gone)
		return Stream{}, &errStopped{Ended{gone.StopReason, gone.Restartable, gone.Error}}
	}
	return Stream{}, fmt.Errorf("%s answered %d: %s", withoutQuery(target), resp.StatusCode, body)
}

// withoutQuery is a URL fit for a message: no query, so no secret.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "zoomtoken"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// message is any RTMS message, as far as this worker reads it.
type message struct {
	MsgType     int   `json:"msg_type"`
	StatusCode  int   `json:"status_code"`
	Timestamp   int64 `json:"timestamp"`
	State       int   `json:"state"`
	Reason      *int  `json:"reason"`
	StopReason  *int  `json:"stop_reason"`
	MediaServer struct {
		ServerURLs map[string]string `json:"server_urls"`
	} `json:"media_server"`
	Event struct {
		EventType int `json:"event_type"`
	} `json:"event"`
	Content struct {
		UserName string `json:"user_name"`
		Data     string `json:"data"`
	} `json:"content"`
}

// Zoom's status codes for a refused handshake, in the current numbering and the older one
// (rtms-samples before 2026); a worker treats both alike.
var (
	statusInvalidSignature = map[int]bool{3: true, 15: true}
	statusNames            = map[int]string{2: "invalid stream id", 13: "invalid stream id", 3: "invalid signature",
		15: "invalid signature", 8: "another worker holds the stream's signaling connection",
		17: "another worker holds the stream's signaling connection"}
)

// refused says why a handshake was refused; an invalid signature is fatal (the same signature
// fails again).
func refused(socket string, code int) error {
	err := fmt.Errorf("%s handshake refused: status_code %d (%s)", socket, code, statusNames[code])
	if statusInvalidSignature[code] {
		return &fatalError{err}
	}
	return err
}

// session joins the stream's signaling socket and a media socket per kind, and serves them until
// the stream stops (the Ended), the signaling socket is lost (an error to reconnect from) or a
// media socket does not come back within its window (a fatalError). connected is called once
// the signaling handshake succeeded.
func (w *Worker) session(ctx context.Context, s Stream, connected func()) (*Ended, error) {
	id := s.MeetingUUID
	if id == "" {
		id = s.SessionID
	}
	signaling, err := dial(ctx, s.ServerURLs, map[string]any{"msg_type": msgSignalingHandshake, "protocol_version": 1,
		"meeting_uuid": id, "rtms_stream_id": s.RTMSStreamID, "sequence": time.Now().UnixNano() % 1e9, "signature": s.Signature})
	if err != nil {
		return nil, fmt.Errorf("signaling: %w", err)
	}
	defer signaling.conn.CloseNow()
	if signaling.answer.MsgType != msgSignalingAnswer || signaling.answer.StatusCode != 0 {
		return nil, refused("signaling", signaling.answer.StatusCode)
	}
	connected()
	w.Logf("joined stream %s at %s", s.RTMSStreamID, s.ServerURLs)

	sctx, cancel := context.WithCancel(ctx)
	var mediaFailed error
	var once sync.Once
	var media sync.WaitGroup
	defer func() { cancel(); media.Wait() }()
	for _, k := range mediaKinds {
		if w.Kinds&k.bit == 0 {
			continue
		}
		url := signaling.answer.MediaServer.ServerURLs[k.name]
		if url == "" {
			return nil, &fatalError{fmt.Errorf("the signaling answer names no %s media URL", k.name)}
		}
		media.Add(1)
		go func() {
			defer media.Done()
			if err := w.keepMedia(sctx, s, id, k.name, k.bit, url, signaling.conn); err != nil {
				once.Do(func() { mediaFailed = err; cancel() })
			}
		}()
	}
	for {
		var msg message
		if err := wsjson.Read(sctx, signaling.conn, &msg); err != nil {
			cancel()
			media.Wait()
			if mediaFailed != nil {
				return nil, &fatalError{mediaFailed}
			}
			return nil, err
		}
		switch msg.MsgType {
		case msgKeepAliveRequest:
			wsjson.Write(sctx, signaling.conn, map[string]any{"msg_type": msgKeepAliveResponse, "timestamp": msg.Timestamp})
		case msgStreamState:
			if msg.State == streamTerminated {
				return ended(msg), nil
			}
		case msgSessionState:
			w.Logf("the stream's session state is now %d (3 paused, 4 resumed)", msg.State)
		case msgEventUpdate:
			if msg.Event.EventType == eventMediaInterrupted {
				w.Logf("Zoom reports a media connection interrupted")
			}
		}
	}
}

// ended reads a STREAM_STATE_UPDATE's reason: zoom/rtms names it reason, rtms-samples' event
// sample stop_reason.
func ended(msg message) *Ended {
	reason := 0
	switch {
	case msg.Reason != nil:
		reason = *msg.Reason
	case msg.StopReason != nil:
		reason = *msg.StopReason
	}
	return &Ended{StopReason: reason, Restartable: reason >= 10 && reason <= 19 || reason == 24, Why: stopReasonText(reason)}
}

// keepMedia keeps one kind's media socket: after a loss it comes back within the media window,
// and it returns an error only when it could not.
func (w *Worker) keepMedia(ctx context.Context, s Stream, id, kind string, bit int, url string, signaling *websocket.Conn) error {
	var deadline time.Time
	attempt := 0
	for {
		err := w.serveMedia(ctx, s, id, kind, bit, url, signaling, func() { deadline, attempt = time.Time{}, 0 })
		var fatal *fatalError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &fatal):
			return fatal.err
		case deadline.IsZero():
			deadline = time.Now().Add(w.mediaWindow(s))
			w.Logf("%s media lost (%v); reconnecting within %s", kind, err, w.mediaWindow(s))
		}
		if !w.wait(ctx, attempt, deadline) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the %s media connection did not come back within %s", kind, w.mediaWindow(s))
		}
		attempt++
	}
}

// serveMedia joins one media socket, says CLIENT_READY_ACK on signaling (as Zoom's samples do
// after each media handshake), and reads media until the socket ends.
func (w *Worker) serveMedia(ctx context.Context, s Stream, id, kind string, bit int, url string, signaling *websocket.Conn, connected func()) error {
	m, err := dial(ctx, url, map[string]any{"msg_type": msgMediaHandshake, "protocol_version": 1, "meeting_uuid": id,
		"rtms_stream_id": s.RTMSStreamID, "signature": s.Signature, "media_type": bit, "payload_encryption": false,
		"media_params": map[string]any{}})
	if err != nil {
		return err
	}
	defer m.conn.CloseNow()
	if m.answer.MsgType != msgMediaAnswer || m.answer.StatusCode != 0 {
		return refused(kind+" media", m.answer.StatusCode)
	}
	connected()
	if err := wsjson.Write(ctx, signaling, map[string]any{"msg_type": msgClientReady, "rtms_stream_id": s.RTMSStreamID}); err != nil {
		return err
	}
	for {
		var msg message
		if err := wsjson.Read(ctx, m.conn, &msg); err != nil {
			return err
		}
		if msg.MsgType == msgKeepAliveRequest {
			wsjson.Write(ctx, m.conn, map[string]any{"msg_type": msgKeepAliveResponse, "timestamp": msg.Timestamp})
			continue
		}
		for _, k := range mediaKinds {
			if msg.MsgType == k.msgType {
				w.OnMedia(Media{Kind: k.name, UserName: msg.Content.UserName, Data: msg.Content.Data})
			}
		}
	}
}

// socket is a joined socket and its handshake's answer.
type socket struct {
	conn   *websocket.Conn
	answer message
}

// dial opens a socket and sends its handshake; the answer is read within 10 s.
func dial(ctx context.Context, url string, handshake map[string]any) (socket, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return socket{}, err
	}
	c.SetReadLimit(1 << 20) // a video frame is larger than the default 32 KiB
	if err := wsjson.Write(ctx, c, handshake); err != nil {
		c.CloseNow()
		return socket{}, err
	}
	var answer message
	if err := wsjson.Read(ctx, c, &answer); err != nil {
		c.CloseNow()
		return socket{}, fmt.Errorf("handshake: %w", err)
	}
	return socket{c, answer}, nil
}

// stopReasonText is Zoom's STOP_REASON in words, for the worker's last line. It is the worker's
// own (internal/rtms has the full table): the example is meant to be copied out of this module,
// where internal packages cannot be imported.
func stopReasonText(reason int) string {
	words := map[int]string{1: "the host stopped it", 2: "a participant stopped it", 3: "the user who started it left",
		5: "the host turned the app off", 6: "the meeting ended", 8: "the stream was revoked", 10: "an internal error at Zoom",
		13: "the signaling connection was interrupted", 14: "the media connection was interrupted", 18: "authentication failed",
		19: "no worker reconnected in time", 23: "an admin turned the app off", 24: "keep-alives went unanswered",
		25: "it was stopped through the API"}
	if w, ok := words[reason]; ok {
		return fmt.Sprintf("%s (stop_reason %d)", w, reason)
	}
	return fmt.Sprintf("stop_reason %d", reason)
}
