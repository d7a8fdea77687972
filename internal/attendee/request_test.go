package attendee

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	req, err := ParseRequest([]byte(`{"bot_id":"bot_1","bot_metadata":{"zoomtoken_ref":["a","b"],"zoomtoken_user":"u@example.com","zoomtoken_zak":true,"other":{"x":1}},"callback_type":"zoom_tokens","meeting_url":"https://zoom.us/j/1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.BotID != "bot_1" || req.MeetingURL != "https://zoom.us/j/1" || !slices.Equal(req.Refs, []string{"a", "b"}) ||
		!slices.Equal(req.Users, []string{"u@example.com"}) || !req.ZAK {
		t.Errorf("got %+v", req)
	}
	// attendee's default: every metadata value a string.
	req, err = ParseRequest([]byte(`{"bot_metadata":{"zoomtoken_user":"u1","zoomtoken_zak":"true"},"callback_type":"zoom_tokens","meeting_url":"https://zoom.us/j/1"}`))
	if err != nil || !req.ZAK || !slices.Equal(req.Users, []string{"u1"}) {
		t.Errorf("string values: %+v %v", req, err)
	}
	req, err = ParseRequest([]byte(`{"bot_metadata":null,"callback_type":"zoom_tokens","meeting_url":"https://zoom.us/j/1"}`))
	if err != nil || req.Refs != nil || req.Users != nil || req.ZAK {
		t.Errorf("null metadata: %+v %v", req, err)
	}
}

func TestParseRequestRefusals(t *testing.T) {
	for body, want := range map[string]string{
		`[]`: "must be a JSON object",
		`{"callback_type":"bot_state","meeting_url":"u"}`:                                                                                    `unknown callback_type "bot_state"`,
		`{"meeting_url":"u"}`:                                                                                                                `unknown callback_type ""`,
		`{"callback_type":"zoom_tokens"}`:                                                                                                    "meeting_url is required",
		`{"callback_type":"zoom_tokens","meeting_url":7}`:                                                                                    "meeting_url must be a string",
		`{"callback_type":"zoom_tokens","meeting_url":"u","bot_metadata":"x"}`:                                                               "bot_metadata must be an object",
		`{"callback_type":"zoom_tokens","meeting_url":"u","bot_metadata":{"zoomtoken_ref":3}}`:                                               "zoomtoken_ref must be a string or a list",
		`{"callback_type":"zoom_tokens","meeting_url":"u","bot_metadata":{"zoomtoken_user":""}}`:                                             "zoomtoken_user has an empty name",
		`{"callback_type":"zoom_tokens","meeting_url":"u","bot_metadata":{"zoomtoken_zak":"yes"}}`:                                           "zoomtoken_zak must be true or false",
		`{"callback_type":"zoom_tokens","meeting_url":"u","bot_metadata":{"zoomtoken_ref":["1","2","3","4","5","6","7","8","9","10","11"]}}`: "more than 10",
	} {
		if _, err := ParseRequest([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"bot_id":"b","bot_metadata":{"zoomtoken_ref":["a"],"zoomtoken_zak":true},"callback_type":"zoom_tokens","meeting_url":"https://zoom.us/j/1"}`))
	f.Add([]byte(`{"callback_type":"zoom_tokens","meeting_url":"x","bot_metadata":{"zoomtoken_user":"u"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			return
		}
		if req.MeetingURL == "" || len(req.Refs)+len(req.Users) > MaxNames || slices.Contains(req.Refs, "") || slices.Contains(req.Users, "") {
			t.Fatalf("accepted %q as %+v", body, req)
		}
	})
}
