package doctor

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"encoding/base64"
	"errors"
	"maps"
	"path/filepath"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

type setup struct {
	env     map[string]string
	emu     zoomemu.Config
	emuSkew time.Duration
}

func healthy() setup {
	return setup{
		env: map[string]string{
			"ZOOM_MEETING_SDK_KEY":    "abcDEF123456ghiJKL7890",
			"ZOOM_MEETING_SDK_SECRET": "s3cretS3cretS3cretS3cretS3cret12",
			"ZOOM_ACCOUNT_ID":         "acct",
			"ZOOM_CLIENT_ID":          "client",
			"ZOOM_CLIENT_SECRET":      "client-secret",
			"ZOOM_ZAK_USER":           "bot@example.com",
			"CALLBACK_SECRETS":        "0123456789abcdef0123456789abcdef",
			"ZOOM_VIDEO_SDK_KEY":      "vidKEY123456abcDEF",
			"ZOOM_VIDEO_SDK_SECRET":   "vidS3cretvidS3cretvidS3cret1234",
			// 24-byte key, as Svix makes them.
			"CALLBACK_SIGNING_SECRETS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		},
		emu: zoomemu.Config{
			Apps:  []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}},
			Users: []zoomemu.User{{ID: "u-1", Email: "bot@example.com"}},
		},
	}
}

// diagnose runs every check against the emulator and returns the checklist and its printout.
func diagnose(t *testing.T, s setup) ([]Check, string, int) {
	t.Helper()
	s.emu.Now = func() time.Time { return time.Now().Add(s.emuSkew) }
	emu := zoomemu.New(s.emu)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); srv.Close() })
	s.env["ZOOM_OAUTH_BASE_URL"], s.env["ZOOM_API_BASE_URL"] = srv.URL, srv.URL
	cfg, err := config.Load(func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Config: cfg, HTTPClient: zoom.NewHTTPClient(5 * time.Second), Now: time.Now}
	if cfg.S2S != nil {
		d.Zoom = zoom.New(zoom.Config{AccountID: cfg.S2S.AccountID, ClientID: cfg.S2S.ClientID,
			ClientSecret: cfg.S2S.ClientSecret.Reveal(), OAuthBaseURL: cfg.OAuthBaseURL, APIBaseURL: cfg.APIBaseURL})
	}
	checks := Run(context.Background(), d)
	var out bytes.Buffer
	failed := Print(&out, checks)
	for _, secret := range []string{s.env["ZOOM_MEETING_SDK_SECRET"], s.env["ZOOM_CLIENT_SECRET"], s.env["CALLBACK_SECRETS"],
		s.env["ZOOM_VIDEO_SDK_SECRET"], s.env["CALLBACK_SIGNING_SECRETS"]} {
		if secret != "" && strings.Contains(out.String(), secret) {
			t.Errorf("the checklist prints a secret:\n%s", out.String())
		}
	}
	for _, tok := range append(emu.Issued(zoomemu.EndpointZAK), emu.Issued(zoomemu.EndpointToken)...) {
		if strings.Contains(out.String(), tok) {
			t.Errorf("the checklist prints a token:\n%s", out.String())
		}
	}
	return checks, out.String(), failed
}

func find(checks []Check, name string) Check {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return Check{Name: name, Status: -1}
}

func TestAllGreen(t *testing.T) {
	checks, out, failed := diagnose(t, healthy())
	if failed != 0 {
		t.Fatalf("%d failed:\n%s", failed, out)
	}
	for _, name := range []string{"configuration", "clock", "Meeting SDK credentials", "Meeting SDK signature",
		"S2S access token", "S2S scopes", "ZAK user", "CALLBACK_SECRETS", "Video SDK credentials", "Video SDK signature",
		"CALLBACK_SIGNING_SECRETS"} {
		if c := find(checks, name); c.Status != Pass {
			t.Errorf("%s: got %+v, want a pass", name, c)
		}
	}
	if c := find(checks, "S2S scopes"); !strings.Contains(c.Detail, "allow join tokens of type local_recording, live_streaming, local_archiving") {
		t.Errorf("scopes: %q does not name every join-token kind", c.Detail)
	}
}

