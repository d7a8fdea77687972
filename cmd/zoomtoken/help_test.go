package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every command answers -h, --help and -help with its own usage and exits 0, reading no
// configuration and touching no database or network: with no .env, and with a .env whose
// database exists and whose Zoom would be called.
func TestCommandHelpTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	// Zoom, as the .env names it: any connection to it is a command that did more than help.
	zoomLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer zoomLn.Close()
	var dialled atomic.Int64
	go func() {
		for {
			c, err := zoomLn.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()

	wants := map[string]string{
		"serve":        "Usage: zoomtoken [-addr host:port] [serve]",
		"doctor":       "Usage: zoomtoken doctor\n",
		"rekey":        "Usage: zoomtoken rekey\n",
		"connect-link": "Usage: zoomtoken connect-link [-ref R] [-ttl 24h|86400]\n",
		"healthcheck":  "Usage: zoomtoken healthcheck\n",
		"version":      "Usage: zoomtoken version\n",
		"bot-link":     "Usage: zoomtoken bot-link -route R",
	}
	check := func(t *testing.T) {
		for name, want := range wants {
			for _, flag := range []string{"-h", "--help", "-help"} {
				var stdout, stderr bytes.Buffer
				done := make(chan error, 1)
				go func() {
					done <- run(context.Background(), []string{"zoomtoken", name, flag}, func(string) string { return "" }, &stdout, &stderr)
				}()
				select {
				case err := <-done:
					if err != nil || !strings.HasPrefix(stdout.String(), want) || stderr.Len() != 0 {
						t.Errorf("%s %s: %v, stdout %.80q, stderr %.80q", name, flag, err, stdout.String(), stderr.String())
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s %s did not return: it is doing more than printing its help", name, flag)
				}
			}
		}
		for _, args := range [][]string{{"zoomtoken", "help"}, {"zoomtoken", "-h"}} {
			var stdout bytes.Buffer
			if err := run(context.Background(), args, func(string) string { return "" }, &stdout, &bytes.Buffer{}); err != nil ||
				strings.Count(stdout.String(), "Usage: zoomtoken [-addr") != 1 || !strings.Contains(stdout.String(), "ZOOM_MEETING_SDK_KEY") {
				t.Errorf("%v: %v, the help %d times", args, err, strings.Count(stdout.String(), "Usage: zoomtoken [-addr"))
			}
		}
	}

	t.Run("no .env", check)

	t.Run("a configuration and a database", func(t *testing.T) {
		keys, _ := newKeyBase64(t)
		env := connectionsEnv(t, "sqlite:"+filepath.Join(dir, "zt.db"), keys)
		env["ZOOM_OAUTH_BASE_URL"] = "http://" + zoomLn.Addr().String()
		env["ZOOM_API_BASE_URL"] = "http://" + zoomLn.Addr().String()
		var dotenv strings.Builder
		for k, v := range env {
			dotenv.WriteString(k + "=" + v + "\n")
		}
		if err := os.WriteFile(".env", []byte(dotenv.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		database := []byte("not a database a command may read, migrate or rewrite")
		if err := os.WriteFile("zt.db", database, 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		os.Chtimes("zt.db", old, old)

		check(t)

		if got, _ := os.ReadFile("zt.db"); !bytes.Equal(got, database) {
			t.Error("the database file was changed")
		}
		if info, _ := os.Stat("zt.db"); !info.ModTime().Equal(old) {
			t.Errorf("the database file was written at %v", info.ModTime())
		}
		if entries, _ := os.ReadDir("."); len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("files made: %v", names)
		}
		if n := dialled.Load(); n != 0 {
			t.Errorf("%d connections to Zoom for help", n)
		}
	})
}
