package rtms

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestApplyIsIdempotentMovesAndStoppedIsFinal(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	webhook := func(state State, servers string) Change {
		return Change{Kind: KindMeeting, State: state, Stream: Stream{ID: "s", MeetingUUID: "u", MeetingID: 1, ServerURLs: servers}}
	}
	started := Stream{ID: "s", Kind: KindMeeting, MeetingUUID: "u", MeetingID: 1, ServerURLs: "wss://a", State: StateStarted,
		StartedAt: t0, UpdatedAt: t0}
	interrupted := started
	interrupted.State = StateInterrupted
	for _, tc := range []struct {
		name    string
		cur     Stream
		found   bool
		change  Change
		want    State
		event   string
		servers string
	}{
		{"a new stream", Stream{}, false, webhook(StateStarted, "wss://a"), StateStarted, EventStarted, "wss://a"},
		{"a repeated start", started, true, webhook(StateStarted, "wss://a"), StateStarted, "", "wss://a"},
		{"a move", started, true, webhook(StateStarted, "wss://b"), StateStarted, EventMoved, "wss://b"},
		{"an interruption", started, true, webhook(StateInterrupted, ""), StateInterrupted, EventInterrupted, "wss://a"},
		{"a repeated interruption", interrupted, true, webhook(StateInterrupted, ""), StateInterrupted, "", "wss://a"},
		{"a move while interrupted", interrupted, true, webhook(StateStarted, "wss://b"), StateStarted, EventMoved, "wss://b"},
		{"back after an interruption, same server", interrupted, true, webhook(StateStarted, "wss://a"), StateStarted, "", "wss://a"},
		{"a stop", started, true, webhook(StateStopped, ""), StateStopped, EventStopped, "wss://a"},
		{"a start after the stop", Stream{State: StateStopped, ServerURLs: "wss://a"}, true, webhook(StateStarted, "wss://b"), StateStopped, "", "wss://a"},
		{"a stop first heard of", Stream{}, false, webhook(StateStopped, ""), StateStopped, EventStopped, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, event, changed := apply(tc.cur, tc.found, tc.change, t0.Add(time.Minute))
			if next.State != tc.want || event != tc.event || next.ServerURLs != tc.servers {
				t.Errorf("got %s, event %q, servers %q; want %s, %q, %q", next.State, event, next.ServerURLs, tc.want, tc.event, tc.servers)
			}
			if event != "" && !changed {
				t.Errorf("an event without a change")
			}
			if changed && tc.found && !next.StartedAt.Equal(tc.cur.StartedAt) {
				t.Errorf("started_at moved from %v to %v", tc.cur.StartedAt, next.StartedAt)
			}
		})
	}
}

// A stop keeps Zoom's reason, and the stream object says whether it can be restarted.
func TestStopReasonAndRestartable(t *testing.T) {
	started := Stream{ID: "s", Kind: KindMeeting, MeetingUUID: "u", MeetingID: 81112223333, ServerURLs: "wss://rtms-sjc1.zoom.us/x",
		State: StateStarted, AccountID: "acct"}
	for reason, restartable := range map[int]bool{6: false, 1: false, 10: true, 13: true, 18: true, 19: true, 20: false, 24: true, 25: false} {
		stop := Change{Kind: KindMeeting, State: StateStopped, Stream: Stream{ID: "s", StopReason: reason}}
		next, event, _ := apply(started, true, stop, time.Now())
		j := next.join("")
		if event != EventStopped || j.StopReason == nil || *j.StopReason != reason || *j.Restartable != restartable {
			t.Errorf("reason %d: %+v", reason, j)
		}
		msg := (&StoppedError{StopReason: reason}).Error()
		if strings.Contains(msg, "/admin/rtms/start") != restartable || !strings.Contains(msg, StopReasonText(reason)) {
			t.Errorf("reason %d says %q", reason, msg)
		}
	}
	if msg := (&StoppedError{StopReason: 18}).Error(); !strings.Contains(msg, "same signature fails again") {
		t.Errorf("an authentication failure: %q", msg)
	}
	if !errors.Is(&StoppedError{StopReason: 6}, ErrStopped) {
		t.Errorf("a StoppedError is not ErrStopped")
	}
	j := started.join("sig")
	if j.StopReason != nil || j.Restartable != nil || j.MeetingID != "81112223333" || j.AccountID != "acct" || j.Region != "sjc1" ||
		j.Reconnect != (Reconnect{60, 30}) {
		t.Errorf("a live stream: %+v", j)
	}
}