func TestReportsEachProblem(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*setup)
		check     string
		status    Status
		detail    string // must appear in the check's detail
		fixNeeded bool
	}{
		{"missing scope", func(s *setup) {
			s.emu.Apps[0].Scopes = []string{zoomemu.ScopeLocalRecordingToken}
		}, "S2S scopes", Fail, "user:read:token:admin (GET /zak)", true},
		{"the default join-token kind's scope missing", func(s *setup) {
			s.emu.Apps[0].Scopes = []string{zoomemu.ScopeLiveStreamingToken, zoomemu.ScopeZAK}
		}, "S2S scopes", Fail, "missing meeting:read:local_recording_token:admin (GET /join-token); the scopes allow join tokens of type live_streaming", true},
		{"no join-token scope at all", func(s *setup) {
			s.emu.Apps[0].Scopes = []string{zoomemu.ScopeZAK}
		}, "S2S scopes", Fail, "the scopes allow no join tokens", true},
		{"optional scopes missing", func(s *setup) {
			s.emu.Apps[0].Scopes = []string{zoomemu.ScopeLocalRecordingToken, zoomemu.ScopeZAK}
		}, "S2S scopes", Warn, "allow join tokens of type local_recording; type=live_streaming (needs meeting:read:live_streaming_token:admin), type=local_archiving", true},
		{"unknown ZAK user", func(s *setup) { s.env["ZOOM_ZAK_USER"] = "ghost@example.com" },
			"ZAK user", Fail, "Zoom has no user ghost@example.com", true},
		{"bad credentials", func(s *setup) { s.env["ZOOM_CLIENT_SECRET"] = "not-the-secret" },
			"S2S access token", Fail, "invalid_client", true},
		{"wrong account", func(s *setup) { s.env["ZOOM_ACCOUNT_ID"] = "other" },
			"S2S access token", Fail, "invalid_request", true},
		{"clock ahead", func(s *setup) { s.emuSkew = -2 * time.Minute },
			"clock", Fail, "2m0s ahead of Zoom's", true},
		{"clock behind", func(s *setup) { s.emuSkew = 90 * time.Second },
			"clock", Fail, "1m30s behind Zoom's", true},
		{"a callback secret a URL changes", func(s *setup) { s.env["CALLBACK_SECRETS"] = "0123456789abcdef+012/34=" },
			"CALLBACK_SECRETS", Warn, "characters a URL changes", true},
		{"repeated callback secret", func(s *setup) { s.env["CALLBACK_SECRETS"] = "0123456789abcdef0123,0123456789abcdef0123" },
			"CALLBACK_SECRETS", Warn, "secret 2 repeats an earlier one", false},
		{"SDK key and secret swapped into one", func(s *setup) { s.env["ZOOM_MEETING_SDK_SECRET"] = s.env["ZOOM_MEETING_SDK_KEY"] },
			"Meeting SDK credentials", Fail, "the same value", true},
		{"SDK secret too short", func(s *setup) { s.env["ZOOM_MEETING_SDK_SECRET"] = "abc" },
			"Meeting SDK credentials", Fail, "ZOOM_MEETING_SDK_SECRET has 3 characters; Zoom's have at least 16", true},
		{"SDK key too short", func(s *setup) { s.env["ZOOM_MEETING_SDK_KEY"] = "abcdef" },
			"Meeting SDK credentials", Fail, "ZOOM_MEETING_SDK_KEY has 6 characters; Zoom's have at least 10", true},
		{"Video SDK key pasted with a space inside", func(s *setup) { s.env["ZOOM_VIDEO_SDK_KEY"] = "vidKEY 123456abcDEF" },
			"Video SDK credentials", Fail, "ZOOM_VIDEO_SDK_KEY has 19 characters, not all letters, digits, - or _", true},
		{"Video SDK key and secret the same", func(s *setup) { s.env["ZOOM_VIDEO_SDK_SECRET"] = s.env["ZOOM_VIDEO_SDK_KEY"] },
			"Video SDK credentials", Fail, "the same value", true},
		{"a short signing key", func(s *setup) { s.env["CALLBACK_SIGNING_SECRETS"] = "whsec_c2hvcnQta2V5" },
			"CALLBACK_SIGNING_SECRETS", Warn, "9-byte key", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			tt.change(&s)
			checks, out, failed := diagnose(t, s)
			c := find(checks, tt.check)
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) || (tt.fixNeeded && c.Fix == "") {
				t.Errorf("%s: got %+v, want status %v with %q and a fix\n%s", tt.check, c, tt.status, tt.detail, out)
			}
			if (tt.status == Fail) != (failed > 0) {
				t.Errorf("failed checks: %d\n%s", failed, out)
			}
		})
	}
}

