package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
)

const (
	testSDKKey    = "testKey"
	testSDKSecret = "testSecretXyz"
	// The reference vector of ZOOM.md for {"meetingNumber":"123456789","role":0} at 1700000000.
	referenceToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBLZXkiOiJ0ZXN0S2V5Iiwic2RrS2V5IjoidGVzdEtleSIsIm1uIjoiMTIzNDU2Nzg5Iiwicm9sZSI6MCwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDcyMDAsInRva2VuRXhwIjoxNzAwMDA3MjAwfQ.HpT2Huq-ahtx4XJqQcJC5Pk4t0tj8t99_iG9ZV08Vx0"
	webBody        = `{"meetingNumber":"123456789","role":0}`
)

func signatureServer(tb testing.TB, origins []string) *testServer {
	tb.Helper()
	signer := sdkjwt.NewSigner(testSDKKey, []byte(testSDKSecret), func() time.Time { return time.Unix(1700000000, 0) })
	return newTestServer(tb, Deps{Signer: signer, CORSAllowedOrigins: origins})
}

// tokenPayload verifies the JWT of a 200 answer and returns its claims.
func tokenPayload(tb testing.TB, body string) map[string]any {
	tb.Helper()
	var resp struct{ Signature, SDKKey string }
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		tb.Fatalf("body %q: %v", body, err)
	}
	if resp.SDKKey != testSDKKey {
		tb.Errorf("sdkKey: got %q, want %q", resp.SDKKey, testSDKKey)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(resp.Signature, claims, func(*jwt.Token) (any, error) { return []byte(testSDKSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		tb.Fatalf("signature does not verify: %v", err)
	}
	return claims
}

func errorProperties(tb testing.TB, body string) []string {
	tb.Helper()
	var e sdkjwt.ValidationError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		tb.Fatalf("body %q is not the error shape: %v", body, err)
	}
	var props []string
	for _, fe := range e.Errors {
		props = append(props, fe.Property)
	}
	return props
}

func TestSignatureReferenceVectorOverHTTP(t *testing.T) {
	srv := signatureServer(t, nil)
	resp, body := srv.do(t, http.MethodPost, "/", header("Content-Type", "application/json"), webBody)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200 (%s)", resp.StatusCode, body)
	}
	if want := `{"signature":"` + referenceToken + `","sdkKey":"testKey"}`; body != want {
		t.Errorf("body:\ngot  %s\nwant %s", body, want)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type: got %q", got)
	}
}

func TestSignatureMediaTypes(t *testing.T) {
	srv := signatureServer(t, nil)
	tests := []struct {
		contentType string // "-" sends none
		wantStatus  int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON", 200},
		{"text/plain", 200},
		{"text/plain;charset=UTF-8", 200},
		{"-", 200},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/xml", 415},
		{"not a media type", 415},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			h := header("Content-Type", tt.contentType)
			if tt.contentType == "-" {
				h = http.Header{}
			}
			resp, body := srv.do(t, http.MethodPost, "/", h, webBody)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 200 {
				// The body was read as JSON whatever the media type: a web token, not a native one.
				if mn := tokenPayload(t, body)["mn"]; mn != "123456789" {
					t.Errorf("mn: got %v, want the meeting number", mn)
				}
			} else if got := errorProperties(t, body); !slices.Equal(got, []string{"Content-Type"}) {
				t.Errorf("errors: got %v", got)
			}
		})
	}
}

