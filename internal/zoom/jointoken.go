package zoom

import (
	"fmt"
	"net/url"
	"strconv"
)

// JoinTokenKind is the kind of meeting join token.
type JoinTokenKind string

// The join token kinds Zoom issues.
const (
	LocalRecording JoinTokenKind = "local_recording"
	LiveStreaming  JoinTokenKind = "live_streaming"
	LocalArchiving JoinTokenKind = "local_archiving"
)

// ScopeZAK is the scope an S2S app needs for ZAK.
const ScopeZAK = "user:read:token:admin"

// Scope returns the scope an S2S app needs for join tokens of this kind.
func (k JoinTokenKind) Scope() string {
	return "meeting:read:" + string(k) + "_token:admin"
}

// JoinTokenKinds lists every kind, the default (LocalRecording) first.
func JoinTokenKinds() []JoinTokenKind {
	return []JoinTokenKind{LocalRecording, LiveStreaming, LocalArchiving}
}

// ParseJoinTokenKind returns the kind named s.
func ParseJoinTokenKind(s string) (JoinTokenKind, bool) {
	switch k := JoinTokenKind(s); k {
	case LocalRecording, LiveStreaming, LocalArchiving:
		return k, true
	}
	return "", false
}

func joinTokenRequest(meetingID int64, kind JoinTokenKind, bypassWaitingRoom bool) (string, url.Values, error) {
	if _, ok := ParseJoinTokenKind(string(kind)); !ok {
		return "", nil, fmt.Errorf("zoom: unknown join token kind %q", kind)
	}
	query := url.Values{}
	if bypassWaitingRoom {
		query.Set("bypass_waiting_room", "true")
	}
	return "/v2/meetings/" + strconv.FormatInt(meetingID, 10) + "/jointoken/" + string(kind), query, nil
}
