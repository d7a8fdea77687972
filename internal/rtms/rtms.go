// Package rtms is the domain of Zoom's Realtime Media Streams: the streams that verified
// webhooks announce, the events their changes cause, and what a worker needs to join one, so
// that no worker holds the app's Client Secret. It knows no SQL, no HTTP and no Zoom client: the
// store and the signing recipe are handed to it.
package rtms

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// Kind is what a stream comes from, as the webhook's prefix says.
type Kind string

// The kinds of stream.
const (
	KindMeeting Kind = "meeting"
	KindWebinar Kind = "webinar"
	KindSession Kind = "session" // a Video SDK session
)

// State is where a stream stands.
type State string

// The states of a stream; stopped is final.
const (
	StateStarted     State = "started"
	StateInterrupted State = "interrupted"
	StateStopped     State = "stopped"
)

// The events a stream's changes cause, delivered through the outbox.
const (
	EventStarted     = "rtms.started"
	EventInterrupted = "rtms.interrupted"
	EventStopped     = "rtms.stopped"
	// EventMoved: Zoom moved a live stream to another server (failover); its data names the new
	// server_urls, and workers reconnect there with the same signature.
	EventMoved = "rtms.moved"
)

// The reconnect windows a worker has, in seconds, after a lost signaling or media connection
// (RTMS.md): Zoom's reconnection sample waits 30 s for media, zoom/skills 65 s; 30 is the safe one.
const (
	SignalingWindowSeconds = 60
	MediaWindowSeconds     = 30
)

// ErrNotFound: no verified webhook announced the stream.
var ErrNotFound = errors.New("no such RTMS stream")

// ErrStopped: the stream has stopped; a worker must not reconnect. Join returns it as a
// *StoppedError, which says why.
var ErrStopped = errors.New("the RTMS stream has stopped")

// ErrUnsigned: the stream is a Video SDK session, and no Video SDK app's credentials are
// configured to sign it.
var ErrUnsigned = errors.New("Video SDK session streams are signed with the Video SDK app's credentials, and none are configured")

// Stream is one Realtime Media Stream.
type Stream struct {
	// ID is Zoom's rtms_stream_id.
	ID   string
	Kind Kind
	// MeetingUUID is the meeting's uuid, or for a session the session id.
	MeetingUUID string
	// MeetingID is the numeric meeting id, when the webhook gave it.
	MeetingID int64
	// ServerURLs is the signaling URL the worker connects to.
	ServerURLs string
	AccountID  string
	State      State
	// StopReason is Zoom's stop_reason of a stopped stream (0 when Zoom gave none).
	StopReason int
	// StartedAt is when the stream was first announced; UpdatedAt when its last event came.
	StartedAt, UpdatedAt time.Time
}

// Change is what one webhook says of a stream.
type Change struct {
	Kind  Kind
	State State
	// Stream holds the webhook's fields; ServerURLs is empty in stop events.
	Stream Stream
}

// UpdateFunc decides, under the stream's lock, what to write: the stream as it is to be stored,
// and whether anything changed (nothing is written otherwise). found says the stream was stored
// before.
type UpdateFunc func(current Stream, found bool) (next Stream, changed bool)

// Store keeps streams. Implementations are safe for concurrent use, also by several processes
// sharing one database.
type Store interface {
	// UpdateStream runs fn while holding the stream's lock (across every process sharing the
	// database) and, when fn says it changed, writes the stream and records event(next) in the
	// outbox in the same transaction (none when event returns a zero Event). It returns the stream as stored afterwards and whether it
	// changed.
	UpdateStream(ctx context.Context, id string, fn UpdateFunc, event func(Stream) (outbox.Event, error)) (Stream, bool, error)
	// Stream returns the stream with this id, or ErrNotFound.
	Stream(ctx context.Context, id string) (Stream, error)
	// Streams lists the streams of a meeting (all of them when meetingID is 0), the most
	// recently started first, at most limit.
	Streams(ctx context.Context, meetingID int64, limit int) ([]Stream, error)
	// DeleteStreams deletes the streams whose last event came before t, and says how many.
	DeleteStreams(ctx context.Context, t time.Time) (int, error)
}

