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
		`{"callback_type":"bot_state","meeting_url":"u"}`: `unknown callback_type "bot_state"`,
		`{"meeting_url":"u"}`:                             `unknown callback_type ""`,
		`{"callback_type":"zoom_tokens"}`:                 "meeting_url is required",
		`{"callback_type":"zoom_tokens","meeting_url":7}`: "meeting_url must be a string",
	} {
		if _, err := ParseRequest([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// A bad bot_metadata value costs only what it names: it is a problem the log shows, and every
// other value is still read.
func TestMetadataProblemsCostOnlyWhatTheyName(t *testing.T) {
	for _, tc := range []struct {
		meta        string
		refs, users []string
		zak, named  bool
		problem     string
	}{
		{`{"zoomtoken_zak":"True","zoomtoken_ref":"a"}`, []string{"a"}, nil, true, true, ""},
		{`{"zoomtoken_zak":"1"}`, nil, nil, true, false, ""},
		{`{"zoomtoken_zak":"0","zoomtoken_user":"u"}`, nil, []string{"u"}, false, true, ""},
		{`{"zoomtoken_zak":"FALSE"}`, nil, nil, false, false, ""},
		{`{"zoomtoken_zak":"yes","zoomtoken_ref":"a"}`, []string{"a"}, nil, false, true, "zoomtoken_zak is not true or false"},
		{`{"zoomtoken_ref":"a, b ,c","zoomtoken_zak":true}`, []string{"a", "b", "c"}, nil, true, true, ""},
		{`{"zoomtoken_ref":["a,b","c"]}`, []string{"a", "b", "c"}, nil, false, true, ""},
		{`{"zoomtoken_ref":"","zoomtoken_user":"u","zoomtoken_zak":"true"}`, nil, []string{"u"}, true, true, "has an empty name"},
		{`{"zoomtoken_ref":3,"zoomtoken_user":"u"}`, nil, []string{"u"}, false, true, "zoomtoken_ref is not a string"},
		{`{"zoomtoken_ref":"1,2,3,4,5,6,7,8,9,10,11","zoomtoken_user":"u"}`, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, nil, false, true, "only the first 10"},
		{`"not an object"`, nil, nil, false, true, "bot_metadata is not an object"},
	} {
		req, err := ParseRequest([]byte(`{"bot_metadata":` + tc.meta + `,"callback_type":"zoom_tokens","meeting_url":"https://zoom.us/j/1"}`))
		problems := strings.Join(req.Problems, "; ")
		if err != nil || !slices.Equal(req.Refs, tc.refs) || !slices.Equal(req.Users, tc.users) || req.ZAK != tc.zak || req.Named != tc.named ||
			(tc.problem == "") != (problems == "") || !strings.Contains(problems, tc.problem) {
			t.Errorf("%s: %+v %v, want refs %v users %v zak %v named %v, problem %q", tc.meta, req, err, tc.refs, tc.users, tc.zak, tc.named, tc.problem)
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
