package connections

import (
	"context"
	"time"
)

// Store keeps connections and the meetings they host. Every change that causes a connection
// event writes that event to the outbox in the same transaction, so the event is neither
// lost nor sent for a change that did not happen. Implementations are safe for concurrent use,
// also by several processes sharing one database.
type Store interface {
	// Save stores a newly authorized connection, keyed by its Zoom user id. For a Zoom user
	// already connected (a reconnect) it keeps that connection's ID and CreatedAt, replaces the
	// tokens, scopes, account and email, takes c.Ref when it is set (adding it to the refs the
	// connection keeps), sets the status to active and clears LastError. c.ID is used only when
	// the connection is new. It returns the stored connection and whether it was created, and
	// records connection.created or connection.reconnected, and connection.updated when a
	// reconnect added a ref.
	Save(ctx context.Context, c Connection) (saved Connection, created bool, err error)

	// Get returns the connection with this ID, or ErrNotFound.
	Get(ctx context.Context, id string) (Connection, error)
	// FindByZoomUserID returns the connection of this Zoom user id (matched exactly).
	FindByZoomUserID(ctx context.Context, zoomUserID string) (Connection, error)
	// FindByEmail returns the connection with this email, compared case-insensitively; among
	// several, the active one updated last.
	FindByEmail(ctx context.Context, email string) (Connection, error)
	// FindByRef returns the connection connected under this ref (any of its refs); among
	// several, the active one updated last.
	FindByRef(ctx context.Context, ref string) (Connection, error)
	// List returns the connections the filter matches, oldest first.
	List(ctx context.Context, f Filter) ([]Connection, error)
	// CountByStatus counts the connections of each status, reading no token: /metrics asks it
	// at every scrape, whatever the number of connections.
	CountByStatus(ctx context.Context) (map[Status]int, error)

	// RemoveRef stops ref resolving to the connection, records connection.updated, and returns
	// the connection as it now is; ErrNotFound when the connection does not have that ref. When
	// it was the latest ref, Ref becomes the latest of those left.
	RemoveRef(ctx context.Context, id, ref string) (Connection, error)

	// Delete removes a connection with its tokens and meetings, records connection.deleted, and
	// returns what was deleted.
	Delete(ctx context.Context, id string) (Connection, error)

	// Update runs fn while holding the connection's update lock and writes the change fn
	// returns. The lock is exclusive across every process sharing the database: while one
	// caller holds it, the others wait, then see its result in the connection fn receives. This
	// is what makes a refresh happen once: Zoom kills a refresh token the moment it is used, so
	// two racing refreshes would lose the connection. fn gets a context that the caller's
	// cancellation does not end (a refresh Zoom has performed must still be stored); the lock
	// wait itself ends with ctx. Update returns the connection as stored afterwards.
	Update(ctx context.Context, id string, fn UpdateFunc) (Connection, error)

	// PutMeetings maps each meeting id to the connection that hosts it, taking it over from any
	// other connection.
	PutMeetings(ctx context.Context, connectionID string, meetingIDs ...int64) error
	// ReplaceMeetings makes meetingIDs the connection's only meetings.
	ReplaceMeetings(ctx context.Context, connectionID string, meetingIDs []int64) error
	// DeleteMeeting unmaps a meeting; unknown ids are not an error.
	DeleteMeeting(ctx context.Context, meetingID int64) error
	// MeetingHost returns the connection that hosts a meeting, or ErrNotFound.
	MeetingHost(ctx context.Context, meetingID int64) (Connection, error)
	// Meetings returns the ids of the meetings a connection hosts, in ascending order.
	Meetings(ctx context.Context, connectionID string) ([]int64, error)
	// ClaimMeetingListing marks a connection's meetings as being listed now when they were last
	// listed before notSince (or never), and reports whether this caller won the claim: among
	// processes sharing the database, one lists each connection per period.
	ClaimMeetingListing(ctx context.Context, connectionID string, now, notSince time.Time) (bool, error)
	// MeetingListingsDue returns the active connections whose meetings were last listed before
	// notSince, or never.
	MeetingListingsDue(ctx context.Context, notSince time.Time) ([]string, error)

	// ConsumeState records that an OAuth state has been used and reports whether this was its
	// first use. expiresAt is when the record may be forgotten (the state is refused by then
	// anyway).
	ConsumeState(ctx context.Context, state string, expiresAt time.Time) (first bool, err error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// UpdateFunc decides, under a connection's update lock, what to write. It sees the connection
// as stored at that moment.
type UpdateFunc func(ctx context.Context, current Connection) (Change, error)

// Change is what an UpdateFunc asks the store to write. The zero Change writes nothing.
type Change struct {
	// Tokens replaces the sealed tokens.
	Tokens *SealedTokens
	// Refreshed says Tokens were just obtained from Zoom: RefreshedAt becomes now and the
	// connection is active again. A re-seal under another key leaves it false.
	Refreshed bool
	// ReauthorizationRequired, when not empty, marks the connection as needing
	// re-authorization with this reason as LastError, and records
	// connection.reauthorization_required.
	ReauthorizationRequired string
}
