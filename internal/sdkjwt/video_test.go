package sdkjwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var videoProperties = []string{"role", "sessionName", "expirationSeconds", "userIdentity", "sessionKey", "geoRegions",
	"cloudRecordingOption", "cloudRecordingElection", "telemetryTrackingId", "videoWebRtcMode", "audioWebRtcMode",
	"audioCompatibleMode", "userKey", "cloudRecordingTranscriptOption"}

func testVideoSigner() *VideoSigner {
	return NewVideoSigner("testKey", []byte("testSecretXyz"), func() time.Time { return time.Unix(1700000000, 0) })
}

func signVideo(tb testing.TB, body string) (string, error) {
	tb.Helper()
	req, err := DecodeVideo([]byte(body))
	if err != nil {
		return "", err
	}
	return testVideoSigner().Sign(req)
}

// The reference vectors of ZOOM.md, checked there against the sample's own jsrsasign.
func TestVideoSignMatchesZoomSample(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"role":1,"sessionName":"test-session"}`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBfa2V5IjoidGVzdEtleSIsInJvbGVfdHlwZSI6MSwidHBjIjoidGVzdC1zZXNzaW9uIiwidmVyc2lvbiI6MSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDcyMDB9.TjWJ84-1xQpOHC1tfFnHBuDc0dkxnc9-zG9mP2VZfhs"},
		{`{"role":0,"sessionName":"Café <team> & co","expirationSeconds":3600,"userIdentity":"u1","sessionKey":"k1","geoRegions":"US, DE","cloudRecordingOption":1,"cloudRecordingElection":0,"telemetryTrackingId":"t-1","videoWebRtcMode":1,"audioWebRtcMode":1}`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBfa2V5IjoidGVzdEtleSIsInJvbGVfdHlwZSI6MCwidHBjIjoiQ2Fmw6kgPHRlYW0-ICYgY28iLCJ2ZXJzaW9uIjoxLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwidXNlcl9pZGVudGl0eSI6InUxIiwic2Vzc2lvbl9rZXkiOiJrMSIsImdlb19yZWdpb25zIjoiVVMsREUiLCJjbG91ZF9yZWNvcmRpbmdfb3B0aW9uIjoxLCJjbG91ZF9yZWNvcmRpbmdfZWxlY3Rpb24iOjAsInRlbGVtZXRyeV90cmFja2luZ19pZCI6InQtMSIsInZpZGVvX3dlYnJ0Y19tb2RlIjoxLCJhdWRpb193ZWJydGNfbW9kZSI6MX0.QKSwgdMA0ayq9IOqxrQGK6D2xCBG5l5hMqd1sMr6aK0"},
	} {
		got, err := signVideo(t, tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}

// payloadOf returns a token's payload as written, after checking its signature with golang-jwt.
func payloadOf(tb testing.TB, token string) string {
	tb.Helper()
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte("testSecretXyz"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil || !parsed.Valid {
		tb.Fatalf("golang-jwt does not verify the token: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		tb.Fatal(err)
	}
	return string(raw)
}

func TestVideoClaims(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"strings coerced as the sample's parseInt does", `{"role":"0","sessionName":"s","expirationSeconds":"1800","cloudRecordingOption":"1","videoWebRtcMode":"0"}`,
			`{"app_key":"testKey","role_type":0,"tpc":"s","version":1,"iat":1700000000,"exp":1700001800,"cloud_recording_option":1,"video_webrtc_mode":0}`},
		{"audioCompatibleMode when audioWebRtcMode is absent", `{"role":1,"sessionName":"s","audioCompatibleMode":1}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700007200,"audio_webrtc_mode":1}`},
		{"audioWebRtcMode wins over audioCompatibleMode", `{"role":1,"sessionName":"s","audioCompatibleMode":1,"audioWebRtcMode":0}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700007200,"audio_webrtc_mode":0}`},
		{"userIdentity and userKey together, newer claims last", `{"userKey":"k","cloudRecordingTranscriptOption":2,"userIdentity":"i","role":1,"sessionName":"s"}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700007200,"user_identity":"i","user_key":"k","cloud_recording_transcript_option":2}`},
		{"regions as an array, spaces and empty entries dropped", `{"role":1,"sessionName":"s","geoRegions":[" U S","", "JP\u00a0"]}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700007200,"geo_regions":"US,JP"}`},
		{"empty optional strings are kept, as the sample keeps them", `{"role":1,"sessionName":"s","userIdentity":"","sessionKey":""}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700007200,"user_identity":"","session_key":""}`},
		{"JavaScript's escaping", `{"role":1,"sessionName":"a\"b\\c\u2028<>&\u0001é"}`,
			"{\"app_key\":\"testKey\",\"role_type\":1,\"tpc\":\"a\\\"b\\\\c\u2028<>&\\u0001é\",\"version\":1,\"iat\":1700000000,\"exp\":1700007200}"},
		{"numbers written another way", `{"role":1e0,"sessionName":"s","expirationSeconds":3.6e3}`,
			`{"app_key":"testKey","role_type":1,"tpc":"s","version":1,"iat":1700000000,"exp":1700003600}`},
		{"the last of a repeated property", `{"role":0,"role":1,"sessionName":"a","sessionName":"b"}`,
			`{"app_key":"testKey","role_type":1,"tpc":"b","version":1,"iat":1700000000,"exp":1700007200}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := signVideo(t, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := payloadOf(t, token); got != tc.want {
				t.Errorf("payload\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Each rule at its limit, just inside and just outside.
func TestVideoValidationLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	const base = `"role":1,"sessionName":"s"`
	for _, tc := range []struct {
		name  string
		body  string
		wrong string // the property reported, or "" for a valid request
	}{
		{"sessionName 1", `{"role":1,"sessionName":"x"}`, ""},
		{"sessionName 200", `{"role":1,"sessionName":"` + long(200) + `"}`, ""},
		{"sessionName 201", `{"role":1,"sessionName":"` + long(201) + `"}`, "sessionName"},
		{"sessionName 200 in UTF-16 units", `{"role":1,"sessionName":"` + strings.Repeat("😀", 100) + `"}`, ""},
		{"sessionName 201 in UTF-16 units", `{"role":1,"sessionName":"` + strings.Repeat("😀", 100) + `x"}`, "sessionName"},
		{"sessionName 200 accented letters", `{"role":1,"sessionName":"` + strings.Repeat("é", 200) + `"}`, ""},
		{"expirationSeconds 1800", `{` + base + `,"expirationSeconds":1800}`, ""},
		{"expirationSeconds 1799", `{` + base + `,"expirationSeconds":1799}`, "expirationSeconds"},
		{"expirationSeconds 172800", `{` + base + `,"expirationSeconds":172800}`, ""},
		{"expirationSeconds 172801", `{` + base + `,"expirationSeconds":"172801"}`, "expirationSeconds"},
		{"userIdentity 35", `{` + base + `,"userIdentity":"` + long(35) + `"}`, ""},
		{"userIdentity 36", `{` + base + `,"userIdentity":"` + long(36) + `"}`, "userIdentity"},
		{"sessionKey 36", `{` + base + `,"sessionKey":"` + long(36) + `"}`, ""},
		{"sessionKey 37", `{` + base + `,"sessionKey":"` + long(37) + `"}`, "sessionKey"},
		{"userKey 36", `{` + base + `,"userKey":"` + long(36) + `"}`, ""},
		{"userKey 37", `{` + base + `,"userKey":"` + long(37) + `"}`, "userKey"},
		{"role 0", `{"role":0,"sessionName":"s"}`, ""},
		{"role 2", `{"role":2,"sessionName":"s"}`, "role"},
		{"role -1", `{"role":-1,"sessionName":"s"}`, "role"},
		{"transcript option 2", `{` + base + `,"cloudRecordingTranscriptOption":"2"}`, ""},
		{"transcript option 3", `{` + base + `,"cloudRecordingTranscriptOption":3}`, "cloudRecordingTranscriptOption"},
		{"cloudRecordingOption 2", `{` + base + `,"cloudRecordingOption":2}`, "cloudRecordingOption"},
		{"cloudRecordingElection 2", `{` + base + `,"cloudRecordingElection":2}`, "cloudRecordingElection"},
		{"videoWebRtcMode 2", `{` + base + `,"videoWebRtcMode":2}`, "videoWebRtcMode"},
		{"audioWebRtcMode 2", `{` + base + `,"audioWebRtcMode":2}`, "audioWebRtcMode"},
		{"audioCompatibleMode 2", `{` + base + `,"audioCompatibleMode":2}`, "audioCompatibleMode"},
		{"every region", `{` + base + `,"geoRegions":"AU,BR,CA,CN,DE,HK,IN,JP,MX,NL,SG,US"}`, ""},
		{"a lower-case region", `{` + base + `,"geoRegions":"us"}`, "geoRegions"},
		{"an unknown region", `{` + base + `,"geoRegions":["US","XX"]}`, "geoRegions"},
		{"an empty region list", `{` + base + `,"geoRegions":" , "}`, "geoRegions"},
		{"an empty region array", `{` + base + `,"geoRegions":[]}`, "geoRegions"},
		{"a number in the region array", `{` + base + `,"geoRegions":["US",1]}`, "geoRegions"},
		{"regions as a number", `{` + base + `,"geoRegions":1}`, "geoRegions"},
		{"telemetryTrackingId a string", `{` + base + `,"telemetryTrackingId":"any thing"}`, ""},
		{"no role", `{"sessionName":"s"}`, "role"},
		{"no sessionName", `{"role":1}`, "sessionName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeVideo([]byte(tc.body))
			if tc.wrong == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) != 1 || verr.Errors[0].Property != tc.wrong {
				t.Fatalf("got %v, want one error on %s", err, tc.wrong)
			}
		})
	}
}

