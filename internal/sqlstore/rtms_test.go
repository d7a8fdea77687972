package sqlstore_test

import (
	"encoding/json"
	"errors"
	"strings"
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
		svc1 := rtms.NewService(rtms.Config{Store: s1.Streams, Sign: sign, Now: clock})
		svc2 := rtms.NewService(rtms.Config{Store: s2.Streams, Sign: sign, Now: clock})
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
		svc := rtms.NewService(rtms.Config{Store: store.Streams, Sign: func(string, string) string { return "s" }, TTL: time.Hour,
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

// Zoom moving a stream (a second rtms_started naming another server) is one rtms.moved and the
// new server_urls on every replica, never a second rtms.started; a stop keeps Zoom's reason; a
// meeting's streams are listed newest first; a Video SDK session nobody can sign is recorded but
// causes no event.
func TestRTMSFailoverStopReasonAndListing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		now := time.Now()
		clock := func() time.Time { return now }
		s1, s2 := b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})
		sign := func(id, stream string) string { return "sig" }
		svc1 := rtms.NewService(rtms.Config{Store: s1.Streams, Sign: sign, Now: clock})
		svc2 := rtms.NewService(rtms.Config{Store: s2.Streams, Sign: sign, Now: clock})
		const id, other = "609340fc9d894ba5a6fbb06b8aef22ec", "709340fc9d894ba5a6fbb06b8aef22ec"
		started := rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStarted, Stream: rtms.Stream{ID: id,
			MeetingUUID: "uuid==", MeetingID: 81112223333, ServerURLs: "wss://rtms-sjc1.zoom.us/a"}}
		moved := started
		moved.Stream.ServerURLs = "wss://rtms-fra1.zoom.us/b"
		stopped := rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStopped, Stream: rtms.Stream{ID: id, MeetingUUID: "uuid==", StopReason: 13}}

		svc1.Record(ctx, started)
		now = now.Add(time.Second)
		if _, ok, err := svc2.Record(ctx, moved); !ok || err != nil {
			t.Fatalf("the move changed nothing: %v", err)
		}
		if _, ok, _ := svc1.Record(ctx, moved); ok {
			t.Errorf("a repeated move changed the stream again")
		}
		if join, err := svc1.Join(ctx, id); err != nil || join.ServerURLs != moved.Stream.ServerURLs || join.Region != "fra1" {
			t.Errorf("after the move: %+v %v", join, err)
		}
		now = now.Add(time.Second)
		svc2.Record(ctx, stopped)
		_, err := svc1.Join(ctx, id)
		var stop *rtms.StoppedError
		if !errors.As(err, &stop) || stop.StopReason != 13 {
			t.Errorf("a stopped stream: %v", err)
		}
		now = now.Add(time.Second)
		svc1.Record(ctx, rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStarted, Stream: rtms.Stream{ID: other,
			MeetingUUID: "uuid2==", MeetingID: 81112223333, ServerURLs: "wss://rtms-sjc1.zoom.us/c"}})
		svc1.Record(ctx, rtms.Change{Kind: rtms.KindMeeting, State: rtms.StateStarted, Stream: rtms.Stream{ID: "809340fc9d894ba5a6fbb06b8aef22ec",
			MeetingUUID: "uuid3==", MeetingID: 999, ServerURLs: "wss://rtms-sjc1.zoom.us/d"}})
		listed, err := svc2.Streams(ctx, 81112223333, 10)
		if err != nil || len(listed) != 2 || listed[0].ID != other || listed[1].ID != id || listed[1].StopReason != 13 {
			t.Errorf("the meeting's streams: %+v %v", listed, err)
		}
		if all, err := svc2.Streams(ctx, 0, 10); err != nil || len(all) != 3 {
			t.Errorf("every stream: %d %v", len(all), err)
		}
		if one, err := svc2.Streams(ctx, 0, 1); err != nil || len(one) != 1 {
			t.Errorf("a limit of one: %d %v", len(one), err)
		}

		// The first stream's events, in order: started, moved, stopped.
		var got []string
		for range 3 {
			events, err := s1.ClaimEvents(ctx, now.Add(time.Hour), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if e.Subject == "rtms_"+id {
					got = append(got, e.Type)
				}
				s1.EventDelivered(ctx, e.ID)
			}
		}
		if strings.Join(got, ",") != "rtms.started,rtms.moved,rtms.stopped" {
			t.Errorf("events %v, want started, moved, stopped", got)
		}

		// A Video SDK session without a Video SDK app: recorded, no event, and no join.
		session := rtms.Change{Kind: rtms.KindSession, State: rtms.StateStarted, Stream: rtms.Stream{ID: "909340fc9d894ba5a6fbb06b8aef22ec",
			MeetingUUID: "session-id", ServerURLs: "wss://rtms-sjc1.zoom.us/e"}}
		if _, ok, err := svc1.Record(ctx, session); !ok || err != nil {
			t.Fatalf("the session was not recorded: %v", err)
		}
		if events, _ := s1.ClaimEvents(ctx, now.Add(time.Hour), time.Minute, 10); len(events) != 0 {
			t.Errorf("an unusable session caused %d events", len(events))
		}
		if _, err := svc1.Join(ctx, session.Stream.ID); !errors.Is(err, rtms.ErrUnsigned) {
			t.Errorf("joining an unsigned session: %v", err)
		}
	})
}
