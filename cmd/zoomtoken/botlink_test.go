package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/botlink"
)

// zoomtoken bot-link prints a link the service accepts for exactly what was asked, and refuses
// what the route would.
func TestBotLinkCommand(t *testing.T) {
	t.Parallel()
	key := "bot-link-key-for-the-command-test-0123456789"
	keys, _ := newKeyBase64(t)
	env := connectionsEnv(t, "sqlite:"+t.TempDir()+"/zt.db", keys)
	env["BOT_LINK_KEYS"] = key
	getenv := func(k string) string { return env[k] }
	var stdout, stderr bytes.Buffer
	args := []string{"zoomtoken", "bot-link", "-route", "/join-token", "-ref", "customer 42", "-meeting", "850-1234-5678",
		"-param", "type=live_streaming", "-ttl", "3600"}
	if err := run(context.Background(), args, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	u, err := url.Parse(strings.TrimSpace(stdout.String()))
	if err != nil || u.Scheme+"://"+u.Host != env["PUBLIC_URL"] {
		t.Fatalf("printed %q", stdout.String())
	}
	link, err := botlink.New([][]byte{[]byte(key)}, time.Now).Verify(u.Path, u.RawQuery)
	want := url.Values{"ref": {"customer 42"}, "meeting_id": {"850-1234-5678"}, "type": {"live_streaming"}}
	if err != nil || link.Params.Encode() != want.Encode() {
		t.Errorf("the link: %v %v, want %v", link.Params, err, want)
	}
	for _, bad := range [][]string{
		{"-route", "/obf-token"},                   // names no connection
		{"-route", "/zak", "-meeting", "1"},        // /zak takes no meeting
		{"-route", "/admin/connections"},           // not a bot route
		{"-route", "/join-token", "-meeting", "x"}, // not a meeting id
		{"-route", "/zak", "-ref", "a", "-param", "ref=b"},
		{"-route", "/zak", "stray"},
	} {
		if err := run(context.Background(), append([]string{"zoomtoken", "bot-link"}, bad...), getenv, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("bot-link %v: no error", bad)
		}
	}
}

// connect-link refuses what would silently make another link than meant.
func TestConnectLinkCommandRefusesMistakes(t *testing.T) {
	t.Parallel()
	keys, _ := newKeyBase64(t)
	env := connectionsEnv(t, "sqlite:"+t.TempDir()+"/zt.db", keys)
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{
		{"customer-42"},        // the ref without -ref: a link with no ref
		{"-ref", "a,b"},        // attendee reads a comma as two refs
		{"-ref", "x", "extra"}, // a stray argument
	} {
		err := run(context.Background(), append([]string{"zoomtoken", "connect-link"}, args...), getenv, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("connect-link %v: no error", args)
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"zoomtoken", "connect-link", "-ref", "customer-42"}, getenv, &stdout, &bytes.Buffer{}); err != nil ||
		!strings.Contains(stdout.String(), "ref=customer-42") {
		t.Errorf("connect-link -ref customer-42: %v %q", err, stdout.String())
	}
}

// ADMIN_TOKENS and BOT_LINK_KEYS are enough for the admin API to mint links, with no connected
// accounts; the link then works on the S2S route it names.
func TestAdminMintsBotLinksWithoutConnectedAccounts(t *testing.T) {
	env := sdkEnv()
	env["ZOOM_ACCOUNT_ID"], env["ZOOM_CLIENT_ID"], env["ZOOM_CLIENT_SECRET"] = "acct", "client", "client-secret"
	env["BOT_LINK_KEYS"] = "bot-link-key-for-the-admin-test-0123456789"
	env["ADMIN_TOKENS"] = "admin-token-for-the-bot-link-test"
	inst := start(t, env)
	req, _ := http.NewRequest(http.MethodPost, inst.url+"/admin/bot-links", strings.NewReader(`{"route":"/join-token","params":{"meeting_id":"123456789"}}`))
	req.Header.Set("Authorization", "Bearer admin-token-for-the-bot-link-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"path":"/join-token?expires=`) {
		t.Errorf("POST /admin/bot-links: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodGet, inst.url+"/admin/connections", nil)
	req.Header.Set("Authorization", "Bearer admin-token-for-the-bot-link-test")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/admin/connections without connected accounts: %v %v, want 404", resp, err)
	}
}
