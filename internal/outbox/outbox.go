// Package outbox is the events the service owes the operator's EVENTS_URL, as every domain that
// has any writes them: an event is stored in the transaction of the change that caused it, and
// the events package delivers it from there, so a restart loses none. It knows no SQL and no
// HTTP: the stores write events, the deliverer sends them.
package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/rs/xid"
)

// Event is one event waiting to be delivered. Payload is the body to POST, fixed when the event
// is recorded, so every delivery attempt sends the same bytes under the same ID.
type Event struct {
	// ID is unique per event and kept across retries (the webhook-id a receiver deduplicates on).
	ID string
	// Subject is what the event is about (a connection's id, an RTMS stream's): the events of
	// one subject are delivered in the order they were recorded.
	Subject string
	// Type is the event's type, such as connection.created.
	Type      string
	Payload   []byte
	CreatedAt time.Time
	// Attempts counts the deliveries tried so far, this claim's included.
	Attempts int
}

// New returns an event of type t about subject, recorded at at, with a fresh ID.
func New(t, subject string, payload []byte, at time.Time) Event {
	return Event{ID: "evt_" + xid.New().String(), Subject: subject, Type: t, Payload: payload, CreatedAt: at}
}

// ErrNotFound: no event has this id.
var ErrNotFound = errors.New("no such event")

// The states an event can be in.
const (
	// StatePending: waiting for its next delivery attempt.
	StatePending = "pending"
	// StateFailed: its deliveries kept failing until it was given up on; kept for an operator
	// to replay.
	StateFailed = "failed"
)

// Record is what an operator sees of an event: never its payload (which may hold a stream's
// details), nor a signature.
type Record struct {
	ID, Type, Subject, State string
	Attempts                 int
	LastError                string
	CreatedAt, NextAttemptAt time.Time
	// FailedAt is when it was given up on; zero while pending.
	FailedAt time.Time
}

// Filter narrows a listing of events; zero fields match every event.
type Filter struct {
	State, Type string
}

// Store is the outbox as the deliverer and the operator use it. Implementations are safe for
// concurrent use, also by several processes sharing one database.
type Store interface {
	// ClaimEvents returns up to limit pending events that are due at now, at most one per
	// subject (its oldest pending one, so a subject's events go out in order; a failed one holds
	// nothing back), and holds them for lease: no other claim returns them until the lease ends
	// or they are settled. While delivery is paused it returns none.
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Event, error)
	// EventExhausted keeps an event whose deliveries kept failing as failed, with the reason.
	EventExhausted(ctx context.Context, eventID string, at time.Time, reason string) error
	// PauseDelivery stops every delivery until ResumeDelivery (or RetryFailed), saying why.
	PauseDelivery(ctx context.Context, at time.Time, reason string) error
	// DeliveryPaused says whether delivery is paused, since when and why.
	DeliveryPaused(ctx context.Context) (paused bool, since time.Time, reason string, err error)
	// Events lists the events the filter matches, oldest first.
	Events(ctx context.Context, f Filter) ([]Record, error)
	// RetryEvent makes an event (failed or pending) due at now, with its retries starting over;
	// ErrNotFound for an unknown id.
	RetryEvent(ctx context.Context, eventID string, now time.Time) error
	// RetryFailed makes every failed event pending and due at now, with its retries starting
	// over, resumes a paused delivery, and says how many events it replayed.
	RetryFailed(ctx context.Context, now time.Time) (int, error)
	// EventDelivered removes a delivered event from the outbox.
	EventDelivered(ctx context.Context, eventID string) error
	// EventFailed records a failed delivery and when to try again.
	EventFailed(ctx context.Context, eventID string, retryAt time.Time, reason string) error
	// PendingEvents counts the pending events.
	PendingEvents(ctx context.Context) (int, error)
}
