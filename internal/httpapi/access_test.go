package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

var (
	linkKey    = []byte("bot-link-key-for-tests-0123456789abcdef")
	oldLinkKey = []byte("an-older-bot-link-key-0123456789abcdef")
)

// accessFixture is s2sFixture with the default reach, bot links and signed requests.
func accessFixture(tb testing.TB, db *sqlstore.DB) *connectedFixture {
	tb.Helper()
	signer, _ := standardwebhooks.NewWebhook(signingSecret)
	return s2sFixture(tb, db, func(d *Deps) {
		d.BotLinks = botlink.New([][]byte{linkKey, oldLinkKey}, time.Now)
		d.CallbackReach = vend.ReachOwnAccount
		d.CallbackSigners = []*standardwebhooks.Webhook{signer}
		d.PublicURL = "https://tokens.example.com"
	})
}

// mintLink mints a link through the admin API, as the operator's backend would ask for one.
func (f *connectedFixture) mintLink(tb testing.TB, route string, params map[string]string) string {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"route": route, "params": params, "ttl_seconds": 600})
	resp, got := f.admin(tb, http.MethodPost, "/admin/bot-links", string(body))
	var answer struct{ URL, Path, ExpiresAt string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(got), &answer) != nil ||
		answer.URL != "https://tokens.example.com"+answer.Path || !strings.HasPrefix(answer.Path, route+"?") {
		tb.Fatalf("POST /admin/bot-links %s %v: %d %s", route, params, resp.StatusCode, got)
	}
	return answer.Path
}

// lastAccessLine is the access log's line of the latest request.
func (f *connectedFixture) lastAccessLine(tb testing.TB) map[string]any {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(f.srv.logs.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var line map[string]any
		if json.Unmarshal([]byte(lines[i]), &line) == nil && line["message"] == "request" {
			return line
		}
	}
	tb.Fatal("no access line")
	return nil
}

func TestWhoGetsWhat(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db *sqlstore.DB) { testWhoGetsWhat(t, accessFixture(t, db)) })
}

