package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

func newKeyBase64(tb testing.TB) (string, []byte) {
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key), key
}

// connectionsEnv turns on POST / and connected accounts, storing in databaseURL.
func connectionsEnv(tb testing.TB, databaseURL, keys string) map[string]string {
	env := sdkEnv()
	env["ZOOM_OAUTH_CLIENT_ID"] = "oauth-client"
	env["ZOOM_OAUTH_CLIENT_SECRET"] = "oauth-secret-value"
	env["PUBLIC_URL"] = "http://127.0.0.1:4000"
	env["TOKEN_ENCRYPTION_KEYS"] = keys
	env["CALLBACK_SECRETS"] = "callback-secret-long-enough"
	env["DATABASE_URL"] = databaseURL
	return env
}

func waitForLog(tb testing.TB, inst *instance, want string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(inst.stdout.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no %q in the log:\n%s", want, inst.stdout.String())
}

func TestDatabaseDownAtStartIsNotFatal(t *testing.T) {
	t.Parallel() // its own ports, database and configuration
	keys, _ := newKeyBase64(t)
	t.Run("SQLite, until its directory appears", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "not-yet")
		inst := start(t, connectionsEnv(t, "sqlite:"+filepath.Join(dir, "zt.db"), keys))
		if !strings.Contains(inst.stdout.String(), `"database":"sqlite unavailable, retrying"`) ||
			!strings.Contains(inst.stdout.String(), `"features":["signature","connections"]`) {
			t.Errorf("the startup line does not say the database is unavailable:\n%s", inst.stdout.String())
		}
		assertSignatureWorks(t, inst)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		waitForLog(t, inst, `"message":"database ready"`)
		info, err := os.Stat(filepath.Join(dir, "zt.db"))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("the database file is readable by others: %v", mode)
		}
	})
	t.Run("PostgreSQL that never answers", func(t *testing.T) {
		inst := start(t, connectionsEnv(t, "postgres://zt:db-password-value@127.0.0.1:1/zoomtoken?connect_timeout=1", keys))
		if !strings.Contains(inst.stdout.String(), `"database":"postgres unavailable, retrying"`) {
			t.Errorf("the startup line does not say the database is unavailable:\n%s", inst.stdout.String())
		}
		assertSignatureWorks(t, inst)
		waitForLog(t, inst, `"message":"database still unavailable"`)
		if strings.Contains(inst.stdout.String(), "db-password-value") {
			t.Errorf("the log holds the database password")
		}
	})
}

func assertSignatureWorks(tb testing.TB, inst *instance) {
	tb.Helper()
	resp, err := http.Post(inst.url+"/", "application/json", strings.NewReader(`{"meetingNumber":"1","role":0}`))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("POST / with the database down: %d", resp.StatusCode)
	}
}

func TestRekeyCommand(t *testing.T) {
	t.Parallel() // its own ports, database and configuration
	path := filepath.Join(t.TempDir(), "zt.db")
	keyA, rawA := newKeyBase64(t)
	keyB, rawB := newKeyBase64(t)
	ctx := context.Background()

	// Two connections sealed with A, as a service configured with A alone wrote them.
	db, err := sqlite.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := db.Connections()
	ringA, _ := seal.NewKeyring(rawA)
	withA := connections.NewVault(ringA)
	want := map[string]connections.Tokens{}
	for _, zid := range []string{"u1", "u2"} {
		plain := connections.Tokens{Access: "access-" + zid, Refresh: "refresh-" + zid}
		sealed, _ := withA.Seal(zid, plain)
		c, _, err := store.Save(ctx, connections.Connection{ID: connections.NewID(), ZoomUserID: zid, Email: zid + "@example.com", Tokens: sealed})
		if err != nil {
			t.Fatal(err)
		}
		want[c.ID] = plain
	}
	db.Close()

	rekey := func(keys string) (string, error) {
		var out bytes.Buffer
		env := connectionsEnv(t, "sqlite:"+path, keys)
		err := run(ctx, []string{"zoomtoken", "rekey"}, func(k string) string { return env[k] }, &out, io.Discard)
		return out.String(), err
	}
	out, err := rekey(keyB + "," + keyA)
	if err != nil || !strings.HasPrefix(out, "re-sealed 2 of 2 connections with key ") {
		t.Fatalf("rekey B,A: %q %v", out, err)
	}
	if out, err := rekey(keyB); err != nil || !strings.HasPrefix(out, "re-sealed 0 of 2 connections") {
		t.Errorf("rekey B alone after the rekey: %q %v", out, err)
	}

	db, err = sqlite.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store = db.Connections()
	ringB, _ := seal.NewKeyring(rawB)
	withB := connections.NewVault(ringB)
	for id, plain := range want {
		c, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := withB.Open(c); err != nil || got.Access != plain.Access || got.Refresh != plain.Refresh {
			t.Errorf("%s with B alone after rekey: %v", id, err)
		}
	}

	// With a key gone, rekey names the rows it cannot open and fails.
	keyC, _ := newKeyBase64(t)
	out, err = rekey(keyC)
	if err == nil || !strings.Contains(out, "re-sealed 0 of 2") || strings.Count(out, "not opened: connection conn_") != 2 {
		t.Errorf("rekey with neither key: %q %v", out, err)
	}
	for _, plain := range want {
		if strings.Contains(out, plain.Access) || strings.Contains(out, plain.Refresh) || (err != nil && strings.Contains(err.Error(), plain.Refresh)) {
			t.Errorf("rekey printed a token")
		}
	}
}

// Start-up warns, in the doctor's words, of what zoomtoken doctor would fail: a secret too short
// to be Zoom's, a variable no feature reads, and stored rows the configured keys do not open
// (the first bot would get a 502).
func TestStartupWarnsAsTheDoctor(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "zt.db")
	_, rawA := newKeyBase64(t)
	keyB, _ := newKeyBase64(t)
	db, err := sqlite.Open(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ringA, _ := seal.NewKeyring(rawA)
	sealed, _ := connections.NewVault(ringA).Seal("u1", connections.Tokens{Access: "a", Refresh: "r"})
	if _, _, err := db.Connections().Save(context.Background(), connections.Connection{ID: connections.NewID(), ZoomUserID: "u1", Tokens: sealed}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	env := connectionsEnv(t, "sqlite:"+path, keyB)
	env["ZOOM_MEETING_SDK_KEY"], env["ZOOM_MEETING_SDK_SECRET"] = "demoSdkKeyOfTwentyCh", "abcde"
	env["RTMS_STREAM_TTL"] = "1h" // RTMS is off
	inst := start(t, env)
	waitForLog(t, inst, "do not decrypt")
	logs := inst.stdout.String()
	for _, want := range []string{
		`"check":"Meeting SDK credentials"`, "ZOOM_MEETING_SDK_SECRET has 5 characters",
		`"check":"unused variables"`, "RTMS_STREAM_TTL",
		`"check":"stored connections"`, "1 of 1 connections do not decrypt with TOKEN_ENCRYPTION_KEYS",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the start-up log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "abcde") {
		t.Error("the log holds the secret")
	}
}
