package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
)

// A NUL byte or invalid UTF-8 in a name, an id or a ref is the caller's mistake, a 400 before the
// database (which PostgreSQL would refuse, and which must not read as an outage); a verified
// webhook carrying one is acknowledged and changes nothing, so Zoom does not retry it for days.
func TestTextNoDatabaseTakesIsRefused(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db *sqlstore.DB) {
		f := s2sFixture(t, db, func(d *Deps) { d.CallbackReach = vend.ReachConnected })
		for _, bad := range []string{"%00", "a%00b", "%FF", "%C3%28"} {
			for _, path := range []string{
				"/obf-token?secret=" + botSecret + "&ref=" + bad,
				"/obf-token?secret=" + botSecret + "&user=" + bad,
				"/zak?secret=" + botSecret + "&ref=" + bad,
				"/join-token?secret=" + botSecret + "&meeting_id=81112223333&user=" + bad,
				"/access-token?secret=" + botSecret + "&ref=" + bad,
			} {
				if resp, body := f.srv.do(t, http.MethodGet, path, nil, ""); resp.StatusCode != 400 || !strings.Contains(body, "UTF-8") {
					t.Errorf("%s: %d %q, want 400", path, resp.StatusCode, body)
				}
			}
			for _, tc := range []struct{ method, path, body string }{
				{http.MethodGet, "/admin/connections?ref=" + bad, ""},
				{http.MethodDelete, "/admin/connections/" + mustFind(t, f, "alice-id").ID + "/refs/" + bad, ""},
			} {
				if resp, body := f.admin(t, tc.method, tc.path, tc.body); resp.StatusCode != 400 {
					t.Errorf("%s %s: %d %s, want 400", tc.method, tc.path, resp.StatusCode, body)
				}
			}
			if resp, body := f.admin(t, http.MethodGet, "/admin/connections/conn_"+bad, ""); resp.StatusCode != 404 {
				t.Errorf("an id with %s: %d %s, want 404", bad, resp.StatusCode, body)
			}
		}
		for _, body := range []string{`{"ref":"a\u0000b"}`, `{"ref":"\u0007"}`} {
			if resp, got := f.admin(t, http.MethodPost, "/admin/connect-links", body); resp.StatusCode != 400 {
				t.Errorf("connect link %s: %d %s", body, resp.StatusCode, got)
			}
		}
		if resp, got := f.admin(t, http.MethodPost, "/admin/rtms/start", `{"meeting_id":"81112223333","user":"a\u0000"}`); resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("rtms start with a NUL user: %d %s", resp.StatusCode, got)
		}
	})
}

// The same for webhooks, which need webhooks on: a NUL in the user a deauthorization names is
// acknowledged and deletes nothing.
func TestWebhookWithTextNoDatabaseTakes(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db *sqlstore.DB) {
		f := newConnectedFixtureOn(t, db, webhookEmu, "", withWebhooks)
		f.connect(t, "alice-id", "")
		status, err := f.emu.SendWebhook(context.Background(), f.srv.URL+"/webhooks/zoom", "app_deauthorized",
			map[string]any{"user_id": "alice-id\x00", "client_id": "oauth-client"})
		if err != nil || status != 200 {
			t.Errorf("a deauthorization naming a NUL user: %d %v, want 200", status, err)
		}
		if c := mustFind(t, f, "alice-id"); c.Status != connections.StatusActive {
			t.Errorf("alice: %s", c.Status)
		}
		status, _ = f.emu.SendWebhook(context.Background(), f.srv.URL+"/webhooks/zoom", "meeting.created",
			map[string]any{"object": map[string]any{"id": 99900000001, "host_id": "\xff"}})
		if status != 200 {
			t.Errorf("a meeting whose host is not UTF-8: %d, want 200", status)
		}
	})
}
