package rtms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// DefaultTTL is how long a stream is kept after its last event when no stop came.
const DefaultTTL = 24 * time.Hour

// Config is what a Service works with.
type Config struct {
	Store Store
	// Sign is Zoom's recipe for a stream's signature, keyed with the RTMS app's Client Secret:
	// sign(meeting uuid or session id, stream id).
	Sign func(id, streamID string) string
	// TTL is RTMS_STREAM_TTL; DefaultTTL when zero.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger zerolog.Logger
}

// Service records streams from webhooks and answers what workers ask.
type Service struct {
	cfg Config
}

// NewService returns a Service.
func NewService(cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// Record applies a verified webhook's change, and reports whether it changed the stream (a repeat
// changes nothing, and records no event).
func (s *Service) Record(ctx context.Context, c Change) (Stream, bool, error) {
	now := s.cfg.Now()
	stream, changed, err := s.cfg.Store.UpdateStream(ctx, c.Stream.ID, func(cur Stream, found bool) (Stream, bool) {
		return apply(cur, found, c, now)
	}, func(next Stream) (outbox.Event, error) { return newEvent(next, now) })
	if err != nil {
		return Stream{}, false, storeError(err)
	}
	return stream, changed, nil
}

// Join returns what a worker needs to join a stream, its signature included: ErrNotFound for a
// stream no verified webhook announced, ErrStopped (with the stream) once it stopped.
func (s *Service) Join(ctx context.Context, id string) (Join, error) {
	stream, err := s.cfg.Store.Stream(ctx, id)
	if err != nil {
		return Join{}, storeError(err)
	}
	if stream.State == StateStopped {
		return stream.join(""), ErrStopped
	}
	return stream.join(s.cfg.Sign(stream.MeetingUUID, stream.ID)), nil
}

// CompleteEvent returns the body to send for an outbox event: for rtms.started, the stored
// payload with the stream's signature added (it is not stored); any other event as stored. It is
// deterministic, so every delivery attempt sends the same bytes.
func (s *Service) CompleteEvent(e outbox.Event) ([]byte, error) {
	if e.Type != EventStarted {
		return e.Payload, nil
	}
	var body struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      Join      `json:"data"`
	}
	if err := json.Unmarshal(e.Payload, &body); err != nil {
		return nil, fmt.Errorf("rtms event %s: %w", e.ID, err)
	}
	id := body.Data.MeetingUUID
	if id == "" {
		id = body.Data.SessionID
	}
	body.Data.Signature = s.cfg.Sign(id, body.Data.RTMSStreamID)
	return json.Marshal(body)
}

// Sweep deletes the streams whose last event is older than the TTL, and says how many.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n, err := s.cfg.Store.DeleteStreams(ctx, s.cfg.Now().Add(-s.cfg.TTL))
	return n, storeError(err)
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := s.Sweep(ctx)
		if err != nil {
			continue // the database is down: the next tick tries again
		}
		if n > 0 {
			s.cfg.Logger.Info().Int("streams", n).Msg("expired RTMS streams deleted")
		}
	}
}

// storeError keeps ErrNotFound and wraps any other store failure as connections.ErrUnavailable
// (the database is the connections database).
func storeError(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, connections.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", connections.ErrUnavailable, err)
}