// Where zoomtoken is stricter than the sample, on purpose (docs/differences.md).
func TestVideoDifferencesFromTheSample(t *testing.T) {
	for _, tc := range []struct{ name, body, property string }{
		{"an empty sessionName (the sample signs it)", `{"role":1,"sessionName":""}`, "sessionName"},
		{`"1abc" as a role (the sample's parseInt reads 1)`, `{"role":"1abc","sessionName":"s"}`, "role"},
		{`" 1" as a role`, `{"role":" 1","sessionName":"s"}`, "role"},
		{"a fractional expirationSeconds (the sample signs 1800.5)", `{"role":1,"sessionName":"s","expirationSeconds":1800.5}`, "expirationSeconds"},
		{`"3600s" as expirationSeconds (the sample's parseInt reads 3600)`, `{"role":1,"sessionName":"s","expirationSeconds":"3600s"}`, "expirationSeconds"},
		{"a number as telemetryTrackingId (the sample signs any value)", `{"role":1,"sessionName":"s","telemetryTrackingId":5}`, "telemetryTrackingId"},
		{"a number as sessionName", `{"role":1,"sessionName":5}`, "sessionName"},
		{"a sessionName that is not UTF-8 (the sample signs U+FFFD in its place)", "{\"role\":1,\"sessionName\":\"\xba\xba\"}", "sessionName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeVideo([]byte(tc.body))
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) != 1 || verr.Errors[0].Property != tc.property {
				t.Fatalf("got %v, want one error on %s", err, tc.property)
			}
		})
	}
}