func TestConfigProblemsAreFailedChecks(t *testing.T) {
	_, err := config.Load(func(k string) string { return map[string]string{"ZOOM_MEETING_SDK_KEY": "k", "PORT": "x"}[k] })
	cerr, ok := err.(*config.Error)
	if !ok {
		t.Fatalf("got %v", err)
	}
	var out bytes.Buffer
	if failed := Print(&out, ConfigProblems(cerr)); failed != 2 || !strings.Contains(out.String(), "PORT") ||
		!strings.Contains(out.String(), "ZOOM_MEETING_SDK_SECRET") {
		t.Errorf("got %d failed:\n%s", failed, out.String())
	}
}

func TestConnectedAccountChecks(t *testing.T) {
	emu := zoomemu.New(zoomemu.Config{OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret"}})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); srv.Close() })
	key, other := bytes.Repeat([]byte{1}, seal.KeySize), bytes.Repeat([]byte{2}, seal.KeySize)
	env := map[string]string{
		"ZOOM_OAUTH_CLIENT_ID": "oauth-client", "ZOOM_OAUTH_CLIENT_SECRET": "oauth-secret",
		"PUBLIC_URL": "http://127.0.0.1:4000", "TOKEN_ENCRYPTION_KEYS": base64.StdEncoding.EncodeToString(key),
		"CALLBACK_SECRETS": "0123456789abcdef0123456789abcdef", "ZOOM_OAUTH_BASE_URL": srv.URL, "ZOOM_API_BASE_URL": srv.URL,
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "zt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.Connections()
	ring, _ := seal.NewKeyring(key)
	vault := connections.NewVault(ring)
	run := func(env map[string]string) []Check {
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		uc := zoom.NewUserClient(zoom.Config{ClientID: cfg.Connections.ClientID, ClientSecret: cfg.Connections.ClientSecret.Reveal(),
			OAuthBaseURL: srv.URL, APIBaseURL: srv.URL}, cfg.Connections.PublicURL+"/oauth/callback")
		return Run(context.Background(), Deps{Config: cfg, HTTPClient: zoom.NewHTTPClient(time.Second), Now: time.Now,
			Connected: &Connected{Store: store, Vault: vault, Zoom: uc}})
	}
	sealed, _ := vault.Seal("u1", connections.Tokens{Access: "a", Refresh: "r"})
	store.Save(context.Background(), connections.Connection{ID: "conn_1", ZoomUserID: "u1", Tokens: sealed})
	checks := run(env)
	for _, name := range []string{"PUBLIC_URL", "OAuth app credentials", "connections database", "stored connections"} {
		if c := find(checks, name); c.Status != Pass {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if c := find(checks, "stored connections"); !strings.Contains(c.Detail, "1 active") {
		t.Errorf("stored connections: %+v", c)
	}
	if c := find(checks, "Zoom webhooks"); c.Status != Warn || c.Fix == "" {
		t.Errorf("no webhook secret: %+v", c)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(405) }))
	withEvents := maps.Clone(env)
	withEvents["ZOOM_WEBHOOK_SECRET_TOKENS"] = "wh-secret"
	withEvents["EVENTS_URL"], withEvents["EVENTS_SIGNING_SECRET"] = receiver.URL, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	checks = run(withEvents)
	if c := find(checks, "EVENTS_URL"); c.Status != Pass || !strings.Contains(c.Detail, "405") {
		t.Errorf("a reachable EVENTS_URL: %+v", c)
	}
	// Webhooks turn RTMS on; nobody may start a stream yet: a warning that says what to add.
	if c := find(checks, "Realtime Media Streams"); c.Status != Warn || !strings.Contains(c.Fix, "meeting:update:participant_rtms_app_status") {
		t.Errorf("RTMS without the control scope: %+v", c)
	}
	store.Save(context.Background(), connections.Connection{ID: "conn_2", ZoomUserID: "u2", Tokens: sealed,
		Scopes: []string{"user:read:token", "meeting:update:participant_rtms_app_status"}})
	if c := find(run(withEvents), "Realtime Media Streams"); c.Status != Pass || !strings.Contains(c.Detail, "1 of 2 active connections may start streams") {
		t.Errorf("RTMS with a connection granted the control scope: %+v", c)
	}
	if c := find(checks, "Zoom webhooks"); c.Status != Pass {
		t.Errorf("webhooks on: %+v", c)
	}
	receiver.Close()
	if c := find(run(withEvents), "EVENTS_URL"); c.Status != Fail {
		t.Errorf("an unreachable EVENTS_URL: %+v", c)
	}

	otherRing, _ := seal.NewKeyring(other)
	lost, _ := connections.NewVault(otherRing).Seal("u2", connections.Tokens{Access: "a", Refresh: "r"})
	store.Save(context.Background(), connections.Connection{ID: "conn_2", ZoomUserID: "u2", Tokens: lost})
	bad := maps.Clone(env)
	bad["ZOOM_OAUTH_CLIENT_SECRET"] = "not-the-secret"
	bad["PUBLIC_URL"] = "http://tokens.example.com"
	checks = run(bad)
	for name, want := range map[string]string{"PUBLIC_URL": "plain http", "OAuth app credentials": "invalid_client",
		"stored connections": "1 of 2 connections do not decrypt"} {
		if c := find(checks, name); c.Status != Fail || !strings.Contains(c.Detail, want) {
			t.Errorf("%s: %+v, want a failure saying %q", name, c, want)
		}
	}
	down := Run(context.Background(), Deps{Config: func() config.Config { c, _ := config.Load(func(k string) string { return env[k] }); return c }(),
		HTTPClient: zoom.NewHTTPClient(time.Second), Now: time.Now,
		Connected: &Connected{OpenErr: errors.New("dial tcp: connection refused"), Vault: vault,
			Zoom: zoom.NewUserClient(zoom.Config{ClientID: "oauth-client", ClientSecret: "oauth-secret", OAuthBaseURL: srv.URL}, "")}})
	if c := find(down, "connections database"); c.Status != Fail || !strings.Contains(c.Detail, "connection refused") {
		t.Errorf("database down: %+v", c)
	}
}

// openDatabase opens a fresh SQLite database for one test, with the store's clock.
func openDatabase(t *testing.T, opts sqlstore.Options) *sqlstore.DB {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "zt.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestVault is a vault whose one key is 32 bytes of b.
func newTestVault(b byte) *connections.Vault {
	ring, _ := seal.NewKeyring(bytes.Repeat([]byte{b}, seal.KeySize))
	return connections.NewVault(ring)
}

// saveConnection stores a connection of Zoom user zid, its tokens sealed by v.
func saveConnection(t *testing.T, db *sqlstore.DB, v *connections.Vault, zid string) {
	sealed, _ := v.Seal(zid, connections.Tokens{Access: "a", Refresh: "r"})
	if _, _, err := db.Connections().Save(context.Background(), connections.Connection{ID: connections.NewID(), ZoomUserID: zid, Tokens: sealed}); err != nil {
		t.Fatal(err)
	}
}

// Start-up checks the oldest rows only, and still counts every row.
func TestStoredConnectionsWithALimit(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New(time.Now())
	db := openDatabase(t, sqlstore.Options{Now: clk.Now})
	vault, lost := newTestVault(1), newTestVault(2)
	for i, v := range []*connections.Vault{vault, vault, lost} { // the newest is unreadable
		saveConnection(t, db, v, fmt.Sprintf("u%d", i))
		clk.Add(time.Millisecond) // created_at orders them
	}
	if c := StoredConnections(ctx, db.Connections(), vault, 2); c.Status != Pass ||
		c.Detail != "3 active, 0 needing re-authorization; the oldest 2 rows decrypt with TOKEN_ENCRYPTION_KEYS" {
		t.Errorf("limited to the oldest two: %+v", c)
	}
	if c := StoredConnections(ctx, db.Connections(), vault, 0); c.Status != Fail || c.Detail != "1 of 3 connections do not decrypt with TOKEN_ENCRYPTION_KEYS" {
		t.Errorf("every row: %+v", c)
	}
}

// Event delivery passes while events go out, warns of events kept as failed, and fails while
// a 410 Gone has paused it.
func TestEventDeliveryCheck(t *testing.T) {
	ctx := context.Background()
	db := openDatabase(t, sqlstore.Options{})
	saveConnection(t, db, newTestVault(1), "u1")
	out := db.Outbox()
	if c := EventDelivery(ctx, out); c.Status != Pass || c.Detail != "1 pending, 0 failed" {
		t.Errorf("one event waiting: %+v", c)
	}
	claimed, _ := out.ClaimEvents(ctx, time.Now().Add(time.Hour), time.Minute, 1)
	if len(claimed) != 1 {
		t.Fatal("no event to claim")
	}
	out.EventExhausted(ctx, claimed[0].ID, time.Now(), "EVENTS_URL answered 500")
	if c := EventDelivery(ctx, out); c.Status != Warn || c.Detail != "0 pending, 1 failed (kept after about three days of failed deliveries)" ||
		!strings.Contains(c.Fix, "POST /admin/events/retry") {
		t.Errorf("a failed event: %+v", c)
	}
	out.PauseDelivery(ctx, time.Now(), "EVENTS_URL answered 410")
	if c := EventDelivery(ctx, out); c.Status != Fail || !strings.Contains(c.Detail, "paused since") ||
		!strings.Contains(c.Detail, "EVENTS_URL answered 410") || !strings.Contains(c.Fix, "resumes delivery") {
		t.Errorf("a paused delivery: %+v", c)
	}
}

// A first run with nothing configured: one failed check that lists each feature with its
// variables, and the summary in the singular.
func TestNothingConfigured(t *testing.T) {
	_, err := config.Load(func(string) string { return "" })
	cerr, ok := err.(*config.Error)
	if !ok {
		t.Fatalf("got %v", err)
	}
	var out bytes.Buffer
	Print(&out, ConfigProblems(cerr))
	for _, want := range []string{"POST / (Meeting SDK signatures): ZOOM_MEETING_SDK_KEY, ZOOM_MEETING_SDK_SECRET",
		"connected accounts (/obf-token, /connect): ZOOM_OAUTH_CLIENT_ID", "fix: cp .env.example .env", "\n1 check, 1 failed\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "set  as") || strings.Contains(out.String(), "1 checks") {
		t.Errorf("a blank variable name or a plural:\n%s", out.String())
	}
}

// A check that depends on a failed one says it was skipped rather than vanishing.
func TestDependentChecksAreSkipped(t *testing.T) {
	s := healthy()
	s.env["ZOOM_CLIENT_SECRET"] = "not-the-secret"
	checks, out, _ := diagnose(t, s)
	if c := find(checks, "S2S scopes"); c.Status != Skip || !strings.Contains(out, "[skip] S2S scopes: not checked: the S2S access token check failed") {
		t.Errorf("scopes after a failed token: %+v\n%s", c, out)
	}
	// A skipped check has the name it has when it runs.
	if c := find(checks, "ZAK user"); c.Status != Skip {
		t.Errorf("the ZAK user after a failed token: %+v\n%s", c, out)
	}
	openErr := errors.New(`failed to connect to user=zt database=zoomtoken: FATAL: database "zoomtoken" does not exist (SQLSTATE 3D000)`)
	db := config.Database{Engine: config.Postgres, URL: config.NewSecret("postgres://zt:s3cret-pw@db.internal:5432/zoomtoken?sslmode=require")}
	got := checkConnected(context.Background(), &config.Connections{PublicURL: "https://x.example", Database: db},
		&Connected{OpenErr: openErr, Zoom: zoom.NewUserClient(zoom.Config{OAuthBaseURL: "http://127.0.0.1:1", Budget: time.Millisecond}, "")})
	dbCheck, rows := find(got, "connections database"), find(got, "stored connections")
	if !strings.Contains(dbCheck.Fix, "createdb -h db.internal -U zt zoomtoken") || strings.Contains(dbCheck.Fix, "s3cret-pw") || rows.Status != Skip {
		t.Errorf("database: %+v\nrows: %+v", dbCheck, rows)
	}
}

func TestReachIsReported(t *testing.T) {
	conns := &config.Connections{}
	key := []config.Secret{config.NewSecret(strings.Repeat("k", 40))}
	for name, tc := range map[string]struct {
		cfg  config.Config
		want Status
		says string
	}{
		"the default, with links": {config.Config{Connections: conns, CallbackReach: config.ReachOwn, BotLinkKeys: key}, Pass, "1 key(s)"},
		"the default, no links":   {config.Config{Connections: conns, CallbackReach: config.ReachOwn}, Warn, "no bot can get"},
		"reach=connected":         {config.Config{Connections: conns, CallbackReach: config.ReachConnected, BotLinkKeys: key}, Warn, "reaches every connected account"},
		"S2S only, secrets only":  {config.Config{S2S: &config.S2S{}, CallbackReach: config.ReachOwn}, Pass, "own account only"},
	} {
		if c := checkReach(tc.cfg); c.Status != tc.want || !strings.Contains(c.Detail, tc.says) {
			t.Errorf("%s: %v %q, want %v saying %q", name, c.Status, c.Detail, tc.want, tc.says)
		}
	}
}
