package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
)

const videoBody = `{"role":1,"sessionName":"test-session"}`

func videoServer(tb testing.TB, origins []string) *testServer {
	tb.Helper()
	signer := sdkjwt.NewVideoSigner(testSDKKey, []byte(testSDKSecret), func() time.Time { return time.Unix(1700000000, 0) })
	return newTestServer(tb, Deps{VideoSigner: signer, CORSAllowedOrigins: origins})
}

func TestVideoSignatureReferenceVectorsOverHTTP(t *testing.T) {
	srv := videoServer(t, nil)
	for body, want := range map[string]string{
		videoBody: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBfa2V5IjoidGVzdEtleSIsInJvbGVfdHlwZSI6MSwidHBjIjoidGVzdC1zZXNzaW9uIiwidmVyc2lvbiI6MSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDcyMDB9.TjWJ84-1xQpOHC1tfFnHBuDc0dkxnc9-zG9mP2VZfhs",
		`{"role":0,"sessionName":"Café <team> & co","expirationSeconds":3600,"userIdentity":"u1","sessionKey":"k1","geoRegions":"US, DE","cloudRecordingOption":1,"cloudRecordingElection":0,"telemetryTrackingId":"t-1","videoWebRtcMode":1,"audioWebRtcMode":1}`: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBfa2V5IjoidGVzdEtleSIsInJvbGVfdHlwZSI6MCwidHBjIjoiQ2Fmw6kgPHRlYW0-ICYgY28iLCJ2ZXJzaW9uIjoxLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwidXNlcl9pZGVudGl0eSI6InUxIiwic2Vzc2lvbl9rZXkiOiJrMSIsImdlb19yZWdpb25zIjoiVVMsREUiLCJjbG91ZF9yZWNvcmRpbmdfb3B0aW9uIjoxLCJjbG91ZF9yZWNvcmRpbmdfZWxlY3Rpb24iOjAsInRlbGVtZXRyeV90cmFja2luZ19pZCI6InQtMSIsInZpZGVvX3dlYnJ0Y19tb2RlIjoxLCJhdWRpb193ZWJydGNfbW9kZSI6MX0.QKSwgdMA0ayq9IOqxrQGK6D2xCBG5l5hMqd1sMr6aK0",
	} {
		resp, got := srv.do(t, http.MethodPost, "/video-sdk", header("Content-Type", "application/json"), body)
		if resp.StatusCode != 200 || got != `{"signature":"`+want+`"}` {
			t.Errorf("got %d %s, want the sample's answer", resp.StatusCode, got)
		}
	}
	// A browser fetch with a string body sends text/plain: still read as JSON.
	resp, got := srv.do(t, http.MethodPost, "/video-sdk", header("Content-Type", "text/plain;charset=UTF-8"), videoBody)
	var answer struct{ Signature string }
	if json.Unmarshal([]byte(got), &answer); resp.StatusCode != 200 || answer.Signature == "" {
		t.Fatalf("text/plain: %d %s", resp.StatusCode, got)
	}
	if _, err := jwt.Parse(answer.Signature, func(*jwt.Token) (any, error) { return []byte(testSDKSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()); err != nil {
		t.Errorf("the token does not verify: %v", err)
	}
}

func TestVideoSignatureErrorsOverHTTP(t *testing.T) {
	srv := videoServer(t, nil)
	resp, body := srv.do(t, http.MethodPost, "/video-sdk", header("Content-Type", "application/json"),
		`{"role":"1abc","sessionName":"","geoRegions":"us","cloudRecordingTranscriptOption":3}`)
	want := []string{"role", "sessionName", "geoRegions", "cloudRecordingTranscriptOption"}
	if resp.StatusCode != 400 || !slices.Equal(errorProperties(t, body), want) {
		t.Errorf("got %d %s, want 400 listing %v", resp.StatusCode, body, want)
	}
	if resp, body := srv.do(t, http.MethodPost, "/video-sdk", nil, ""); resp.StatusCode != 400 ||
		!slices.Equal(errorProperties(t, body), []string{"role", "sessionName"}) {
		t.Errorf("empty body: got %d %s", resp.StatusCode, body)
	}
	if resp, body := srv.do(t, http.MethodPost, "/video-sdk", nil, `{"role":1,`); resp.StatusCode != 400 ||
		!slices.Equal(errorProperties(t, body), []string{"body"}) {
		t.Errorf("malformed JSON: got %d %s", resp.StatusCode, body)
	}
}

// Every answer of POST /video-sdk, errors included, carries the CORS headers; an allow-list
// refuses other origins with 403 as POST / does.
func TestVideoSignatureCORSOnEveryAnswer(t *testing.T) {
	srv := videoServer(t, nil)
	off := newTestServer(t, Deps{})
	origin := "https://app.example"
	for _, tc := range []struct {
		name        string
		srv         *testServer
		contentType string
		body        string
		status      int
	}{
		{"success", srv, "application/json", videoBody, 200},
		{"validation error", srv, "application/json", `{"role":9}`, 400},
		{"malformed", srv, "application/json", `{`, 400},
		{"too large", srv, "application/json", strings.Repeat(" ", 100<<10+1), 413},
		{"unsupported media type", srv, "application/xml", "<x/>", 415},
		{"feature off", off, "application/json", videoBody, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.srv.do(t, http.MethodPost, "/video-sdk", header("Origin", origin, "Content-Type", tc.contentType), tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q", got)
			}
			if tc.status == 404 && !strings.Contains(body, "ZOOM_VIDEO_SDK_KEY and ZOOM_VIDEO_SDK_SECRET") {
				t.Errorf("the 404 does not say how to turn it on: %s", body)
			}
		})
	}
	resp, _ := srv.do(t, http.MethodOptions, "/video-sdk", header("Origin", origin, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type"), "")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	listed := videoServer(t, []string{origin})
	if resp, body := listed.do(t, http.MethodPost, "/video-sdk", header("Origin", "https://evil.example"), videoBody); resp.StatusCode != 403 ||
		!slices.Equal(errorProperties(t, body), []string{"Origin"}) || strings.Contains(body, "eyJ") {
		t.Errorf("foreign origin: %d %s", resp.StatusCode, body)
	}
	if resp, _ := listed.do(t, http.MethodPost, "/video-sdk", header("Origin", origin), videoBody); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("listed origin: %d", resp.StatusCode)
	}
}