func TestVideoErrorsInFieldOrder(t *testing.T) {
	body := `{"cloudRecordingTranscriptOption":9,"userKey":1,"audioCompatibleMode":9,"audioWebRtcMode":9,"videoWebRtcMode":9,
		"telemetryTrackingId":[],"cloudRecordingElection":9,"cloudRecordingOption":9,"geoRegions":"ZZ","sessionKey":1,
		"userIdentity":1,"expirationSeconds":1,"sessionName":"","role":"x"}`
	_, err := DecodeVideo([]byte(body))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, e := range verr.Errors {
		got = append(got, e.Property)
	}
	if !slices.Equal(got, videoProperties) {
		t.Errorf("order\n got %v\nwant %v", got, videoProperties)
	}
	for _, bad := range []string{``, `[]`, `{"role":1,`, `"s"`} {
		_, err := DecodeVideo([]byte(bad))
		if !errors.As(err, &verr) || verr.Errors[0].Property != "role" && verr.Errors[0].Property != "body" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzDecodeVideoAndSign: whatever the body, the decoder and signer never panic, and every
// input ends either in a token golang-jwt verifies, whose payload is JSON holding the request's
// session name, or in a list of field errors.
func FuzzDecodeVideoAndSign(f *testing.F) {
	for _, seed := range []string{`{"role":1,"sessionName":"test-session"}`,
		`{"role":"0","sessionName":"Café <team> & co","expirationSeconds":"3600","userIdentity":"u1","sessionKey":"k1","geoRegions":["US"," DE"],"cloudRecordingOption":1,"telemetryTrackingId":"t","audioCompatibleMode":"1","userKey":"k","cloudRecordingTranscriptOption":2}`,
		`{"role":1,"sessionName":"\ud83d\ude00\u2028","geoRegions":"US,,JP"}`, `{}`, `[]`, `{"role":1e0,"sessionName":"x","expirationSeconds":1.8e3}`} {
		f.Add([]byte(seed))
	}
	signer := testVideoSigner()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeVideo(body)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) == 0 {
				t.Fatalf("an error that is not a list of field errors: %v", err)
			}
			for _, e := range verr.Errors {
				if e.Property == "" || e.Reason == "" || !json.Valid(marshalNoEscape(t, e)) {
					t.Fatalf("an unusable field error: %+v", e)
				}
			}
			return
		}
		token, err := signer.Sign(req)
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal([]byte(payloadOf(t, token)), &claims); err != nil {
			t.Fatalf("the payload is not JSON: %v", err)
		}
		if claims["tpc"] != req.SessionName || claims["app_key"] != "testKey" {
			t.Fatalf("payload %v does not carry the request", claims)
		}
	})
}

func marshalNoEscape(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
