// Package layout_test holds the layout of docs/layout.md to what the code imports: each rule
// names the packages it binds, what they may not import, and why. A forbidden import added
// anywhere fails here, so the layout stays as it is written.
package layout_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/zoomtoken/zoomtoken/"

// The packages that keep data, and the drivers' ones that choose a database. database/sql is
// not among them: libraries (xid, Prometheus's collectors) import it for their own ends, so it
// is forbidden by a rule of its own on what a package imports itself.
var (
	storage   = []string{module + "internal/sqlstore", module + "internal/sqlite", module + "internal/postgres"}
	databases = []string{module + "internal/sqlite", module + "internal/postgres"}
)

// rule forbids packages to import others.
type rule struct {
	// packages are the import paths bound, relative to the module; a trailing "/..." binds
	// every package below.
	packages []string
	// except are packages the rule does not bind.
	except []string
	// forbidden are import paths, or prefixes ending in "/".
	forbidden []string
	// direct checks only what the packages import themselves; otherwise every dependency counts,
	// so a forbidden package cannot come in through another.
	direct bool
	why    string
}

var rules = []rule{
	{
		packages:  []string{"internal/connections", "internal/rtms", "internal/outbox"},
		forbidden: append([]string{"net/http", module + "internal/zoom", module + "internal/httpapi", module + "internal/vend"}, storage...),
		why: "the domain holds the rules (refresh once per expiry, a stream's states, what an event is): it is proven " +
			"without a network or a database, and which store or Zoom client it runs on is chosen in cmd/",
	},
	{
		packages:  []string{"internal/vend"},
		forbidden: append([]string{"net/http", "github.com/rs/zerolog", module + "internal/httpapi"}, storage...),
		direct:    true,
		why: "vend decides which credential makes a token and answers a token or a typed reason; parsing, " +
			"logging and writing the answer are httpapi's, so every caller gets the same choice",
	},
	{
		packages:  []string{"internal/httpapi"},
		forbidden: storage,
		why:       "handlers parse, ask and answer: they reach stored data only through the domain, so a database outage is one error the table maps",
	},
	{
		packages:  []string{"internal/connections", "internal/rtms", "internal/outbox", "internal/vend", "internal/httpapi"},
		forbidden: []string{"database/sql"},
		direct:    true,
		why:       "SQL is written once, in sqlstore and the two drivers' packages",
	},
	{
		packages:  []string{"internal/sqlstore", "internal/sqlite", "internal/postgres"},
		forbidden: []string{"net/http", module + "internal/zoom", module + "internal/httpapi", module + "internal/vend"},
		why:       "storage stores what the domain declares: it calls no one and serves no one",
	},
	{
		packages:  []string{"internal/zoom"},
		forbidden: []string{module + "internal/"},
		why:       "the Zoom client is Zoom's API as zoomtoken uses it; knowing a caller would let a caller's rule leak into every call",
	},
	{
		packages:  []string{"internal/..."},
		except:    []string{"internal/sqlite", "internal/postgres", "internal/sqlite/sqlitetest", "internal/postgres/pgtest"},
		forbidden: databases,
		why:       "only cmd/ chooses a database: everything else works with whichever store it is handed",
	},
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages lists the module's packages (tests left out: they may wire anything).
func listPackages(tb testing.TB) map[string]pkg {
	tb.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	return pkgs
}

// binds reports whether the rule binds the package at rel.
func (r rule) binds(rel string) bool {
	if slices.Contains(r.except, rel) {
		return false
	}
	for _, p := range r.packages {
		if rel == p || strings.HasSuffix(p, "/...") && strings.HasPrefix(rel, strings.TrimSuffix(p, "...")) {
			return true
		}
	}
	return false
}

// violations are the imports of p the rule forbids.
func (r rule) violations(p pkg) []string {
	imports := p.Deps
	if r.direct {
		imports = p.Imports
	}
	var bad []string
	for _, imp := range imports {
		for _, f := range r.forbidden {
			if imp == f || strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f) {
				bad = append(bad, imp)
			}
		}
	}
	return bad
}

func TestImportsFollowTheLayout(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		bound := 0
		for rel, p := range pkgs {
			if !r.binds(rel) {
				continue
			}
			bound++
			if bad := r.violations(p); len(bad) > 0 {
				t.Errorf("%s imports %s: %s", rel, strings.Join(bad, ", "), r.why)
			}
		}
		if bound == 0 {
			t.Errorf("the rule for %v binds no package: a package was renamed without the layout", r.packages)
		}
	}
}

// The rules catch what they forbid: checked on packages made up to break each one.
func TestRulesCatchForbiddenImports(t *testing.T) {
	for _, tc := range []struct {
		rel string
		p   pkg
	}{
		{"internal/connections", pkg{Deps: []string{"net/http"}}},
		{"internal/rtms", pkg{Deps: []string{module + "internal/sqlstore"}}},
		{"internal/vend", pkg{Imports: []string{"net/http"}}},
		{"internal/vend", pkg{Imports: []string{"github.com/rs/zerolog"}}},
		{"internal/httpapi", pkg{Deps: []string{module + "internal/sqlite"}}},
		{"internal/connections", pkg{Imports: []string{"database/sql"}}},
		{"internal/zoom", pkg{Deps: []string{module + "internal/connections"}}},
		{"internal/doctor", pkg{Deps: []string{module + "internal/postgres"}}},
	} {
		caught := false
		for _, r := range rules {
			if r.binds(tc.rel) && len(r.violations(tc.p)) > 0 {
				caught = true
			}
		}
		if !caught {
			t.Errorf("%s importing %v passes every rule", tc.rel, append(tc.p.Imports, tc.p.Deps...))
		}
	}
}
