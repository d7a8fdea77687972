package rtms

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestApplyIsIdempotentAndStoppedIsFinal(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	webhook := func(state State, servers string) Change {
		return Change{Kind: KindMeeting, State: state, Stream: Stream{ID: "s", MeetingUUID: "u", MeetingID: 1, ServerURLs: servers}}
	}
	started := Stream{ID: "s", Kind: KindMeeting, MeetingUUID: "u", MeetingID: 1, ServerURLs: "wss://a", State: StateStarted,
		StartedAt: t0, UpdatedAt: t0}
	for _, tc := range []struct {
		name    string
		cur     Stream
		found   bool
		change  Change
		want    State
		changed bool
	}{
		{"a new stream", Stream{}, false, webhook(StateStarted, "wss://a"), StateStarted, true},
		{"a repeated start", started, true, webhook(StateStarted, "wss://a"), StateStarted, false},
		{"an interruption", started, true, webhook(StateInterrupted, ""), StateInterrupted, true},
		{"a start after an interruption", Stream{State: StateInterrupted, StartedAt: t0}, true, webhook(StateStarted, "wss://b"), StateStarted, true},
		{"a stop", started, true, webhook(StateStopped, ""), StateStopped, true},
		{"a start after the stop", Stream{State: StateStopped}, true, webhook(StateStarted, "wss://a"), StateStopped, false},
		{"a stop first heard of", Stream{}, false, webhook(StateStopped, ""), StateStopped, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := apply(tc.cur, tc.found, tc.change, t0.Add(time.Minute))
			if next.State != tc.want || changed != tc.changed {
				t.Errorf("got %s (changed %v), want %s (changed %v)", next.State, changed, tc.want, tc.changed)
			}
			if changed && tc.found && !next.StartedAt.Equal(tc.cur.StartedAt) {
				t.Errorf("started_at moved from %v to %v", tc.cur.StartedAt, next.StartedAt)
			}
			if changed && tc.change.Stream.ServerURLs == "" && tc.found && next.ServerURLs != tc.cur.ServerURLs {
				t.Errorf("a stop event without server_urls dropped them: %q", next.ServerURLs)
			}
		})
	}
}

// The stored payload holds no signature; the one sent has it, the same bytes every attempt.
func TestCompleteEventAddsTheSignatureOnly(t *testing.T) {
	s := NewService(Config{Sign: func(id, stream string) string { return "sig(" + id + "," + stream + ")" }})
	session := Stream{ID: "s1", Kind: KindSession, MeetingUUID: "sess", ServerURLs: "wss://a", State: StateStarted}
	e, err := newEvent(session, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Payload, []byte("sig(")) || e.Subject != "rtms_s1" || e.Type != EventStarted {
		t.Fatalf("stored: %s %s %s", e.Type, e.Subject, e.Payload)
	}
	first, err := s.CompleteEvent(e)
	again, _ := s.CompleteEvent(e)
	var sent struct {
		Data map[string]any `json:"data"`
	}
	if err != nil || json.Unmarshal(first, &sent) != nil || sent.Data["signature"] != "sig(sess,s1)" || sent.Data["session_id"] != "sess" ||
		!bytes.Equal(first, again) {
		t.Errorf("sent: %s %v", first, err)
	}
	session.State = StateStopped
	stopped, _ := newEvent(session, time.Unix(1_800_000_000, 0))
	if body, _ := s.CompleteEvent(stopped); !bytes.Equal(body, stopped.Payload) {
		t.Errorf("rtms.stopped changed on its way: %s", body)
	}
}
