package sqlstore_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// A stream's webhooks, as two processes sharing the database receive them (Zoom retries, and a
// load balancer spreads them): each change is written once with its event, repeats change
// nothing, stopped is final, and the stream expires after its last event.
func TestRTMSStreams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		now := time.Now()
		clock := func() time.Time { return now }
		s1, s2 := b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})
		sign := func(id, stream string) string { return "sig-" + id + "-" + stream }
		svc1 := rtms.NewService(rtms.Config{Store: s1, Sign: sign, Now: clock})
		svc2 := rtms.NewService(rtms.Config{Store: s2, Sign: sign, Now: clock})
		started := rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStarted, Stream: rtms.Stream{ID: "609340fc9d894ba5a6fbb06b8aef22ec",
			MeetingUUID: "uuid==", MeetingID: 81112223333, ServerURLs: "wss://rtms.example", AccountID: "acct"}}

		// The same rtms_started, to both processes at once: one write, one event.
		var wg sync.WaitGroup
		changed := make(chan bool, 2)
		for _, svc := range []*rtms.Service{svc1, svc2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := svc.Record(ctx, started)
				if err != nil {
					t.Error(err)
				}
				changed <- ok
			}()
		}
		wg.Wait()
		close(changed)
		writes := 0
		for ok := range changed {
			if ok {
				writes++
			}
		}
		if writes != 1 {
			t.Errorf("a repeated rtms_started changed the stream %d times, want 1", writes)
		}
		join, err := svc2.Join(ctx, started.Stream.ID)
		if err != nil || join.MeetingUUID != "uuid==" || join.ServerURLs != "wss://rtms.example" || join.State != rtms.StateStarted ||
			join.Signature != "sig-uuid==-609340fc9d894ba5a6fbb06b8aef22ec" || !join.StartedAt.Equal(now.UTC().Truncate(time.Millisecond)) {
			t.Errorf("join: %+v %v", join, err)
		}

		now = now.Add(time.Minute)
		interrupted := started
		interrupted.State, interrupted.Stream.ServerURLs = rtms.StateInterrupted, ""
		svc1.Record(ctx, interrupted)
		stopped := interrupted
		stopped.State = rtms.StateStopped
		svc2.Record(ctx, stopped)
		if _, ok, _ := svc1.Record(ctx, started); ok {
			t.Errorf("a late rtms_started reopened a stopped stream")
		}
		if join, err := svc1.Join(ctx, started.Stream.ID); !errors.Is(err, rtms.ErrStopped) || join.Signature != "" {
			t.Errorf("a stopped stream: %+v %v", join, err)
		}
		if _, err := svc1.Join(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, rtms.ErrNotFound) {
			t.Errorf("an unknown stream: %v", err)
		}

		// Its events, in order, with no signature at rest.
		var got []string
		for range 3 {
			// One at a time: a stream's next event waits for the one before.
			events, err := s1.ClaimEvents(ctx, now.Add(time.Hour), time.Minute, 10)
			if err != nil || len(events) != 1 {
				t.Fatalf("claim: %+v %v", events, err)
			}
			for _, e := range events {
				var body struct {
					Data map[string]any `json:"data"`
				}
				json.Unmarshal(e.Payload, &body)
				if _, signed := body.Data["signature"]; signed || body.Data["rtms_stream_id"] != started.Stream.ID {
					t.Errorf("%s stored as %s", e.Type, e.Payload)
				}
				got = append(got, string(e.Type))
				s1.EventDelivered(ctx, e.ID)
			}
		}
		if len(got) != 3 || got[0] != "rtms.started" || got[1] != "rtms.interrupted" || got[2] != "rtms.stopped" {
			t.Errorf("events %v, want started, interrupted, stopped", got)
		}
		if containsSecret(b.dump(t), "sig-uuid") {
			t.Errorf("a signature is stored")
		}

		// Expiry counts from the last event.
		if n, err := s1.DeleteStreams(ctx, now); err != nil || n != 0 {
			t.Errorf("deleted %d before the TTL: %v", n, err)
		}
		if n, err := s1.DeleteStreams(ctx, now.Add(time.Millisecond)); err != nil || n != 1 {
			t.Errorf("deleted %d after the TTL: %v", n, err)
		}
		if _, err := svc1.Join(ctx, started.Stream.ID); !errors.Is(err, rtms.ErrNotFound) {
			t.Errorf("an expired stream: %v", err)
		}
	})
}

// The service's sweep deletes a stream RTMS_STREAM_TTL after its last event, without a stop.
func TestRTMSStreamsExpire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		now := time.Now()
		store := b.open(t, sqlstore.Options{})
		svc := rtms.NewService(rtms.Config{Store: store, Sign: func(string, string) string { return "s" }, TTL: time.Hour,
			Now: func() time.Time { return now }})
		svc.Record(ctx, rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStarted,
			Stream: rtms.Stream{ID: "0123456789abcdef0123456789abcdef", MeetingUUID: "u"}})
		now = now.Add(time.Hour - time.Millisecond)
		if n, err := svc.Sweep(ctx); err != nil || n != 0 {
			t.Errorf("within the TTL: %d swept, %v", n, err)
		}
		now = now.Add(2 * time.Millisecond)
		if n, err := svc.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("past the TTL: %d swept, %v", n, err)
		}
		if _, err := svc.Join(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, rtms.ErrNotFound) {
			t.Errorf("an expired stream: %v", err)
		}
	})
}