func TestSignatureValidationOverHTTP(t *testing.T) {
	srv := signatureServer(t, nil)
	tests := []struct {
		name, body string
		want       []string
	}{
		{"all problems in field order", `{"videoWebRtcMode":5,"expirationSeconds":1.5,"role":"1abc","meetingNumber":"12-3"}`,
			[]string{"meetingNumber", "role", "expirationSeconds", "videoWebRtcMode"}},
		{"both or neither first", `{"role":3}`, []string{"$schema", "role"}},
		{"malformed JSON", `{"meetingNumber":"1",`, []string{"body"}},
		{"not an object", `[]`, []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.do(t, http.MethodPost, "/", header("Content-Type", "application/json"), tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400", resp.StatusCode)
			}
			if got := errorProperties(t, body); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSignatureBodyLimit(t *testing.T) {
	srv := signatureServer(t, nil)
	pad := func(n int) string { return `{"pad":"` + strings.Repeat("x", n-len(`{"pad":""}`)) + `"}` }

	resp, body := srv.do(t, http.MethodPost, "/", nil, pad(100<<10))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("exactly 100 KiB: got %d, want 200 (%s)", resp.StatusCode, body)
	}
	resp, body = srv.do(t, http.MethodPost, "/", nil, pad(100<<10+1))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KiB + 1: got %d, want 413", resp.StatusCode)
	}
	if got := errorProperties(t, body); !slices.Equal(got, []string{"body"}) {
		t.Errorf("errors: got %v", got)
	}
}

func TestSignatureNativeTokenFromEmptyBody(t *testing.T) {
	srv := signatureServer(t, nil)
	resp, body := srv.do(t, http.MethodPost, "/", nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d", resp.StatusCode)
	}
	claims := tokenPayload(t, body)
	if _, ok := claims["mn"]; ok {
		t.Errorf("native token carries mn: %v", claims)
	}
	if claims["exp"].(float64)-claims["iat"].(float64) != 7200 {
		t.Errorf("lifetime: got %v", claims)
	}
}

func TestSignatureFeatureOff(t *testing.T) {
	srv := newTestServer(t, Deps{})
	resp, body := srv.do(t, http.MethodPost, "/", header("Origin", "https://app.example"), webBody)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status: got %d, want 404", resp.StatusCode)
	}
	if !strings.Contains(body, "ZOOM_MEETING_SDK_KEY") || !strings.Contains(body, "ZOOM_MEETING_SDK_SECRET") {
		t.Errorf("body does not name the variables: %s", body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("404 lacks CORS headers")
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	srv := signatureServer(t, nil)
	origin := header("Origin", "https://app.example", "Content-Type", "application/json")
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"success", webBody, 200},
		{"validation error", `{"role":9}`, 400},
		{"too large", strings.Repeat(" ", 100<<10+1), 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := srv.do(t, http.MethodPost, "/", origin, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want *", got)
			}
		})
	}
	t.Run("unsupported media type", func(t *testing.T) {
		resp, _ := srv.do(t, http.MethodPost, "/", header("Origin", "https://app.example", "Content-Type", "application/xml"), "<x/>")
		if resp.StatusCode != 415 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("got %d with ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	resp, body := srv.do(t, http.MethodOptions, "/", header("Origin", "https://app.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"), "")
	if resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("preflight: got %d %q, want 204 and no body", resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "POST",
		"Access-Control-Allow-Headers": "Content-Type",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("preflight %s: got %q, want %q", h, got, want)
		}
	}
}

func TestCORSAllowList(t *testing.T) {
	const allowed = "https://app.example"
	srv := signatureServer(t, []string{allowed})

	resp, body := srv.do(t, http.MethodPost, "/", header("Origin", "https://APP.example", "Content-Type", "application/json"), webBody)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://APP.example" {
		t.Errorf("allowed origin: got %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	resp, body = srv.do(t, http.MethodPost, "/", header("Origin", "https://evil.example", "Content-Type", "application/json"), webBody)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: got %d, want 403", resp.StatusCode)
	}
	if got := errorProperties(t, body); !slices.Equal(got, []string{"Origin"}) {
		t.Errorf("errors: got %v", got)
	}
	if strings.Contains(body, "eyJ") {
		t.Errorf("a refused request got a token: %s", body)
	}

	resp, _ = srv.do(t, http.MethodOptions, "/", header("Origin", "https://evil.example", "Access-Control-Request-Method", "POST"), "")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: got %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, _ = srv.do(t, http.MethodOptions, "/", header("Origin", allowed, "Access-Control-Request-Method", "POST"), "")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("allowed preflight: got %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// Without an Origin the caller is not a browser (curl, a server): CORS does not apply.
	resp, _ = srv.do(t, http.MethodPost, "/", header("Content-Type", "application/json"), webBody)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("no origin: got %d, want 200", resp.StatusCode)
	}
}

func TestCORSHeadersOnlyForBrowsers(t *testing.T) {
	for _, allowed := range [][]string{nil, {"https://app.example"}} {
		srv := signatureServer(t, allowed)
		resp, _ := srv.do(t, http.MethodPost, "/", header("Origin", "https://app.example", "Content-Type", "application/json"), webBody)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Vary") != "Origin" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
			t.Errorf("allow-list %v, a browser's call: %d, headers %v", allowed, resp.StatusCode, resp.Header)
		}
		resp, _ = srv.do(t, http.MethodPost, "/", header("Content-Type", "application/json"), webBody)
		for name := range resp.Header {
			if name == "Vary" || strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("allow-list %v, no Origin: CORS header %s: %q", allowed, name, resp.Header.Get(name))
			}
		}
	}
}

