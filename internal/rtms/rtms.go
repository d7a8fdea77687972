// Package rtms is the domain of Zoom's Realtime Media Streams: the streams that verified
// webhooks announce, the events their changes cause, and what a worker needs to join one, so
// that no worker holds the app's Client Secret. It knows no SQL, no HTTP and no Zoom client: the
// store and the signing recipe are handed to it.
package rtms

import (
	"context"
	"encoding/json"
	"errors"
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
)

// ErrNotFound: no verified webhook announced the stream.
var ErrNotFound = errors.New("no such RTMS stream")

// ErrStopped: the stream has stopped; a worker must not reconnect.
var ErrStopped = errors.New("the RTMS stream has stopped")

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
	// outbox in the same transaction. It returns the stream as stored afterwards and whether it
	// changed.
	UpdateStream(ctx context.Context, id string, fn UpdateFunc, event func(Stream) (outbox.Event, error)) (Stream, bool, error)
	// Stream returns the stream with this id, or ErrNotFound.
	Stream(ctx context.Context, id string) (Stream, error)
	// DeleteStreams deletes the streams whose last event came before t, and says how many.
	DeleteStreams(ctx context.Context, t time.Time) (int, error)
}

// apply is the state machine: a repeat changes nothing, stopped is final, and a stream first
// heard of by an interruption or a stop is recorded as it is then.
func apply(cur Stream, found bool, c Change, now time.Time) (Stream, bool) {
	switch {
	case found && (cur.State == StateStopped || cur.State == c.State):
		return cur, false
	case !found:
		cur = c.Stream
		cur.Kind, cur.StartedAt = c.Kind, now
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
	cur.State, cur.UpdatedAt = c.State, now
	return cur, true
}

// Join is what a worker's join() takes: zoom/rtms's SDKs read exactly these names. For a
// session, SessionID stands where MeetingUUID does.
type Join struct {
	MeetingUUID  string    `json:"meeting_uuid,omitempty"`
	SessionID    string    `json:"session_id,omitempty"`
	RTMSStreamID string    `json:"rtms_stream_id"`
	ServerURLs   string    `json:"server_urls"`
	Signature    string    `json:"signature,omitempty"`
	State        State     `json:"state"`
	StartedAt    time.Time `json:"started_at"`
}

// join is the stream as GET /rtms/stream answers it, signed with signature.
func (s Stream) join(signature string) Join {
	j := Join{RTMSStreamID: s.ID, ServerURLs: s.ServerURLs, Signature: signature, State: s.State, StartedAt: s.StartedAt.UTC()}
	if s.Kind == KindSession {
		j.SessionID = s.MeetingUUID
	} else {
		j.MeetingUUID = s.MeetingUUID
	}
	return j
}

// eventTypes maps a state to the event a change into it causes.
var eventTypes = map[State]string{
	StateStarted: EventStarted, StateInterrupted: EventInterrupted, StateStopped: EventStopped}

// newEvent is the outbox event a stream's change causes. Its stored payload holds no signature
// (a bearer credential for the stream): Service.CompleteEvent adds it as the event is sent. The
// outbox orders events by subject, so a stream's events go out in order.
func newEvent(s Stream, at time.Time) (outbox.Event, error) {
	t := eventTypes[s.State]
	payload, err := json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      Join      `json:"data"`
	}{t, at.UTC(), s.join("")})
	if err != nil {
		return outbox.Event{}, err
	}
	return outbox.New(t, "rtms_"+s.ID, payload, at), nil
}