func testWhoGetsWhat(t *testing.T, f *connectedFixture) {
	alice, bob := mustFind(t, f, "alice-id"), mustFind(t, f, "bob-id")

	t.Run("a link reaches its own connection, and the log says who got what", func(t *testing.T) {
		link := f.mintLink(t, "/obf-token", map[string]string{"ref": "customer-42"})
		resp, body := f.srv.do(t, http.MethodGet, link, nil, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "emu_obf_") {
			t.Fatalf("the link: %d %q", resp.StatusCode, body)
		}
		line := f.lastAccessLine(t)
		if line["caller"] != "link" || line["caller_key"] != 0.0 || line["via"] != "connection" || line["connection_id"] != alice.ID ||
			line["link_expires"] == nil || line["route"] != "/obf-token" {
			t.Errorf("the access line: %v", line)
		}
		sig := link[strings.Index(link, "sig=")+4:]
		if logs := f.srv.logs.String(); strings.Contains(logs, sig) || strings.Contains(logs, body) || strings.Contains(logs, string(linkKey)) {
			t.Error("the log holds the link's signature, its key or the token")
		}
	})

	t.Run("a link cannot be turned to anything else", func(t *testing.T) {
		link := f.mintLink(t, "/obf-token", map[string]string{"ref": "customer-42", "meeting_id": "81112223333"})
		before := tokenCalls(f.emu)
		for name, tc := range map[string]struct {
			path   string
			status int
		}{
			"another ref":         {strings.Replace(link, "ref=customer-42", "ref=mobile", 1), 401},
			"another meeting":     {strings.Replace(link, "meeting_id=81112223333", "meeting_id=81112223334", 1), 401},
			"another route":       {strings.Replace(link, "/obf-token?", "/join-token?", 1), 401},
			"a parameter dropped": {strings.Replace(link, "meeting_id=81112223333&", "", 1), 401},
			"a parameter added":   {link + "&user=bob-id", 401},
			"a secret added":      {link + "&secret=" + botSecret, 400},
			"a parameter twice":   {link + "&ref=customer-42", 400},
			"a line break in sig": {strings.Replace(link, "sig=", "sig=%0A", 1), 400},
		} {
			resp, body := f.srv.do(t, http.MethodGet, tc.path, nil, "")
			if resp.StatusCode != tc.status {
				t.Errorf("%s: %d %q, want %d", name, resp.StatusCode, body, tc.status)
			}
		}
		expired, _, _ := botlink.New([][]byte{linkKey}, func() time.Time { return time.Now().Add(-2 * time.Hour) }).
			Mint("/obf-token", map[string]string{"ref": "customer-42"}, time.Hour)
		if resp, body := f.srv.do(t, http.MethodGet, expired, nil, ""); resp.StatusCode != 401 || !strings.Contains(body, "expired") {
			t.Errorf("an expired link: %d %q", resp.StatusCode, body)
		}
		if n := tokenCalls(f.emu) - before; n != 0 {
			t.Errorf("%d Zoom calls for refused links", n)
		}
		// A link signed with the older key still works during rotation, and the log says which.
		old, _, _ := botlink.New([][]byte{oldLinkKey}, time.Now).Mint("/zak", map[string]string{"user": "bob@example.com"}, time.Hour)
		if resp, _ := f.srv.do(t, http.MethodGet, old, nil, ""); resp.StatusCode != 200 || f.lastAccessLine(t)["caller_key"] != 1.0 {
			t.Errorf("a link of the older key: %d, caller_key %v", resp.StatusCode, f.lastAccessLine(t)["caller_key"])
		}
	})

	t.Run("a join-token link for a meeting reaches its host", func(t *testing.T) {
		link := f.mintLink(t, "/join-token", map[string]string{"meeting_id": "81112223333"})
		resp, body := f.srv.do(t, http.MethodGet, link, nil, "")
		if line := f.lastAccessLine(t); resp.StatusCode != 200 || line["via"] != "connection" || line["connection_id"] != alice.ID {
			t.Errorf("%d %q, %v", resp.StatusCode, body, line)
		}
	})

	t.Run("a plain secret reaches the operator's own account only", func(t *testing.T) {
		before := tokenCalls(f.emu)
		for _, path := range []string{
			"/obf-token?ref=customer-42", "/zak?user=bob-id", "/join-token?meeting_id=81112223333&ref=customer-42",
			"/access-token?ref=customer-42",
		} {
			resp, body := f.srv.do(t, http.MethodGet, path+"&secret="+botSecret, nil, "")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "/admin/bot-links") {
				t.Errorf("%s: %d %q, want 403 saying how to make a link", path, resp.StatusCode, body)
			}
		}
		if n := tokenCalls(f.emu) - before; n != 0 {
			t.Errorf("%d Zoom calls for refused requests", n)
		}
		if resp, _ := f.srv.do(t, http.MethodGet, "/zak?secret="+botSecret, nil, ""); resp.StatusCode != 200 ||
			f.lastAccessLine(t)["via"] != "s2s" || f.lastAccessLine(t)["caller"] != "secret" {
			t.Errorf("the S2S ZAK: %d %v", resp.StatusCode, f.lastAccessLine(t))
		}
		// alice's meeting, asked with a plain secret, is never made with her connection.
		f.srv.do(t, http.MethodGet, "/join-token?meeting_id=81112223333&secret="+botSecret, nil, "")
		if line := f.lastAccessLine(t); line["connection_id"] != nil {
			t.Errorf("a plain secret got a token made with connection %v", line["connection_id"])
		}
	})

	t.Run("a signed request is accepted once", func(t *testing.T) {
		ts := time.Now().Unix()
		h := header("webhook-id", "msg_once", "webhook-timestamp", strconv.FormatInt(ts, 10),
			"webhook-signature", signCallback(t, signingSecret, "msg_once", ts))
		if resp, _ := f.srv.do(t, http.MethodGet, "/zak", h, ""); resp.StatusCode != 200 {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		if resp, body := f.srv.do(t, http.MethodGet, "/join-token?meeting_id="+strconv.FormatInt(s2sMeeting, 10), h, ""); resp.StatusCode != 401 {
			t.Errorf("the same headers on another URL: %d %q, want 401", resp.StatusCode, body)
		}
	})

	t.Run("an access token with at least min_valid left, that Zoom accepts", func(t *testing.T) {
		link := f.mintLink(t, "/access-token", map[string]string{"user": "bob@example.com", "min_valid": "300"})
		resp, token := f.srv.do(t, http.MethodGet, link, nil, "")
		if resp.StatusCode != 200 || f.lastAccessLine(t)["connection_id"] != bob.ID {
			t.Fatalf("%d %q", resp.StatusCode, token)
		}
		uc := f.srv.deps.App.Connected.Zoom
		if _, err := uc.OBF(context.Background(), zoom.UserToken{Value: token}, 0); err != nil {
			t.Errorf("Zoom refuses the access token: %v", err)
		}
		stored, _ := f.store.Get(context.Background(), bob.ID)
		if left := time.Until(stored.Tokens.AccessExpiresAt); left < 300*time.Second {
			t.Errorf("the token has %v left, want at least min_valid", left)
		}
	})

	t.Run("minting refuses what the route would refuse", func(t *testing.T) {
		for _, body := range []string{
			`{"route":"/obf-token","params":{}}`,
			`{"route":"/obf-token","params":{"ref":"a","user":"b"}}`,
			`{"route":"/join-token","params":{"meeting_id":"abc"}}`,
			`{"route":"/access-token","params":{"ref":"a","min_valid":"5"}}`,
			`{"route":"/zak","params":{"meeting_id":"1"}}`,
			`{"route":"/admin/connections"}`,
			`{"route":"/zak","ttl_seconds":0}`,
			`{"route":"/zak","ttl_seconds":2592001}`,
			`{"route":"/zak","extra":true}`,
			`{"route":"/zak","params":{"ref":7}}`,
		} {
			if resp, got := f.admin(t, http.MethodPost, "/admin/bot-links", body); resp.StatusCode != 400 {
				t.Errorf("%s: %d %s", body, resp.StatusCode, got)
			}
		}
	})

}