func TestHealthz(t *testing.T) {
	srv := newTestServer(t, Deps{})
	resp, body := srv.do(t, http.MethodGet, "/healthz", nil, "")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
	}
}

func TestRequestID(t *testing.T) {
	srv := newTestServer(t, Deps{})
	tests := []struct {
		inbound string
		kept    bool
	}{
		{"abc-123_X.y", true},
		{"", false},
		{"has space", false},
		{"quote\"d", false},
		{"\u00e9t\u00e9", false},
		{strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.inbound != "" {
			h["X-Request-Id"] = []string{tt.inbound}
		}
		resp, _ := srv.do(t, http.MethodGet, "/healthz", h, "")
		got := resp.Header.Get("X-Request-Id")
		if got == "" || (got == tt.inbound) != tt.kept {
			t.Errorf("inbound %q: got %q, kept want %v", tt.inbound, got, tt.kept)
		}
		if !strings.Contains(srv.logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("request id %q not in the access log", got)
		}
	}
}

func TestAccessLogRedactsAndNeverLogsTokens(t *testing.T) {
	srv := signatureServer(t, nil)
	resp, body := srv.do(t, http.MethodPost, "/?secret=hunter2-very-secret&meeting_id=123&token=abc", header("Content-Type", "application/json"), webBody)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var answer struct{ Signature string }
	json.Unmarshal([]byte(body), &answer)
	sigPart := answer.Signature[strings.LastIndexByte(answer.Signature, '.')+1:]

	logs := srv.logs.String()
	for _, leaked := range []string{testSDKSecret, base64.RawURLEncoding.EncodeToString([]byte(testSDKSecret)),
		"hunter2-very-secret", answer.Signature, sigPart} {
		if strings.Contains(logs, leaked) {
			t.Errorf("log contains %q:\n%s", leaked, logs)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs)), &line); err != nil {
		t.Fatalf("want one JSON access line, got %q: %v", logs, err)
	}
	for k, want := range map[string]any{
		"method": "POST", "route": "/", "status": float64(200),
		"query": "meeting_id=123&secret=REDACTED", "query_unknown_keys": float64(1),
	} {
		if line[k] != want {
			t.Errorf("access line %s: got %v, want %v", k, line[k], want)
		}
	}
	for _, k := range []string{"size", "duration", "request_id"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access line lacks %s: %v", k, line)
		}
	}
}

