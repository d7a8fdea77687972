package httpapi

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// parseMeetingID decodes the meeting_id query parameter: whatever it accepts must be a positive
// id whose decimal form is the input without its spaces and dashes.
func FuzzParseMeetingID(f *testing.F) {
	for _, seed := range []string{"123456789", "123-456-789", "123 456 789", "../../users/me", "%2e%2e%2f", "12a", "",
		"9223372036854775807", "9223372036854775808", "-1", "0", "１２３", "1\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, problem := parseMeetingID(raw)
		if problem != "" {
			if id != 0 {
				t.Fatalf("refused %q but returned %d", raw, id)
			}
			return
		}
		stripped := strings.NewReplacer(" ", "", "-", "").Replace(raw)
		if id <= 0 || strings.TrimLeft(stripped, "0") != strconv.FormatInt(id, 10) {
			t.Fatalf("accepted %q as %d", raw, id)
		}
	})
}

// redactQuery decodes the raw query of every request: no value of a key outside the allow-list
// may survive it.
func FuzzRedactQuery(f *testing.F) {
	for _, seed := range []string{"secret=abc&meeting_id=1", "a=1&a=2", "%zz", "secret", "=x", "meeting_id=%00", "type=a;secret=b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := redactQuery(raw)
		values, err := url.ParseQuery(out)
		if err != nil {
			t.Fatalf("redacted query %q does not parse: %v", out, err)
		}
		for k, vs := range values {
			for _, v := range vs {
				harmless := k == "meeting_id" || k == "type" || k == "bypass_waiting_room"
				if !harmless && v != "REDACTED" {
					t.Fatalf("%q kept %s=%q", raw, k, v)
				}
			}
		}
	})
}
