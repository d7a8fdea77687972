package httpapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// docRecipe is the fenced block that follows "<!-- recipe: NAME -->" in the docs.
func docRecipe(tb testing.TB, doc []byte, name string) string {
	tb.Helper()
	m := regexp.MustCompile("(?s)<!-- recipe: " + name + " -->\n```[a-z]*\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		tb.Fatalf("docs/meeting-bots.md has no %s recipe", name)
	}
	return string(m[1])
}

// Each bot-link recipe of docs/meeting-bots.md, run as it stands with its own language, prints a
// link the service accepts, and the link works for that connection only.
func TestDocsBotLinkRecipes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/meeting-bots.md")
	if err != nil {
		t.Fatal(err)
	}
	f := accessFixture(t, sqlitetest.Open(t, sqlstore.Options{}))
	for _, tc := range []struct {
		name, file string
		command    []string
	}{
		{"python", "link.py", []string{"python3", "link.py"}},
		{"node", "link.js", []string{"node", "link.js"}},
		{"sh", "link.sh", []string{"bash", "link.sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.command[0]); err != nil || tc.name == "sh" && !hasOpenSSL() {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s is not installed; CI must run every recipe", tc.command[0])
				}
				t.Skipf("%s is not installed (Debian: apt-get install python3 nodejs openssl); skipping its recipe", tc.command[0])
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(docRecipe(t, doc, tc.name)), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tc.command[0], tc.command[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "BOT_LINK_KEY="+string(linkKey), "SERVICE="+f.srv.URL)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			link := strings.TrimSpace(string(out))
			if !strings.HasPrefix(link, f.srv.URL+"/obf-token?") {
				t.Fatalf("printed %q", link)
			}
			path := strings.TrimPrefix(link, f.srv.URL)
			resp, body := f.srv.do(t, "GET", path, nil, "")
			if resp.StatusCode != 200 || !strings.HasPrefix(body, "emu_obf_") || f.lastAccessLine(t)["connection_id"] != mustFind(t, f, "alice-id").ID {
				t.Errorf("the recipe's link: %d %q", resp.StatusCode, body)
			}
			if resp, _ := f.srv.do(t, "GET", strings.Replace(path, "customer-42", "mobile", 1), nil, ""); resp.StatusCode != 401 {
				t.Errorf("the recipe's link for another ref: %d, want 401", resp.StatusCode)
			}
		})
	}
}

func hasOpenSSL() bool {
	_, err := exec.LookPath("openssl")
	return err == nil
}
