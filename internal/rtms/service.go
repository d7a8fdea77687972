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
	// Sign is Zoom's recipe for a meeting's or webinar's stream signature, keyed with the RTMS
	// app's Client Secret: sign(meeting uuid, stream id).
	Sign func(id, streamID string) string
	// SignSession is the same recipe for a Video SDK session's stream, keyed with the Video SDK
	// app's credentials: sign(session id, stream id). Nil when no Video SDK app is configured:
	// such streams are recorded but cannot be joined (ErrUnsigned).
	SignSession func(id, streamID string) string
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
// changes nothing, and records no event). A Video SDK session's stream is recorded even when no
// Video SDK app can sign it, but causes no event: no worker could join it (Usable says so).
func (s *Service) Record(ctx context.Context, c Change) (Stream, bool, error) {
	now := s.cfg.Now()
	var event string
	stream, changed, err := s.cfg.Store.UpdateStream(ctx, c.Stream.ID, func(cur Stream, found bool) (Stream, bool) {
		next, t, changed := apply(cur, found, c, now)
		event = t
		return next, changed
	}, func(next Stream) (outbox.Event, error) {
		if event == "" || !s.Usable(next) {
			return outbox.Event{}, nil
		}
		return newEvent(event, next, now)
	})
	if err != nil {
		return Stream{}, false, storeError(err)
	}
	return stream, changed, nil
}

// Usable reports whether a worker could join the stream: false for a Video SDK session when no
// Video SDK app's credentials are configured.
func (s *Service) Usable(stream Stream) bool {
	return stream.Kind != KindSession || s.cfg.SignSession != nil
}

// sign is the stream's signature, with the app that signs its kind.
func (s *Service) sign(kind Kind, id, streamID string) string {
	if kind == KindSession {
		return s.cfg.SignSession(id, streamID)
	}
	return s.cfg.Sign(id, streamID)
}

// Join returns what a worker needs to join a stream, its signature included: ErrNotFound for a
// stream no verified webhook announced, a *StoppedError once it stopped, ErrUnsigned for a session
// no configured app can sign.
func (s *Service) Join(ctx context.Context, id string) (Join, error) {
	stream, err := s.cfg.Store.Stream(ctx, id)
	switch {
	case err != nil:
		return Join{}, storeError(err)
	case stream.State == StateStopped:
		return stream.join(""), &StoppedError{StopReason: stream.StopReason}
	case !s.Usable(stream):
		return Join{}, ErrUnsigned
	}
	return stream.join(s.sign(stream.Kind, stream.MeetingUUID, stream.ID)), nil
}

// Stream returns a stream as an operator sees it: no signature.
func (s *Service) Stream(ctx context.Context, id string) (Stream, error) {
	stream, err := s.cfg.Store.Stream(ctx, id)
	return stream, storeError(err)
}

// Streams lists the streams of a meeting (every stream when meetingID is 0), newest first, at
// most limit of them.
func (s *Service) Streams(ctx context.Context, meetingID int64, limit int) ([]Stream, error) {
	streams, err := s.cfg.Store.Streams(ctx, meetingID, limit)
	return streams, storeError(err)
}

// CompleteEvent returns the body to send for an outbox event: for rtms.started and rtms.moved,
// the stored payload with the stream's signature added (it is not stored); any other event as
// stored. It is deterministic, so every delivery attempt sends the same bytes.
func (s *Service) CompleteEvent(e outbox.Event) ([]byte, error) {
	if e.Type != EventStarted && e.Type != EventMoved {
		return e.Payload, nil
	}
	var body eventBody
	if err := json.Unmarshal(e.Payload, &body); err != nil {
		return nil, fmt.Errorf("rtms event %s: %w", e.ID, err)
	}
	kind, id := KindMeeting, body.Data.MeetingUUID
	if body.Data.SessionID != "" {
		kind, id = KindSession, body.Data.SessionID
	}
	if kind == KindSession && s.cfg.SignSession == nil {
		return nil, fmt.Errorf("rtms event %s: %w", e.ID, ErrUnsigned)
	}
	body.Data.Signature = s.sign(kind, id, body.Data.RTMSStreamID)
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
