package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	signingSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherSigningSecret = "whsec_c2Vjb25kLXNpZ25pbmctc2VjcmV0LWtleQ=="
)

// signCallback signs a bodiless request as ZOOM.md "Signed callbacks" describes it, written here
// from that description rather than with the library under test: HMAC-SHA256, keyed with the
// base64-decoded part after whsec_, over "{id}.{timestamp}." (a GET's body is empty), in standard
// base64 with padding.
func signCallback(tb testing.TB, secret, id string, timestamp int64) string {
	tb.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		tb.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// The signer above, held to a vector computed apart from Go (Python's hmac and base64).
func TestSignCallbackVector(t *testing.T) {
	got := signCallback(t, signingSecret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000000)
	if want := "v1,GK7FPpBuUieGvrcTbY78+/3kXIhvUBqXNwpNSBOxkY4="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func signedBotServer(tb testing.TB) (*testServer, *zoomemu.Emulator, *metrics.Metrics) {
	tb.Helper()
	srv, emu := botServer(tb, botUser, nil)
	var signers []*standardwebhooks.Webhook
	for _, s := range []string{otherSigningSecret, signingSecret} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			tb.Fatal(err)
		}
		signers = append(signers, wh)
	}
	// The same upstream client, now also accepting signatures.
	m := metrics.New()
	d := srv.deps
	d.CallbackSigners, d.Metrics = signers, m
	return newTestServer(tb, d), emu, m
}

func TestSignedCallbacks(t *testing.T) {
	now := time.Now().Unix()
	sig := func(id string, ts int64) string { return signCallback(t, signingSecret, id, ts) }
	ts := strconv.FormatInt(now, 10)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"signed, no secret", header("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", sig("msg_1", now)), 200},
		{"the older svix-* names", header("svix-id", "msg_2", "svix-timestamp", ts, "svix-signature", sig("msg_2", now)), 200},
		{"several entries, the last one good", header("webhook-id", "msg_3", "webhook-timestamp", ts,
			"webhook-signature", "v1a,AAAA v1,bm90IGl0 "+sig("msg_3", now)), 200},
		{"signed with the second secret", header("webhook-id", "msg_4", "webhook-timestamp", ts,
			"webhook-signature", signCallback(t, otherSigningSecret, "msg_4", now)), 200},
		{"4 minutes old", header("webhook-id", "msg_5", "webhook-timestamp", strconv.FormatInt(now-240, 10),
			"webhook-signature", sig("msg_5", now-240)), 200},
		{"a wrong signature", header("webhook-id", "msg_6", "webhook-timestamp", ts,
			"webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))), 401},
		{"a stale timestamp", header("webhook-id", "msg_7", "webhook-timestamp", strconv.FormatInt(now-360, 10),
			"webhook-signature", sig("msg_7", now-360)), 401},
		{"a timestamp from the future", header("webhook-id", "msg_8", "webhook-timestamp", strconv.FormatInt(now+360, 10),
			"webhook-signature", sig("msg_8", now+360)), 401},
		{"a signature over another id", header("webhook-id", "msg_9", "webhook-timestamp", ts,
			"webhook-signature", sig("msg_other", now)), 401},
		{"a signature over another timestamp", header("webhook-id", "msg_10", "webhook-timestamp", ts,
			"webhook-signature", sig("msg_10", now-1)), 401},
		{"only another version's entry", header("webhook-id", "msg_11", "webhook-timestamp", ts,
			"webhook-signature", strings.Replace(sig("msg_11", now), "v1,", "v2,", 1)), 401},
		{"svix-* ignored when a webhook-* header is there", header("webhook-id", "msg_12",
			"svix-id", "msg_12", "svix-timestamp", ts, "svix-signature", sig("msg_12", now)), 401},
		{"signed with a secret not configured", header("webhook-id", "msg_13", "webhook-timestamp", ts,
			"webhook-signature", signCallback(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("some-other-key")), "msg_13", now)), 401},
		{"no credentials at all", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, emu, m := signedBotServer(t)
			resp, body := srv.do(t, http.MethodGet, "/zak", tc.header, "")
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.want)
			}
			switch tc.want {
			case 200:
				if issued := emu.Issued(zoomemu.EndpointZAK); len(issued) != 1 || body != issued[0] {
					t.Errorf("body is not the issued ZAK")
				}
				assertCounter(t, m, `zoomtoken_bot_auth_total{caller="signature"} 1`)
			case 401:
				if !strings.HasPrefix(body, "unauthorized") {
					t.Errorf("body %q", body)
				}
				if calls := emu.Requests(); len(calls) != 0 {
					t.Errorf("a refused request reached Zoom: %v", calls)
				}
				assertCounter(t, m, `zoomtoken_bot_auth_total{caller="refused"} 1`)
			}
		})
	}
	t.Run("a ?secret still works beside signing secrets", func(t *testing.T) {
		srv, _, m := signedBotServer(t)
		if resp, _ := srv.do(t, http.MethodGet, "/zak?secret="+botSecret, nil, ""); resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		assertCounter(t, m, `zoomtoken_bot_auth_total{caller="secret"} 1`)
	})
}

func assertCounter(tb testing.TB, m *metrics.Metrics, line string) {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), line) {
		tb.Errorf("metrics lack %q", line)
	}
}