func TestRegion(t *testing.T) {
	for url, want := range map[string]string{
		"wss://rtms-sjc1.zoom.us/signaling":      "sjc1",
		"wss://RTMS-FRA1.zoom.us":                "fra1",
		"wss://zoomfra12.rtms.fra12.zoom.us/a/b": "fra12",
		"wss://rtms.zoom.us/signaling":           "",
		"ws://127.0.0.1:9900/rtms/signaling":     "",
		"ws://localhost:1/rtms":                  "",
		"::not a url":                            "",
	} {
		if got := Region(url); got != want {
			t.Errorf("Region(%q) = %q, want %q", url, got, want)
		}
	}
}

// The stored payload holds no signature; the one sent has it (rtms.started and rtms.moved), the
// same bytes every attempt, and a session's is made with the Video SDK app's recipe.
func TestCompleteEventAddsTheSignatureOnly(t *testing.T) {
	s := NewService(Config{
		Sign:        func(id, stream string) string { return "general(" + id + "," + stream + ")" },
		SignSession: func(id, stream string) string { return "videosdk(" + id + "," + stream + ")" }})
	session := Stream{ID: "s1", Kind: KindSession, MeetingUUID: "sess", ServerURLs: "wss://a", State: StateStarted}
	meeting := Stream{ID: "s2", Kind: KindWebinar, MeetingUUID: "web", ServerURLs: "wss://a", State: StateStarted}
	for _, tc := range []struct {
		event  string
		stream Stream
		want   string
	}{{EventStarted, session, "videosdk(sess,s1)"}, {EventMoved, session, "videosdk(sess,s1)"}, {EventStarted, meeting, "general(web,s2)"}} {
		e, err := newEvent(tc.event, tc.stream, time.Unix(1_800_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(e.Payload, []byte("(")) || e.Subject != "rtms_"+tc.stream.ID || e.Type != tc.event {
			t.Fatalf("stored: %s %s %s", e.Type, e.Subject, e.Payload)
		}
		first, err := s.CompleteEvent(e)
		again, _ := s.CompleteEvent(e)
		var sent struct {
			Data map[string]any `json:"data"`
		}
		if err != nil || json.Unmarshal(first, &sent) != nil || sent.Data["signature"] != tc.want || !bytes.Equal(first, again) {
			t.Errorf("%s sent: %s %v", tc.event, first, err)
		}
	}
	session.State = StateStopped
	stopped, _ := newEvent(EventStopped, session, time.Unix(1_800_000_000, 0))
	if body, _ := s.CompleteEvent(stopped); !bytes.Equal(body, stopped.Payload) {
		t.Errorf("rtms.stopped changed on its way: %s", body)
	}
	unsigned := NewService(Config{Sign: s.cfg.Sign})
	started, _ := newEvent(EventStarted, Stream{ID: "s1", Kind: KindSession, MeetingUUID: "sess", State: StateStarted}, time.Now())
	if body, err := unsigned.CompleteEvent(started); !errors.Is(err, ErrUnsigned) || body != nil {
		t.Errorf("a session without a Video SDK app: %s %v", body, err)
	}
}

// Region reads a URL Zoom's webhook names: whatever it holds, the answer is empty or a lower-case
// data-centre code that the host spells.
func FuzzRegion(f *testing.F) {
	for _, seed := range []string{"wss://rtms-sjc1.zoom.us/x", "wss://RTMS-FRA12.zoom.us", "ws://127.0.0.1:1", "::", "wss://a-b-c.d", "wss://abc1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		region := Region(raw)
		if region == "" {
			return
		}
		if !dataCentre(region) || !strings.Contains(strings.ToLower(raw), region) {
			t.Fatalf("Region(%q) = %q", raw, region)
		}
	})
}
