package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// newRTMS builds the Realtime Media Streams service over the connections database, signing with
// the RTMS app's Client Secret, which never leaves this process.
func newRTMS(c *config.RTMS, db *connections.PendingStore, logger zerolog.Logger) *rtms.Service {
	secret := c.ClientSecret.Reveal()
	return rtms.NewService(rtms.Config{
		Store:  streamStore{db},
		Sign:   func(id, streamID string) string { return zoom.RTMSSignature(c.ClientID, secret, id, streamID) },
		TTL:    c.StreamTTL,
		Logger: logger,
	})
}

// streamStore is the RTMS store of the connections database, which may not have answered yet:
// until it has, every call answers connections.ErrUnavailable.
type streamStore struct{ db *connections.PendingStore }

func (s streamStore) open() (rtms.Store, error) {
	opened, ok := s.db.Opened()
	if !ok {
		return nil, connections.ErrUnavailable
	}
	return opened.(rtms.Store), nil // the SQL store keeps both
}

func (s streamStore) UpdateStream(ctx context.Context, id string, fn rtms.UpdateFunc,
	event func(rtms.Stream) (connections.Event, error)) (rtms.Stream, bool, error) {
	st, err := s.open()
	if err != nil {
		return rtms.Stream{}, false, err
	}
	return st.UpdateStream(ctx, id, fn, event)
}

func (s streamStore) Stream(ctx context.Context, id string) (rtms.Stream, error) {
	st, err := s.open()
	if err != nil {
		return rtms.Stream{}, err
	}
	return st.Stream(ctx, id)
}

func (s streamStore) DeleteStreams(ctx context.Context, before time.Time) (int, error) {
	st, err := s.open()
	if err != nil {
		return 0, err
	}
	return st.DeleteStreams(ctx, before)
}
