package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every curl line a newcomer may paste runs quietly (-s), so what it prints is the answer and
// not a progress meter.
func TestDocsCurlLinesAreSilent(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md")
	// curl as a command: at the start of a line, after a pipe, $( or &&, or opening inline code.
	curl := regexp.MustCompile("(^\\s*|\\|\\s*|\\$\\(|&&\\s*|`)curl\\s+(\\S+)")
	for _, file := range files {
		for i, line := range strings.Split(string(readFile(t, file)), "\n") {
			for _, m := range curl.FindAllStringSubmatch(line, -1) {
				if !regexp.MustCompile(`^-[A-Za-z]*s`).MatchString(m[2]) {
					t.Errorf("%s:%d: curl without -s: %s", file, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}

// The two places that state MAX_CONNECTIONS' cost agree with each other.
func TestMaxConnectionsCostAgrees(t *testing.T) {
	cost := regexp.MustCompile(`about (\d+ KiB) each`)
	example := cost.FindStringSubmatch(string(readFile(t, "../.env.example")))
	docs := cost.FindStringSubmatch(string(readFile(t, "../docs/configuration.md")))
	if example == nil || docs == nil || example[1] != docs[1] {
		t.Errorf(".env.example says %v, docs/configuration.md says %v", example, docs)
	}
}

// make build builds every command under cmd/, and the README names each of them.
func TestReadmeNamesTheBuiltBinaries(t *testing.T) {
	entries, err := os.ReadDir("../cmd")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(readFile(t, "../README.md"))
	line := ""
	for _, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "| `make build` |") {
			line = l
		}
	}
	for _, e := range entries {
		if e.IsDir() && !strings.Contains(line, "`"+e.Name()+"`") {
			t.Errorf("the README's make build line does not name %s: %q", e.Name(), line)
		}
	}
	if !strings.Contains(string(readFile(t, "../Makefile")), "./cmd/...") {
		t.Error("make build no longer builds ./cmd/...")
	}
}
