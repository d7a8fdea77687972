package connections

import (
	"context"
	"sync/atomic"
	"time"
)

// PendingStore is the Store of a database that may not have answered yet: until Set hands it
// the opened store, every call returns ErrUnavailable, so a database down at start costs the
// connected-account routes a 503 each and nothing else. It is safe for concurrent use.
type PendingStore struct {
	opened atomic.Pointer[Store]
}

// Set makes s the store every later call goes to.
func (p *PendingStore) Set(s Store) { p.opened.Store(&s) }

// Opened returns the opened store, and false while the database has not answered: for the
// other domains that keep their data in the same database (the RTMS streams).
func (p *PendingStore) Opened() (Store, bool) {
	if s := p.opened.Load(); s != nil {
		return *s, true
	}
	return nil, false
}

func (p *PendingStore) store() Store {
	if s := p.opened.Load(); s != nil {
		return *s
	}
	return unavailable{}
}

// The Store's methods, each passed to the opened store or answered by unavailable.

func (p *PendingStore) Save(ctx context.Context, c Connection) (Connection, bool, error) {
	return p.store().Save(ctx, c)
}
func (p *PendingStore) Get(ctx context.Context, id string) (Connection, error) {
	return p.store().Get(ctx, id)
}
func (p *PendingStore) FindByZoomUserID(ctx context.Context, zoomUserID string) (Connection, error) {
	return p.store().FindByZoomUserID(ctx, zoomUserID)
}
func (p *PendingStore) FindByEmail(ctx context.Context, email string) (Connection, error) {
	return p.store().FindByEmail(ctx, email)
}
func (p *PendingStore) FindByRef(ctx context.Context, ref string) (Connection, error) {
	return p.store().FindByRef(ctx, ref)
}
func (p *PendingStore) List(ctx context.Context, f Filter) ([]Connection, error) {
	return p.store().List(ctx, f)
}
func (p *PendingStore) RemoveRef(ctx context.Context, id, ref string) (Connection, error) {
	return p.store().RemoveRef(ctx, id, ref)
}
func (p *PendingStore) Delete(ctx context.Context, id string) (Connection, error) {
	return p.store().Delete(ctx, id)
}
func (p *PendingStore) Update(ctx context.Context, id string, fn UpdateFunc) (Connection, error) {
	return p.store().Update(ctx, id, fn)
}
func (p *PendingStore) PutMeetings(ctx context.Context, connectionID string, meetingIDs ...int64) error {
	return p.store().PutMeetings(ctx, connectionID, meetingIDs...)
}
func (p *PendingStore) ReplaceMeetings(ctx context.Context, connectionID string, meetingIDs []int64) error {
	return p.store().ReplaceMeetings(ctx, connectionID, meetingIDs)
}
func (p *PendingStore) DeleteMeeting(ctx context.Context, meetingID int64) error {
	return p.store().DeleteMeeting(ctx, meetingID)
}
func (p *PendingStore) MeetingHost(ctx context.Context, meetingID int64) (Connection, error) {
	return p.store().MeetingHost(ctx, meetingID)
}
func (p *PendingStore) Meetings(ctx context.Context, connectionID string) ([]int64, error) {
	return p.store().Meetings(ctx, connectionID)
}
func (p *PendingStore) ClaimMeetingListing(ctx context.Context, connectionID string, now, notSince time.Time) (bool, error) {
	return p.store().ClaimMeetingListing(ctx, connectionID, now, notSince)
}
func (p *PendingStore) MeetingListingsDue(ctx context.Context, notSince time.Time) ([]string, error) {
	return p.store().MeetingListingsDue(ctx, notSince)
}
func (p *PendingStore) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Event, error) {
	return p.store().ClaimEvents(ctx, now, lease, limit)
}
func (p *PendingStore) PendingEvents(ctx context.Context) (int, error) {
	return p.store().PendingEvents(ctx)
}
func (p *PendingStore) EventDelivered(ctx context.Context, eventID string) error {
	return p.store().EventDelivered(ctx, eventID)
}
func (p *PendingStore) EventFailed(ctx context.Context, eventID string, retryAt time.Time, reason string) error {
	return p.store().EventFailed(ctx, eventID, retryAt, reason)
}
func (p *PendingStore) ConsumeState(ctx context.Context, state string, expiresAt time.Time) (bool, error) {
	return p.store().ConsumeState(ctx, state, expiresAt)
}
func (p *PendingStore) Ping(ctx context.Context) error { return p.store().Ping(ctx) }

// Close closes the opened store, if there is one.
func (p *PendingStore) Close() error {
	if s := p.opened.Load(); s != nil {
		return (*s).Close()
	}
	return nil
}

// unavailable is the Store of a database that has not answered: every call fails.
type unavailable struct{}

func (unavailable) Save(context.Context, Connection) (Connection, bool, error) {
	return Connection{}, false, ErrUnavailable
}
func (unavailable) Get(context.Context, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) FindByZoomUserID(context.Context, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) FindByEmail(context.Context, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) RemoveRef(context.Context, string, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) FindByRef(context.Context, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) List(context.Context, Filter) ([]Connection, error) { return nil, ErrUnavailable }
func (unavailable) Delete(context.Context, string) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) Update(context.Context, string, UpdateFunc) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) PutMeetings(context.Context, string, ...int64) error    { return ErrUnavailable }
func (unavailable) ReplaceMeetings(context.Context, string, []int64) error { return ErrUnavailable }
func (unavailable) DeleteMeeting(context.Context, int64) error             { return ErrUnavailable }
func (unavailable) MeetingHost(context.Context, int64) (Connection, error) {
	return Connection{}, ErrUnavailable
}
func (unavailable) Meetings(context.Context, string) ([]int64, error) { return nil, ErrUnavailable }
func (unavailable) ClaimMeetingListing(context.Context, string, time.Time, time.Time) (bool, error) {
	return false, ErrUnavailable
}
func (unavailable) MeetingListingsDue(context.Context, time.Time) ([]string, error) {
	return nil, ErrUnavailable
}
func (unavailable) ClaimEvents(context.Context, time.Time, time.Duration, int) ([]Event, error) {
	return nil, ErrUnavailable
}
func (unavailable) PendingEvents(context.Context) (int, error)   { return 0, ErrUnavailable }
func (unavailable) EventDelivered(context.Context, string) error { return ErrUnavailable }
func (unavailable) EventFailed(context.Context, string, time.Time, string) error {
	return ErrUnavailable
}
func (unavailable) ConsumeState(context.Context, string, time.Time) (bool, error) {
	return false, ErrUnavailable
}
func (unavailable) Ping(context.Context) error { return ErrUnavailable }
func (unavailable) Close() error               { return nil }