// apply is the state machine. It returns the stream as it is to be stored, the event the change
// causes ("" for none), and whether anything changed:
//   - a repeat changes nothing, and stopped is final;
//   - a start for a stream already started or interrupted, naming another server, is Zoom moving
//     it (failover): the new server_urls and rtms.moved, never a second rtms.started;
//   - a start for an interrupted stream on the same server is the stream back: started again,
//     with no event (the worker reconnected on its own; its dispatcher has nothing to do);
//   - a stream first heard of by an interruption or a stop is recorded as it is then.
func apply(cur Stream, found bool, c Change, now time.Time) (Stream, string, bool) {
	event := eventTypes[c.State]
	switch {
	case !found:
		cur = c.Stream
		cur.Kind, cur.StartedAt = c.Kind, now
	case cur.State == StateStopped:
		return cur, "", false
	case c.State == StateStarted && c.Stream.ServerURLs != "" && c.Stream.ServerURLs != cur.ServerURLs:
		event = EventMoved
	case cur.State == c.State:
		return cur, "", false
	case c.State == StateStarted:
		event = ""
	}
	if c.Stream.ServerURLs != "" {
		cur.ServerURLs = c.Stream.ServerURLs
	}
	if cur.MeetingID == 0 {
		cur.MeetingID = c.Stream.MeetingID
	}
	if cur.AccountID == "" {
		cur.AccountID = c.Stream.AccountID
	}
	if c.State == StateStopped {
		cur.StopReason = c.Stream.StopReason
	}
	cur.State, cur.UpdatedAt = c.State, now
	return cur, event, true
}

// Join is what a worker's join() takes (zoom/rtms's SDKs read these names), and what each
// rtms.* event's data holds. For a session, SessionID stands where MeetingUUID does.
type Join struct {
	MeetingUUID  string `json:"meeting_uuid,omitempty"`
	SessionID    string `json:"session_id,omitempty"`
	RTMSStreamID string `json:"rtms_stream_id"`
	ServerURLs   string `json:"server_urls"`
	Signature    string `json:"signature,omitempty"`
	State        State  `json:"state"`
	// MeetingID is the numeric meeting (or webinar) id, as POST /admin/rtms/stop takes it.
	MeetingID string `json:"meeting_id,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	// Region is the data centre the signaling host names ("sjc1"), for a dispatcher to place
	// the worker near it.
	Region    string    `json:"region,omitempty"`
	Reconnect Reconnect `json:"reconnect"`
	StartedAt time.Time `json:"started_at"`
	// StopReason and Restartable are set once the stream stopped.
	StopReason  *int  `json:"stop_reason,omitempty"`
	Restartable *bool `json:"restartable,omitempty"`
}

// Reconnect is how long a worker may take to come back after losing a connection.
type Reconnect struct {
	SignalingSeconds int `json:"signaling_seconds"`
	MediaSeconds     int `json:"media_seconds"`
}

// Unsigned is the stream as GET /rtms/stream answers it, without its signature: what an operator
// may see.
func (s Stream) Unsigned() Join { return s.join("") }

// join is the stream as GET /rtms/stream answers it, signed with signature.
func (s Stream) join(signature string) Join {
	j := Join{RTMSStreamID: s.ID, ServerURLs: s.ServerURLs, Signature: signature, State: s.State, StartedAt: s.StartedAt.UTC(),
		AccountID: s.AccountID, Region: Region(s.ServerURLs),
		Reconnect: Reconnect{SignalingSeconds: SignalingWindowSeconds, MediaSeconds: MediaWindowSeconds}}
	if s.Kind == KindSession {
		j.SessionID = s.MeetingUUID
	} else {
		j.MeetingUUID = s.MeetingUUID
	}
	if s.MeetingID > 0 {
		j.MeetingID = strconv.FormatInt(s.MeetingID, 10)
	}
	if s.State == StateStopped {
		reason, restartable := s.StopReason, Restartable(s.StopReason)
		j.StopReason, j.Restartable = &reason, &restartable
	}
	return j
}

// eventTypes maps a state to the event a change into it causes.
var eventTypes = map[State]string{
	StateStarted: EventStarted, StateInterrupted: EventInterrupted, StateStopped: EventStopped}

// newEvent is the outbox event of type t a stream's change causes. Its stored payload holds no
// signature (a bearer credential for the stream): Service.CompleteEvent adds it as the event is
// sent. The outbox orders events by subject, so a stream's events go out in order.
func newEvent(t string, s Stream, at time.Time) (outbox.Event, error) {
	payload, err := json.Marshal(eventBody{t, at.UTC(), s.join("")})
	if err != nil {
		return outbox.Event{}, err
	}
	return outbox.New(t, "rtms_"+s.ID, payload, at), nil
}

// eventBody is an rtms.* event as it is sent.
type eventBody struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Join      `json:"data"`
}
