package attendee

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CallbackType is the one callback_type zoomtoken serves.
const CallbackType = "zoom_tokens"

// MaxNames caps the connections one request may name: each costs a call to Zoom.
const MaxNames = 10

// Metadata keys a bot's bot_metadata may carry for zoomtoken.
const (
	MetaRef  = "zoomtoken_ref"
	MetaUser = "zoomtoken_user"
	MetaZAK  = "zoomtoken_zak"
)

// Request is a verified zoom_tokens callback, read.
type Request struct {
	// BotID is attendee's id of the bot; it names the request in logs.
	BotID string
	// MeetingURL is the link the bot is joining, as the operator gave it to attendee.
	MeetingURL string
	// Refs and Users name the connected accounts whose OBF tokens the bot tries, refs first,
	// each in the order given.
	Refs, Users []string
	// Named says bot_metadata names connections (zoomtoken_ref or zoomtoken_user is there), even
	// if no name in it could be read: the meeting's host then stands in for nobody.
	Named bool
	// ZAK asks for a ZAK as well (bot_metadata.zoomtoken_zak: true, "true" in any case, or "1").
	ZAK bool
	// Problems are the bot_metadata values that could not be read, in the operator's terms: the
	// tokens they affect are left out, and the others still answered (attendee makes one attempt
	// and joins with whatever it got).
	Problems []string
}

// ParseRequest reads a callback's body. Its errors are the 400's reason, in the caller's terms.
func ParseRequest(body []byte) (Request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return Request{}, errors.New("the body must be a JSON object")
	}
	var req Request
	var callbackType string
	if err := optionalString(fields, "callback_type", &callbackType); err != nil {
		return Request{}, err
	}
	if callbackType != CallbackType {
		return Request{}, fmt.Errorf("unknown callback_type %.40q: only %q is served here", callbackType, CallbackType)
	}
	if err := optionalString(fields, "bot_id", &req.BotID); err != nil {
		return Request{}, err
	}
	if err := optionalString(fields, "meeting_url", &req.MeetingURL); err != nil {
		return Request{}, err
	}
	if req.MeetingURL == "" {
		return Request{}, errors.New("meeting_url is required")
	}

	var meta map[string]json.RawMessage
	if raw, ok := fields["bot_metadata"]; ok && json.Unmarshal(raw, &meta) != nil {
		req.Problems = append(req.Problems, "bot_metadata is not an object: its names and zoomtoken_zak are ignored")
		req.Named = true // whoever it named, the host is not them
		meta = nil
	}
	req.Refs = req.names(meta, MetaRef)
	req.Users = req.names(meta, MetaUser)
	if n := len(req.Refs) + len(req.Users); n > MaxNames {
		req.Problems = append(req.Problems, fmt.Sprintf("bot_metadata names %d connections: only the first %d are used", n, MaxNames))
		if len(req.Refs) > MaxNames {
			req.Refs = req.Refs[:MaxNames]
		}
		req.Users = req.Users[:MaxNames-len(req.Refs)]
	}
	req.ZAK = req.flag(meta, MetaZAK)
	return req, nil
}

// flag reads a metadata key that holds true or false: a boolean, or a string true/false in any
// letter case or 1/0 (attendee, by default, refuses metadata whose values are not strings).
// Anything else is a problem, and false.
func (req *Request) flag(meta map[string]json.RawMessage, key string) bool {
	raw, ok := meta[key]
	if !ok || string(raw) == "null" {
		return false
	}
	var text string
	if json.Unmarshal(raw, &text) != nil {
		text = string(raw) // true, false, 1, 0 as JSON literals
	}
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "true", "1":
		return true
	case "false", "0", "":
		return false
	}
	req.Problems = append(req.Problems, fmt.Sprintf("bot_metadata.%s is not true or false: no ZAK is fetched", key))
	return false
}

// names reads a metadata key that holds names: a string, comma-separated for several
// (attendee's own convention), or a list of such strings. Each name is trimmed; empty ones and
// values of another kind are problems, and left out.
func (req *Request) names(meta map[string]json.RawMessage, key string) []string {
	raw, ok := meta[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	req.Named = true
	var list []string
	var one string
	switch {
	case json.Unmarshal(raw, &one) == nil:
		list = []string{one}
	case json.Unmarshal(raw, &list) == nil:
	default:
		req.Problems = append(req.Problems, fmt.Sprintf("bot_metadata.%s is not a string (comma-separated for several) or a list of strings: its names are ignored", key))
		return nil
	}
	var found []string
	empty, unreadable := false, false
	for _, item := range list {
		for name := range strings.SplitSeq(item, ",") {
			switch name = strings.TrimSpace(name); {
			case name == "":
				empty = true
			case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
				unreadable = true
			default:
				found = append(found, name)
			}
		}
	}
	if empty {
		req.Problems = append(req.Problems, fmt.Sprintf("bot_metadata.%s has an empty name, which is ignored", key))
	}
	if unreadable {
		req.Problems = append(req.Problems, fmt.Sprintf("bot_metadata.%s has a name with a control character (such as NUL), which is ignored", key))
	}
	return found
}

// optionalString reads a string field; absent or null leaves dst empty.
func optionalString(fields map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s must be a string", name)
	}
	return nil
}

// names reads a metadata key that holds one name or a list of them.
func names(meta map[string]json.RawMessage, key string) ([]string, error) {
	raw, ok := meta[key]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		raw = json.RawMessage(`[` + string(raw) + `]`)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("bot_metadata.%s must be a string or a list of strings", key)
	}
	for _, name := range list {
		if name == "" {
			return nil, fmt.Errorf("bot_metadata.%s has an empty name", key)
		}
	}
	return list, nil
}
