package sdkjwt

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Request
	}{
		{"empty body", "", Request{ExpirationSeconds: 7200}},
		{"whitespace body", " \n\t", Request{ExpirationSeconds: 7200}},
		{"empty object", "{}", Request{ExpirationSeconds: 7200}},
		{"string meeting, numeric role", `{"meetingNumber":"123","role":0}`,
			Request{MeetingNumber: MeetingNumber{"123", true}, Role: 0, ExpirationSeconds: 7200}},
		{"numeric meeting, string role", `{"meetingNumber":123,"role":"1"}`,
			Request{MeetingNumber: MeetingNumber{"123", false}, Role: 1, ExpirationSeconds: 7200}},
		{"meeting zero as a number", `{"meetingNumber":0,"role":0}`,
			Request{MeetingNumber: MeetingNumber{"0", false}, ExpirationSeconds: 7200}},
		{"negative zero is zero", `{"meetingNumber":-0,"role":-0}`,
			Request{MeetingNumber: MeetingNumber{"0", false}, ExpirationSeconds: 7200}},
		{"role 1.0 is 1", `{"meetingNumber":"1","role":1.0}`,
			Request{MeetingNumber: MeetingNumber{"1", true}, Role: 1, ExpirationSeconds: 7200}},
		{"largest safe integer", `{"meetingNumber":9007199254740991,"role":0}`,
			Request{MeetingNumber: MeetingNumber{"9007199254740991", false}, ExpirationSeconds: 7200}},
		{"long meeting number as a string", `{"meetingNumber":"98765432109876543210","role":0}`,
			Request{MeetingNumber: MeetingNumber{"98765432109876543210", true}, ExpirationSeconds: 7200}},
		{"escaped digits in a string", `{"meetingNumber":"\u0031\u0032","role":0}`,
			Request{MeetingNumber: MeetingNumber{"12", true}, ExpirationSeconds: 7200}},
		{"expiration lower bound, string", `{"expirationSeconds":"1800"}`, Request{ExpirationSeconds: 1800}},
		{"expiration upper bound, number", `{"expirationSeconds":172800}`, Request{ExpirationSeconds: 172800}},
		{"expiration in exponent form", `{"expirationSeconds":3.6e3}`, Request{ExpirationSeconds: 3600}},
		{"video mode 0", `{"videoWebRtcMode":0}`, Request{ExpirationSeconds: 7200, HasVideoWebRTCMode: true}},
		{"video mode \"1\"", `{"videoWebRtcMode":"1"}`,
			Request{ExpirationSeconds: 7200, VideoWebRTCMode: 1, HasVideoWebRTCMode: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // properties, in the order reported
	}{
		{"meeting without role", `{"meetingNumber":"1"}`, []string{"$schema"}},
		{"role without meeting", `{"role":0}`, []string{"$schema"}},
		{"null counts as present", `{"meetingNumber":null}`, []string{"$schema", "meetingNumber"}},
		{"meeting with letters", `{"meetingNumber":"12a","role":0}`, []string{"meetingNumber"}},
		{"meeting empty string", `{"meetingNumber":"","role":0}`, []string{"meetingNumber"}},
		{"meeting with spaces", `{"meetingNumber":"123 456","role":0}`, []string{"meetingNumber"}},
		{"meeting negative", `{"meetingNumber":-5,"role":0}`, []string{"meetingNumber"}},
		{"meeting fractional", `{"meetingNumber":1.5,"role":0}`, []string{"meetingNumber"}},
		{"meeting beyond safe integers", `{"meetingNumber":9007199254740992,"role":0}`, []string{"meetingNumber"}},
		{"meeting 1e400", `{"meetingNumber":1e400,"role":0}`, []string{"meetingNumber"}},
		{"meeting object", `{"meetingNumber":{"a":1},"role":0}`, []string{"meetingNumber"}},
		{"meeting boolean", `{"meetingNumber":true,"role":0}`, []string{"meetingNumber"}},
		{"role 2", `{"meetingNumber":"1","role":2}`, []string{"role"}},
		{"role 1.5", `{"meetingNumber":"1","role":1.5}`, []string{"role"}},
		{"role 1abc", `{"meetingNumber":"1","role":"1abc"}`, []string{"role"}},
		{"role with a space", `{"meetingNumber":"1","role":" 1"}`, []string{"role"}},
		{"role null", `{"meetingNumber":"1","role":null}`, []string{"role"}},
		{"role tiny fraction", `{"meetingNumber":"1","role":1.0000000000000000001}`, []string{"role"}},
		{"expiration too short", `{"expirationSeconds":1799}`, []string{"expirationSeconds"}},
		{"expiration too long", `{"expirationSeconds":"172801"}`, []string{"expirationSeconds"}},
		{"expiration fractional", `{"expirationSeconds":3600.5}`, []string{"expirationSeconds"}},
		{"expiration fractional string", `{"expirationSeconds":"3600.0"}`, []string{"expirationSeconds"}},
		{"expiration zero", `{"expirationSeconds":0}`, []string{"expirationSeconds"}},
		{"expiration negative", `{"expirationSeconds":-3600}`, []string{"expirationSeconds"}},
		{"expiration huge string", `{"expirationSeconds":"99999999999999999999999"}`, []string{"expirationSeconds"}},
		{"expiration null", `{"expirationSeconds":null}`, []string{"expirationSeconds"}},
		{"video mode 2", `{"videoWebRtcMode":2}`, []string{"videoWebRtcMode"}},
		{"every problem, in contract order", `{"videoWebRtcMode":"x","expirationSeconds":1,"role":7,"meetingNumber":"x"}`,
			[]string{"meetingNumber", "role", "expirationSeconds", "videoWebRtcMode"}},
		{"schema rule before field problems", `{"videoWebRtcMode":9,"role":7}`,
			[]string{"$schema", "role", "videoWebRtcMode"}},
		{"malformed JSON", `{"meetingNumber":`, []string{"body"}},
		{"trailing garbage", `{} x`, []string{"body"}},
		{"two objects", `{}{}`, []string{"body"}},
		{"array", `[1,2]`, []string{"body"}},
		{"null body", `null`, []string{"body"}},
		{"string body", `"meetingNumber"`, []string{"body"}},
		{"not JSON at all", `meetingNumber=1&role=0`, []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("got %v, want *ValidationError", err)
			}
			var got []string
			for _, fe := range verr.Errors {
				got = append(got, fe.Property)
				if fe.Reason == "" {
					t.Errorf("%s has no reason", fe.Property)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestWholeNumber(t *testing.T) {
	tests := []struct {
		lit     string
		want    uint64
		problem bool
	}{
		{"0", 0, false}, {"-0", 0, false}, {"-0.0e-7", 0, false}, {"10", 10, false}, {"1e1", 10, false},
		{"100e-2", 1, false}, {"1.50e1", 15, false}, {"0.5", 0, true}, {"1e-1", 0, true}, {"-1", 0, true},
		{"1e16", 0, true}, {"9999999999999999", 9999999999999999, false}, {"1e99999999999999999999", 0, true},
		{"1e-99999999999999999999", 0, true}, {"0e99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, problem := wholeNumber(tt.lit)
		if got != tt.want || (problem != "") != tt.problem {
			t.Errorf("wholeNumber(%s): got %d %q, want %d (problem %v)", tt.lit, got, problem, tt.want, tt.problem)
		}
	}
}

func FuzzDecodeAndSign(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"meetingNumber":"123456789","role":0}`, `{"meetingNumber":123456789,"role":1}`,
		`{"meetingNumber":1e400,"role":0}`, `{"meetingNumber":-0,"role":-0}`, `{"meetingNumber":123456789012345678901234567890,"role":0}`,
		`{"meetingNumber":{"nested":{"deep":[1,2,{"x":null}]}},"role":[0]}`, `{"role":0,"role":1,"meetingNumber":"1","meetingNumber":2}`,
		"{\"meetingNumber\":\"\xff\xfe\",\"role\":0}", "{\"k\xff\":1}", `{"expirationSeconds":"1800","videoWebRtcMode":"1"}`,
		`{"expirationSeconds":1.8e3}`, `{"expirationSeconds":1e-400}`, `[]`, `null`, `"x"`, `{"a":}`, `{} {}`,
		`{"meetingNumber":"\u0031","role":"\u0030"}`, `{"videoWebRtcMode":true}`,
	} {
		f.Add([]byte(seed))
	}
	signer := NewSigner(testKey, []byte(testSecret), time.Now)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) == 0 {
				t.Fatalf("error is not a non-empty *ValidationError: %v", err)
			}
			for _, fe := range verr.Errors {
				if fe.Property == "" || fe.Reason == "" || !utf8.ValidString(fe.Reason) {
					t.Fatalf("malformed field error %+v", fe)
				}
			}
			return
		}
		if req.ExpirationSeconds < MinExpirationSeconds || req.ExpirationSeconds > MaxExpirationSeconds {
			t.Fatalf("accepted lifetime %d", req.ExpirationSeconds)
		}
		if strings.Trim(req.MeetingNumber.Digits, "0123456789") != "" {
			t.Fatalf("accepted meeting number %q", req.MeetingNumber.Digits)
		}
		token, err := signer.Sign(req)
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
			jwt.WithValidMethods([]string{"HS256"})); err != nil {
			t.Fatalf("signed token does not verify: %v", err)
		}
		_, hasMN := claims["mn"]
		_, hasRole := claims["role"]
		if hasMN != !req.MeetingNumber.IsZero() || hasRole != hasMN {
			t.Fatalf("mn/role claims %v/%v for request %+v", hasMN, hasRole, req)
		}
	})
}

// scanObject must see exactly what encoding/json sees when it decodes the body into a map: the
// same verdict on validity, and the same raw value (or absence) for every property Decode and
// DecodeVideo read.
var meetingProperties = []string{"meetingNumber", "role", "expirationSeconds", "videoWebRtcMode"}

func FuzzScanObjectMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{`{}`, ` { "role" : 1 , "x":[{"role":2}] } `, `{"\u0072ole":"1","role":0}`,
		`{"meetingNumber":"a\"b","expirationSeconds":1e3}`, `{"a":"}","role":[1,{"]":"["}]}`, `[]`, `{"role":1}x`,
		"{\"role\":1\u00a0}", `{"videoWebRtcMode":null,"meetingNumber":true}`, "{\"k\xff\":1,\"role\":\"\xfe\"}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := map[string][]byte{}
		gotErr := scanObject(body, func(name, value []byte) { got[string(name)] = value })
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(body, &want)
		if len(strings.Trim(string(body), " \t\r\n")) == 0 {
			wantErr, want = nil, map[string]json.RawMessage{}
		} else if wantErr == nil && want == nil {
			wantErr = errors.New("null is not an object")
		}
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("scanObject error %v, encoding/json error %v", gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		for _, name := range append(meetingProperties, videoProperties...) {
			gotRaw := got[name]
			wantRaw, present := want[name]
			if (gotRaw != nil) != present || string(gotRaw) != string(wantRaw) {
				t.Fatalf("%s: scanObject %q (present %v), encoding/json %q (present %v)", name, gotRaw, gotRaw != nil, wantRaw, present)
			}
		}
	})
}

func TestSampleLeniencyKeptWhereSafe(t *testing.T) {
	for body, want := range map[string]int{
		`{"expirationSeconds":"00000003600"}`:           3600,
		`{"expirationSeconds":"000000000000000001800"}`: 1800,
		"\xef\xbb\xbf{\"expirationSeconds\":3600}":      3600, // a UTF-8 byte-order mark
	} {
		req, err := Decode([]byte(body))
		if err != nil || req.ExpirationSeconds != want {
			t.Errorf("%q: %v %v, want %d", body, req.ExpirationSeconds, err, want)
		}
	}
	if _, err := Decode([]byte(`{"expirationSeconds":"10000000000"}`)); err == nil {
		t.Errorf("an 11-digit expirationSeconds was accepted")
	}
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	_, err := Decode([]byte(`{"role":` + deep + `}`))
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(verr.Errors[0].Reason, "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}
