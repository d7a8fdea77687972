package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/seal"
)

// parseMeetingID decodes the meeting_id query parameter: whatever it accepts must be a positive
// id whose decimal form is the input without its spaces and dashes.
func FuzzParseMeetingID(f *testing.F) {
	for _, seed := range []string{"123456789", "123-456-789", "123 456 789", "../../users/me", "%2e%2e%2f", "12a", "",
		"9223372036854775807", "9223372036854775808", "-1", "0", "１２３", "1\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseMeetingID(raw)
		if err != nil {
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

// redactQuery decodes the raw query of every request: no key outside the known ones, and no
// value of a key that is not known harmless (or not well formed), may survive it, and the
// result stays short.
func FuzzRedactQuery(f *testing.F) {
	for _, seed := range []string{"secret=abc&meeting_id=1", "a=1&a=2", "%zz", "secret", "=x", "meeting_id=%00", "type=a;secret=b",
		"secret%3Dabc", "xyz-secret-as-key=1", "meeting_id=1-2 3&type=local_recording&bypass_waiting_room=false"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, _ := redactQuery(raw)
		if len(out) > maxLoggedQuery+len("…") {
			t.Fatalf("%d bytes logged", len(out))
		}
		values, err := url.ParseQuery(strings.TrimSuffix(out, "…"))
		if err != nil && !strings.HasSuffix(out, "…") {
			t.Fatalf("redacted query %q does not parse: %v", out, err)
		}
		for k, vs := range values {
			harmless, known := knownQueryKeys[k]
			if !known {
				t.Fatalf("%q names the unknown key %q", raw, k)
			}
			for _, v := range vs {
				if v != "REDACTED" && (harmless == nil || !harmless(v)) && !strings.HasPrefix("REDACTED", v) {
					t.Fatalf("%q kept %s=%q", raw, k, v)
				}
			}
		}
	})
}

// signedCallback.verify decodes three request headers: whatever they hold, it never panics and
// lets a request in only when one of the signature's entries is the right one for its id and
// timestamp.
func FuzzSignedCallback(f *testing.F) {
	wh, err := standardwebhooks.NewWebhook(signingSecret)
	if err != nil {
		f.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	f.Add("msg_1", now, "v1,AAAA", false)
	f.Add("", "", "", true)
	f.Add("msg_1", "not a number", "v1,,, v1", true)
	f.Add("msg_1", "99999999999999999999", "v1a,x v1,y", false)
	f.Fuzz(func(t *testing.T, id, timestamp, signature string, svix bool) {
		names := signatureHeaders
		if svix {
			names = svixHeaders
		}
		r := httptest.NewRequest(http.MethodGet, "/zak", nil)
		r.Header.Set(names[0], id)
		r.Header.Set(names[1], timestamp)
		r.Header.Set(names[2], signature)
		key, gotID := (signedCallback{wh}).verify(r)
		if key < 0 {
			return
		}
		if gotID != id {
			t.Fatalf("webhook-id %q read as %q", id, gotID)
		}
		ts, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			t.Fatalf("let in with timestamp %q", timestamp)
		}
		if !slices.Contains(strings.Fields(signature), signCallback(t, signingSecret, id, ts)) {
			t.Fatalf("let in without the right signature: id %q timestamp %q signature %q", id, timestamp, signature)
		}
	})
}

// readFlowState decodes the state cookie and the state Zoom sends back: whatever they hold, it
// never panics and accepts only a cookie this service sealed, for that very state.
func FuzzFlowState(f *testing.F) {
	ring, _ := seal.NewKeyring(bytes.Repeat([]byte{7}, seal.KeySize))
	now := time.Unix(1_800_000_000, 0)
	flow := &ConnectFlow{Cookies: ring, Now: func() time.Time { return now }}
	sealed, _ := ring.Seal([]byte(`{"s":"the-state","v":"verifier","t":1800000000}`), cookieAD)
	good := base64.RawURLEncoding.EncodeToString(sealed)
	f.Add(good, "the-state")
	f.Add(good, "")
	f.Add("%%%", "x")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("{}")), "")
	f.Fuzz(func(t *testing.T, cookie, state string) {
		r := httptest.NewRequest(http.MethodGet, "/oauth/callback?state="+url.QueryEscape(state), nil)
		r.Header.Set("Cookie", stateCookie+"="+cookie)
		fs, ok := readFlowState(r, flow)
		// (Each fuzzing process seals the seed anew, so an accepted cookie is judged by content.)
		if ok && (state != "the-state" || fs.State != state || fs.Verifier != "verifier") {
			t.Fatalf("accepted cookie %q with state %q", cookie, state)
		}
	})
}

// connectLinkTTL decodes ttl_seconds of POST /admin/connect-links: it accepts exactly the JSON
// integers from 1 to 2592000.
func FuzzConnectLinkTTL(f *testing.F) {
	for _, seed := range []string{"60", "2592000", "2592001", "0", "1.5", "1e3", `"60"`, "-1", "null", "60 "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ttl, err := connectLinkTTL(json.RawMessage(raw))
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if raw != "" && (err != nil || n < 1 || n > 2592000 || ttl != time.Duration(n)*time.Second) {
			t.Fatalf("accepted %q as %v", raw, ttl)
		}
	})
}

// rtms_stream_id is the only RTMS value a bot route reads from its query: whatever it holds,
// only Zoom's shape (32 hex digits) is looked up.
func FuzzParseStreamID(f *testing.F) {
	for _, seed := range []string{"609340fc9d894ba5a6fbb06b8aef22ec", "609340FC9D894BA5A6FBB06B8AEF22EC", "", "../../x", "609340fc9d894ba5a6fbb06b8aef22e",
		"609340fc9d894ba5a6fbb06b8aef22ecc", "609340fc9d894ba5a6fbb06b8aef22eg", "６09340fc9d894ba5a6fbb06b8aef22ec"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseStreamID(raw)
		if err == nil && (len(id) != 32 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" || id != raw) {
			t.Fatalf("accepted %q as %q", raw, id)
		}
		if err != nil && id != "" {
			t.Fatalf("refused %q but returned %q", raw, id)
		}
	})
}

// FuzzBotLinkRequest: whatever body POST /admin/bot-links gets, reading it never panics, and what
// it accepts mints a link that verifies.
func FuzzBotLinkRequest(f *testing.F) {
	f.Add(`{"route":"/obf-token","params":{"ref":"customer-42","meeting_id":"85012345678"},"ttl_seconds":86400}`)
	f.Add(`{"route":"/join-token","params":{"meeting_id":"1 2-3","type":"live_streaming"}}`)
	f.Add(`{"route":"/zak","params":{"ref":7}}`)
	f.Add(`{"route":"/access-token","params":{"user":"a@b","min_valid":"60"},"x":1}`)
	keys := botlink.New([][]byte{linkKey}, time.Now)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/admin/bot-links", strings.NewReader(body))
		route, params, ttl, err := parseBotLinkRequest(httptest.NewRecorder(), r)
		if err != nil {
			if f := classify(err); f.status != http.StatusBadRequest && f.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("refused with %d: %v", f.status, err)
			}
			return
		}
		path, _, err := keys.Mint(route, params, ttl)
		if err != nil {
			return // an unknown route or parameter name: Mint's own 400
		}
		p, q, _ := strings.Cut(path, "?")
		if _, err := keys.Verify(p, q); err != nil {
			t.Fatalf("a minted link does not verify: %v (%s)", err, path)
		}
	})
}
