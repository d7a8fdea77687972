// Package outbox is the events the service owes the operator's EVENTS_URL, as every domain that
// has any writes them: an event is stored in the transaction of the change that caused it, and
// the events package delivers it from there, so a restart loses none. It knows no SQL and no
// HTTP: the stores write events, the deliverer sends them.
package outbox

import (
	"context"
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

// Store is the outbox as the deliverer reads it. Implementations are safe for concurrent use,
// also by several processes sharing one database.
type Store interface {
	// ClaimEvents returns up to limit events that are due at now, at most one per subject (its
	// oldest undelivered one, so a subject's events go out in order), and holds them for lease:
	// no other claim returns them until the lease ends or they are settled.
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Event, error)
	// EventDelivered removes a delivered event from the outbox.
	EventDelivered(ctx context.Context, eventID string) error
	// EventFailed records a failed delivery and when to try again.
	EventFailed(ctx context.Context, eventID string, retryAt time.Time, reason string) error
	// PendingEvents counts the events in the outbox.
	PendingEvents(ctx context.Context) (int, error)
}
