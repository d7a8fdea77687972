package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	webhookToken      = "whk-secret-token-one"
	otherWebhookToken = "whk-secret-token-two"
)

// withWebhooks turns POST /webhooks/zoom on with two secret tokens; the emulator signs with the
// second.
func withWebhooks(d *Deps, _ string) { d.App.WebhookTokens = []string{webhookToken, otherWebhookToken} }

// withS2S adds the S2S app, for join tokens of meetings no connected user hosts.
func withS2S(d *Deps, upstream string) {
	d.App.S2S = zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
		OAuthBaseURL: upstream, APIBaseURL: upstream, Budget: 2 * time.Second})
}

func webhookEmu(c *zoomemu.Config) {
	c.WebhookSecretToken = otherWebhookToken
	c.Apps = []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}}
	c.Meetings = []int64{70000000001}
	for i := range c.Users {
		if c.Users[i].ID == "alice-id" {
			for m := range 650 {
				c.Users[i].Meetings = append(c.Users[i].Meetings, 81000000000+int64(m))
			}
		}
	}
}

// signed is a webhook request as Zoom signs it.
func signed(body, timestamp, token string) http.Header {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("v0:" + timestamp + ":" + body))
	return header("Content-Type", "application/json", "x-zm-request-timestamp", timestamp,
		"x-zm-signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

func now() string { return strconv.FormatInt(time.Now().Unix(), 10) }

func TestWebhookSignatureAndValidation(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	f.connect(t, "alice-id", "")
	deleted := `{"event":"meeting.deleted","payload":{"object":{"id":5551112222,"host_id":"alice-id"}},"event_ts":1}`
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
	for name, tc := range map[string]struct {
		h      http.Header
		reason string
	}{
		"bad signature":     {header("x-zm-request-timestamp", now(), "x-zm-signature", "v0=00"), "is not v0= and 64 hex digits"},
		"no headers":        {nil, "no x-zm-signature header"},
		"6 minutes old":     {signed(deleted, stale, webhookToken), "outside the 5-minute window"},
		"another secret":    {signed(deleted, now(), "not-our-token"), "matches none of ZOOM_WEBHOOK_SECRET_TOKENS"},
		"signature, no v0=": {header("x-zm-request-timestamp", now(), "x-zm-signature", strings.TrimPrefix(signed(deleted, now(), webhookToken).Get("x-zm-signature"), "v0=")), "is not v0="},
	} {
		seen := len(f.srv.logs.String())
		if resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", tc.h, deleted); resp.StatusCode != 401 {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
		logs := f.srv.logs.String()[seen:]
		if !strings.Contains(logs, "webhook refused") || !strings.Contains(logs, tc.reason) {
			t.Errorf("%s: the log does not say %q:\n%s", name, tc.reason, logs)
		}
		if sig := tc.h.Get("x-zm-signature"); len(sig) > 8 && strings.Contains(logs, sig[3:]) {
			t.Errorf("%s: the log holds the signature", name)
		}
	}
	altered := signed(deleted, now(), webhookToken)
	if resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", altered, strings.Replace(deleted, "5551112222", "5551112223", 1)); resp.StatusCode != 401 {
		t.Errorf("altered body: %d", resp.StatusCode)
	}
	if _, err := f.store.MeetingHost(context.Background(), 5551112222); err != nil {
		t.Fatalf("a refused webhook changed the map: %v", err)
	}

	body := `{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}`
	resp, got := f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(body, now(), otherWebhookToken), body)
	mac := hmac.New(sha256.New, []byte(webhookToken)) // the first configured token
	mac.Write([]byte("qgg8vlvZRS6UYooatFL8Aw"))
	want := `{"encryptedToken":"` + hex.EncodeToString(mac.Sum(nil)) + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`
	if resp.StatusCode != 200 || got != want {
		t.Errorf("url_validation (signed with the second token): %d %s, want %s", resp.StatusCode, got, want)
	}
	if resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed("{not json", now(), webhookToken), "{not json"); resp.StatusCode != 400 {
		t.Errorf("malformed JSON with a valid signature: %d", resp.StatusCode)
	}
	exactly := `{"event":"x","payload":{},"pad":"` + strings.Repeat("a", 1<<20-len(`{"event":"x","payload":{},"pad":""}`)) + `"}`
	if resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(exactly, now(), webhookToken), exactly); resp.StatusCode != 200 {
		t.Errorf("exactly 1 MiB: %d", resp.StatusCode)
	}
	if resp, _ := f.srv.do(t, http.MethodPost, "/webhooks/zoom", signed(exactly+" ", now(), webhookToken), exactly+" "); resp.StatusCode != 413 {
		t.Errorf("1 MiB and a byte: %d", resp.StatusCode)
	}
}

func TestJoinTokensFromTheHost(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks, withS2S)
	f.connect(t, "alice-id", "")
	ctx := context.Background()
	// The listing (3 pages) runs after the confirmation page; join tokens work within seconds.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// 651 listed (the fixture's meeting and 650 more) and the PMI.
		if ids, _ := f.store.Meetings(ctx, mustFind(t, f, "alice-id").ID); len(ids) == 652 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, meeting := range []int64{81000000639, 5551112222} { // the 640th listed meeting, and the PMI
		resp, body := f.srv.do(t, http.MethodGet, "/join-token?secret="+botSecret+"&meeting_id="+strconv.FormatInt(meeting, 10), nil, "")
		calls := f.emu.JoinTokenCalls()
		last := calls[len(calls)-1]
		if resp.StatusCode != 200 || last.By != "alice-id" || last.Token != body || last.MeetingID != meeting {
			t.Errorf("meeting %d: %d, made by %q", meeting, resp.StatusCode, last.By)
		}
	}
	resp, body := f.srv.do(t, http.MethodGet, "/join-token?secret="+botSecret+"&meeting_id=70000000001", nil, "")
	if calls := f.emu.JoinTokenCalls(); resp.StatusCode != 200 || calls[len(calls)-1].By != "s2s" || calls[len(calls)-1].Token != body {
		t.Errorf("an unmapped meeting: %d, not from the S2S app", resp.StatusCode)
	}
	// Mapped to alice, but Zoom says she does not host it: the S2S app answers instead.
	if err := f.store.PutMeetings(ctx, mustFind(t, f, "alice-id").ID, 70000000001); err != nil {
		t.Fatal(err)
	}
	resp, body = f.srv.do(t, http.MethodGet, "/join-token?secret="+botSecret+"&meeting_id=70000000001", nil, "")
	if calls := f.emu.JoinTokenCalls(); resp.StatusCode != 200 || calls[len(calls)-1].By != "s2s" || calls[len(calls)-1].Token != body {
		t.Errorf("a mapped host refused by Zoom: %d, not from the S2S app", resp.StatusCode)
	}
}

func TestWebhooksKeepTheMapAndConnectionsCurrent(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "", withWebhooks)
	f.connect(t, "alice-id", "")
	ctx := context.Background()
	c := mustFind(t, f, "alice-id")
	send := func(event string, payload map[string]any) {
		t.Helper()
		status, err := f.emu.SendWebhook(ctx, f.srv.URL+"/webhooks/zoom", event, payload)
		if err != nil || status != 200 {
			t.Fatalf("%s: %d %v", event, status, err)
		}
	}
	// Created by an operator (an assistant) for alice: it maps to alice, the host.
	send("meeting.created", zoomemu.MeetingEvent(99900000001, "alice-id", "assistant-id"))
	if host, err := f.store.MeetingHost(ctx, 99900000001); err != nil || host.ID != c.ID {
		t.Errorf("meeting.created: host %v %v", host.ID, err)
	}
	// A host who is not connected leaves the existing mapping alone.
	send("meeting.updated", zoomemu.MeetingEvent(99900000001, "stranger-id", "stranger-id"))
	if host, err := f.store.MeetingHost(ctx, 99900000001); err != nil || host.ID != c.ID {
		t.Errorf("meeting.updated by an unconnected host changed the map: %v %v", host.ID, err)
	}
	send("meeting.deleted", zoomemu.MeetingEvent(99900000001, "alice-id", "alice-id"))
	if _, err := f.store.MeetingHost(ctx, 99900000001); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("meeting.deleted: still mapped (%v)", err)
	}
	// A new personal meeting id: the new one maps to alice, the one she gave up no longer does.
	const oldPMI = 5551112222 // alice's at connect
	if host, err := f.store.MeetingHost(ctx, oldPMI); err != nil || host.ID != c.ID {
		t.Fatalf("alice's PMI is not mapped at connect: %v", err)
	}
	changed, err := f.emu.ChangePMI("alice-id", 5559990000)
	if err != nil {
		t.Fatal(err)
	}
	send("user.updated", changed)
	if host, err := f.store.MeetingHost(ctx, 5559990000); err != nil || host.ID != c.ID {
		t.Errorf("user.updated: new PMI not mapped: %v", err)
	}
	if _, err := f.store.MeetingHost(ctx, oldPMI); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("user.updated: the old PMI %d is still mapped (%v)", oldPMI, err)
	}
	// An old PMI that is another host's meeting by now stays theirs; without old_object
	// nothing is unmapped.
	f.connect(t, "bob-id", "")
	other := mustFind(t, f, "bob-id")
	if err := f.store.PutMeetings(ctx, other.ID, 5551230000); err != nil {
		t.Fatal(err)
	}
	send("user.updated", zoomemu.UserUpdatedEvent("alice-id", 5551230000, 5559990001))
	send("user.updated", zoomemu.UserUpdatedEvent("alice-id", 0, 5559990002))
	for meeting, want := range map[int64]string{5551230000: other.ID, 5559990001: c.ID, 5559990002: c.ID, 5559990000: c.ID} {
		if host, err := f.store.MeetingHost(ctx, meeting); err != nil || host.ID != want {
			t.Errorf("meeting %d: host %q (%v), want %q", meeting, host.ID, err, want)
		}
	}
	send("meeting.started", map[string]any{"object": map[string]any{"id": 1}})

	drain(t, f) // the events so far
	status, err := f.emu.Deauthorize(ctx, "alice-id", f.srv.URL+"/webhooks/zoom")
	if err != nil || status != 200 {
		t.Fatalf("app_deauthorized: %d %v", status, err)
	}
	if resp, _ := f.admin(t, http.MethodGet, "/admin/connections/"+c.ID, ""); resp.StatusCode != 404 {
		t.Errorf("admin after deauthorization: %d", resp.StatusCode)
	}
	if resp, _ := f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&user=alice-id", nil, ""); resp.StatusCode != 404 {
		t.Errorf("/obf-token after deauthorization: %d", resp.StatusCode)
	}
	if ids, _ := f.store.Meetings(ctx, c.ID); len(ids) != 0 {
		t.Errorf("%d meetings left", len(ids))
	}
	if got := drain(t, f); len(got) != 1 || got[0].Type != string(connections.EventDeleted) || got[0].Subject != c.ID {
		t.Errorf("events after deauthorization: %+v", got)
	}
	assertCounter(t, f.srv.deps.Metrics, `zoomtoken_webhooks_total{event="app_deauthorized",outcome="ok"} 1`)
	assertNoSecretsLogged(t, f)
	if strings.Contains(f.srv.logs.String(), otherWebhookToken) {
		t.Errorf("the log holds the webhook secret token")
	}
}

func TestReauthorizationRequiredIsAnnouncedOnce(t *testing.T) {
	f := newConnectedFixture(t, webhookEmu, "")
	f.connect(t, "alice-id", "")
	drain(t, f)
	f.emu.KillRefreshToken("alice-id")
	f.emu.ExpireUserTokens("alice-id")
	for range 3 {
		f.srv.do(t, http.MethodGet, "/obf-token?secret="+botSecret+"&user=alice-id", nil, "")
	}
	got := drain(t, f)
	if len(got) != 1 || got[0].Type != string(connections.EventReauthorizationRequired) {
		t.Fatalf("events: %+v, want one connection.reauthorization_required", got)
	}
	var body struct {
		Data connections.Fields `json:"data"`
	}
	json.Unmarshal(got[0].Payload, &body)
	if body.Data.Status != connections.StatusReauthorizationRequired || body.Data.LastError == nil {
		t.Errorf("event data: %s", got[0].Payload)
	}
}

// drain takes every event out of the outbox.
func drain(tb testing.TB, f *connectedFixture) []outbox.Event {
	tb.Helper()
	var all []outbox.Event
	for {
		batch, err := f.events.ClaimEvents(context.Background(), time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			tb.Fatal(err)
		}
		if len(batch) == 0 {
			return all
		}
		for _, e := range batch {
			f.events.EventDelivered(context.Background(), e.ID)
		}
		all = append(all, batch...)
	}
}

// A deauthorization cannot be turned against a live connection: one of another app, or one older
// than the connection's latest connect (a replay, or one a reconnect overtook), changes nothing.
func TestDeauthorizationsThatChangeNothing(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db *sqlstore.DB) {
		testDeauthorizationsThatChangeNothing(t, newConnectedFixtureOn(t, db, webhookEmu, "", withWebhooks))
	})
}

func testDeauthorizationsThatChangeNothing(t *testing.T, f *connectedFixture) {
	ctx := context.Background()
	f.connect(t, "alice-id", "customer-42")
	c := mustFind(t, f, "alice-id")
	drain(t, f)
	send := func(payload map[string]any) {
		t.Helper()
		if status, err := f.emu.SendWebhook(ctx, f.srv.URL+"/webhooks/zoom", "app_deauthorized", payload); err != nil || status != 200 {
			t.Fatalf("app_deauthorized: %d %v", status, err)
		}
	}
	send(map[string]any{"account_id": "acct-a", "user_id": "alice-id", "client_id": "another-apps-client",
		"deauthorization_time": time.Now().UTC().Format(time.RFC3339Nano)})
	send(map[string]any{"account_id": "acct-a", "user_id": "alice-id", "client_id": "oauth-client",
		"deauthorization_time": c.ConnectedAt.Add(-time.Hour).Format(time.RFC3339Nano)})
	if got, err := f.store.Get(ctx, c.ID); err != nil || got.Status != connections.StatusActive {
		t.Fatalf("after the two: %+v %v, want the connection active", got.Status, err)
	}
	if events := drain(t, f); len(events) != 0 {
		t.Errorf("events: %+v, want none", events)
	}
	assertCounter(t, f.srv.deps.Metrics, `zoomtoken_webhooks_total{event="app_deauthorized",outcome="ignored"} 2`)
	// The app's own, after the connect, still deletes it.
	send(map[string]any{"account_id": "acct-a", "user_id": "alice-id", "client_id": "oauth-client",
		"deauthorization_time": time.Now().UTC().Format(time.RFC3339Nano)})
	if _, err := f.store.Get(ctx, c.ID); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("after a deauthorization of this app: %v, want the connection gone", err)
	}
}
