package attendee

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// each in the order given. Both empty means the meeting's host.
	Refs, Users []string
	// ZAK asks for a ZAK as well (bot_metadata.zoomtoken_zak: true, or "true").
	ZAK bool
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
	if raw, ok := fields["bot_metadata"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return Request{}, errors.New("bot_metadata must be an object or null")
		}
	}
	var err error
	if req.Refs, err = names(meta, MetaRef); err != nil {
		return Request{}, err
	}
	if req.Users, err = names(meta, MetaUser); err != nil {
		return Request{}, err
	}
	if len(req.Refs)+len(req.Users) > MaxNames {
		return Request{}, fmt.Errorf("bot_metadata names more than %d connections", MaxNames)
	}
	if req.ZAK, err = flag(meta, MetaZAK); err != nil {
		return Request{}, err
	}
	return req, nil
}

// flag reads a metadata key that holds true or false, as a boolean or as the string "true" or
// "false": attendee, by default, refuses metadata whose values are not strings.
func flag(meta map[string]json.RawMessage, key string) (bool, error) {
	switch string(meta[key]) {
	case "", "null", "false", `"false"`:
		return false, nil
	case "true", `"true"`:
		return true, nil
	}
	return false, fmt.Errorf("bot_metadata.%s must be true or false", key)
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
