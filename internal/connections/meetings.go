package connections

import (
	"context"
	"errors"
	"time"
)

// MeetingListingPeriod is how often each connection's meetings are listed again from Zoom.
const MeetingListingPeriod = 24 * time.Hour

// Host returns the connection that hosts a meeting, or ErrNotFound.
func (m *Manager) Host(ctx context.Context, meetingID int64) (Connection, error) {
	c, err := m.cfg.Store.MeetingHost(ctx, meetingID)
	return c, storeError(err)
}

// ListMeetings maps every meeting Zoom lists for the connection to it, when this process wins
// the period's claim (or force is set, as at connect time). Re-listing never unmaps: a meeting
// created since by webhook, or an instant one, stays.
func (m *Manager) ListMeetings(ctx context.Context, id string, force bool) error {
	s := m.cfg.Store
	now := m.cfg.Now()
	notSince := now.Add(-MeetingListingPeriod)
	if force {
		notSince = now.Add(time.Millisecond)
	}
	won, err := s.ClaimMeetingListing(ctx, id, now, notSince)
	if err != nil || !won {
		return storeError(err)
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return storeError(err)
	}
	var ids []int64
	_, err = m.Call(ctx, c, func(ctx context.Context, accessToken string) (string, error) {
		var err error
		ids, err = m.cfg.Zoom.ListMeetings(ctx, accessToken)
		return "", err
	})
	if err != nil {
		return err
	}
	if err := s.PutMeetings(ctx, id, ids...); err != nil {
		return storeError(err)
	}
	m.cfg.Logger.Debug().Str("connection", id).Int("meetings", len(ids)).Msg("meetings listed")
	return nil
}

// listDueMeetings lists, paced, the meetings of every connection due for it.
func (m *Manager) listDueMeetings(ctx context.Context, pace time.Duration) {
	due, err := m.cfg.Store.MeetingListingsDue(ctx, m.cfg.Now().Add(-MeetingListingPeriod))
	if err != nil {
		return
	}
	for _, id := range due {
		if err := m.ListMeetings(ctx, id, false); err != nil {
			m.cfg.Logger.Warn().Str("connection", id).Err(err).Msg("listing the connection's meetings failed; retrying in a day")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pace):
		}
	}
}

// MeetingHosted maps a meeting to the connection of its host (a meeting.created or
// meeting.updated webhook). A host who is not connected leaves any mapping as it is.
func (m *Manager) MeetingHosted(ctx context.Context, meetingID int64, hostZoomUserID string) error {
	c, ok, err := m.connectedUser(ctx, hostZoomUserID)
	if err != nil || !ok {
		return err
	}
	return storeError(m.cfg.Store.PutMeetings(ctx, c.ID, meetingID))
}

// connectedUser returns the connection of a Zoom user, and false (with no error) when the user
// is not connected.
func (m *Manager) connectedUser(ctx context.Context, zoomUserID string) (Connection, bool, error) {
	c, err := m.cfg.Store.FindByZoomUserID(ctx, zoomUserID)
	if errors.Is(err, ErrNotFound) {
		return Connection{}, false, nil
	}
	if err != nil {
		return Connection{}, false, storeError(err)
	}
	return c, true, nil
}

// MeetingDeleted unmaps a meeting (a meeting.deleted webhook).
func (m *Manager) MeetingDeleted(ctx context.Context, meetingID int64) error {
	return storeError(m.cfg.Store.DeleteMeeting(ctx, meetingID))
}

// PMIChanged maps a connected user's new personal meeting id to them and unmaps the previous
// one (0 when Zoom did not say it) if it was still theirs (a user.updated webhook).
func (m *Manager) PMIChanged(ctx context.Context, zoomUserID string, pmi, previous int64) error {
	c, ok, err := m.connectedUser(ctx, zoomUserID)
	if err != nil || !ok {
		return err
	}
	s := m.cfg.Store
	if err := s.PutMeetings(ctx, c.ID, pmi); err != nil {
		return storeError(err)
	}
	if previous == 0 || previous == pmi {
		return nil
	}
	host, err := s.MeetingHost(ctx, previous)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return storeError(err)
	case host.ID != c.ID:
		return nil // someone else's meeting now: not this user's to unmap
	}
	return storeError(s.DeleteMeeting(ctx, previous))
}

// ErrOvertaken says a deauthorization happened before the connection's latest connect: a
// replay, or a removal the user undid by connecting again. It changes nothing.
var ErrOvertaken = errors.New("the deauthorization is older than the connection's latest connect")

// Deauthorized deletes the connection of a user who removed the app (an app_deauthorized
// webhook): its tokens, which Zoom has revoked already, and its meetings. It records
// connection.deleted. An unknown user is not an error; a deauthorization at a time (not zero)
// before the connection's latest connect is ErrOvertaken and deletes nothing.
func (m *Manager) Deauthorized(ctx context.Context, zoomUserID string, at time.Time) error {
	c, ok, err := m.connectedUser(ctx, zoomUserID)
	if err != nil || !ok {
		return err
	}
	// Whole seconds: a deauthorization_time written without milliseconds, in the second the
	// user connected, is not taken for an older one.
	if !at.IsZero() && at.Before(c.ConnectedAt.Truncate(time.Second)) {
		return ErrOvertaken
	}
	if _, err := m.cfg.Store.Delete(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return storeError(err)
	}
	m.cfg.Logger.Info().Str("connection", c.ID).Msg("connection deleted: the user removed the app in Zoom")
	return nil
}