func TestAccessLogNamesRoutePatternNotPath(t *testing.T) {
	srv := newTestServer(t, Deps{})
	srv.do(t, http.MethodGet, "/no/such/path-with-a-secret", nil, "")
	logs := srv.logs.String()
	if strings.Contains(logs, "path-with-a-secret") || !strings.Contains(logs, `"route":"unmatched"`) {
		t.Errorf("access line: %s", logs)
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct {
		in, want string
		unknown  int
	}{
		{"secret=s3&meeting_id=1&type=live_streaming", "meeting_id=1&secret=REDACTED&type=live_streaming", 0},
		{"secret=a&secret=b", "secret=REDACTED&secret=REDACTED", 0},
		{"Secret=x&bypass_waiting_room=true", "bypass_waiting_room=true", 1},
		// A secret pasted as a key, or with its = escaped, is counted, never named.
		{"secret%3Dcallback-secret-value", "", 1},
		{"callback-secret-value", "", 1},
		{"secret=x&callback-secret-value=1", "secret=REDACTED", 1},
		// Harmless keys keep only well-formed values.
		{"meeting_id=" + strings.Repeat("9", 50), "meeting_id=REDACTED", 0},
		{"meeting_id=123-456%20789&type=cloud&bypass_waiting_room=yes", "bypass_waiting_room=REDACTED&meeting_id=123-456+789&type=REDACTED", 0},
		{"%zz=1&secret=q", "secret=REDACTED", 0},
		{"code=abc&state=def&sig=x&ref=customer", "code=REDACTED&ref=REDACTED&sig=REDACTED&state=REDACTED", 0},
		// The admin list's documented filter is a known key.
		{"ref=r&status=reauthorization_required", "ref=REDACTED&status=reauthorization_required", 0},
		{"status=<script>", "status=REDACTED", 0},
		{"secret=s&rtms_stream_id=0123456789abcdef0123456789abcdef", "rtms_stream_id=0123456789abcdef0123456789abcdef&secret=REDACTED", 0},
	}
	for _, tt := range tests {
		if got, unknown := redactQuery(tt.in); got != tt.want || unknown != tt.unknown {
			t.Errorf("redactQuery(%q): got %q (%d unknown), want %q (%d)", tt.in, got, unknown, tt.want, tt.unknown)
		}
	}
	if got, _ := redactQuery(strings.Repeat("secret=x&", 10000)); len(got) > maxLoggedQuery+len("…") {
		t.Errorf("a huge query logs %d bytes", len(got))
	}
}

func TestMetricsRoute(t *testing.T) {
	m := metrics.New()
	srv := newTestServer(t, Deps{Metrics: m})
	srv.do(t, http.MethodGet, "/healthz", nil, "")
	resp, body := srv.do(t, http.MethodGet, "/metrics", nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `zoomtoken_http_requests_total{route="/healthz",status="200"} 1`) {
		t.Errorf("got %d:\n%s", resp.StatusCode, body)
	}
	elsewhere := newTestServer(t, Deps{Metrics: m, MetricsElsewhere: true})
	if resp, _ := elsewhere.do(t, http.MethodGet, "/metrics", nil, ""); resp.StatusCode != 404 {
		t.Errorf("with METRICS_ADDR: got %d, want 404 on the main port", resp.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	var draining atomic.Bool
	srv := newTestServer(t, Deps{Draining: &draining})
	if resp, body := srv.do(t, http.MethodGet, "/readyz", nil, ""); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("ready: %d %q", resp.StatusCode, body)
	}
	draining.Store(true)
	if resp, body := srv.do(t, http.MethodGet, "/readyz", nil, ""); resp.StatusCode != 503 || body != "shutting down" {
		t.Errorf("draining: %d %q", resp.StatusCode, body)
	}
	if resp, _ := srv.do(t, http.MethodGet, "/healthz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("/healthz while draining: %d", resp.StatusCode)
	}
}

func TestSignatureRefusesOtherCharsetsAndEncodings(t *testing.T) {
	srv := signatureServer(t, nil)
	for _, h := range []http.Header{
		header("Content-Type", "application/json; charset=iso-8859-1"),
		header("Content-Type", "text/plain; charset=utf-16"),
		header("Content-Type", "application/json", "Content-Encoding", "gzip"),
	} {
		if resp, body := srv.do(t, http.MethodPost, "/", h, webBody); resp.StatusCode != 415 || strings.Contains(body, "eyJ") {
			t.Errorf("%v: %d %s", h, resp.StatusCode, body)
		}
	}
	for _, h := range []http.Header{
		header("Content-Type", "application/json; charset=UTF-8"),
		header("Content-Type", "application/json", "Content-Encoding", "identity"),
	} {
		if resp, _ := srv.do(t, http.MethodPost, "/", h, webBody); resp.StatusCode != 200 {
			t.Errorf("%v: %d", h, resp.StatusCode)
		}
	}
}
