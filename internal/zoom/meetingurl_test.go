package zoom

import (
	"strings"
	"testing"
)

func TestMeetingIDFromURL(t *testing.T) {
	for raw, want := range map[string]int64{
		"https://zoom.us/j/85012345678":                                   85012345678,
		"https://us02web.zoom.us/j/85012345678?pwd=aBcD1234.1":            85012345678,
		"https://acme.zoom.us/j/85012345678?pwd=x#success":                85012345678,
		"https://zoom.us/w/93012345678?tk=abc&pwd=p":                      93012345678,
		"https://zoom.us/s/85012345678?zak=whatever":                      85012345678,
		"https://app.zoom.us/wc/85012345678/join?fromPWA=1&pwd=x":         85012345678,
		"https://zoom.us/wc/join/85012345678":                             85012345678,
		"https://zoom.us/join?confno=85012345678&pwd=x":                   85012345678,
		"zoommtg://zoom.us/join?action=join&confno=85012345678&pwd=x":     85012345678,
		"https://company.zoomgov.com/j/1601234567":                        1601234567,
		"https://zoom.com/j/123456789/":                                   123456789,
		"  https://ZOOM.US/j/85012345678  ":                               85012345678,
		"http://us06web.zoom.us/j/85012345678?uname=Bot&pwd=x&from=addon": 85012345678,
	} {
		got, err := MeetingIDFromURL(raw)
		if err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", raw, got, err, want)
		}
	}
}

func TestMeetingIDFromURLRefusals(t *testing.T) {
	for raw, want := range map[string]string{
		"https://teams.microsoft.com/l/meetup-join/abc": `host "teams.microsoft.com" is not Zoom's`,
		"https://meet.google.com/abc-defg-hij":          `host "meet.google.com" is not Zoom's`,
		"https://zoom.us.evil.example/j/85012345678":    "is not Zoom's",
		"https://evilzoom.us/j/85012345678":             "is not Zoom's",
		"https://zoom.us/my/alice.smith":                "personal link name",
		"https://zoom.us/j/8501234abc":                  "not a number",
		"https://zoom.us/j/99999999999999999999999":     "not a number",
		"https://zoom.us/meeting/85012345678":           "no meeting id",
		"ftp://zoom.us/j/85012345678":                   "not a Zoom meeting link",
		"85012345678":                                   "not a Zoom meeting link",
		"https://zoom.us/j/85012345678%zz":              "not a URL",
	} {
		_, err := MeetingIDFromURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pwd") {
			t.Errorf("%q: the error repeats the link: %v", raw, err)
		}
	}
}

func FuzzMeetingIDFromURL(f *testing.F) {
	f.Add("https://us02web.zoom.us/j/85012345678?pwd=x")
	f.Add("zoommtg://zoom.us/join?confno=1")
	f.Add("https://zoom.us/wc/join/1")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := MeetingIDFromURL(raw)
		if err == nil && id <= 0 {
			t.Fatalf("%q: id %d without an error", raw, id)
		}
	})
}
