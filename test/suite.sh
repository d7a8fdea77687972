#!/usr/bin/env bash
# make test: every step runs whatever an earlier one did, and a summary at the end says what ran,
# what was skipped and what failed; the exit status is non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
passed=() failed=() skipped=()

step() { # step <name> <command...>
  local name=$1
  shift
  echo "== make test: $name"
  if "$@"; then passed+=("$name"); else failed+=("$name"); fi
}

# A module's tests with -v, so that a skipped test is seen (and named) in the summary.
module_tests() { # module_tests <name> <folder>
  local name=$1 dir=$2 out
  out=$(mktemp)
  echo "== make test: $name"
  if (cd "$dir" && $GO vet ./... && $GO test -race -count=1 -v ./...) 2>&1 | tee "$out" | grep -E '^(ok|FAIL|---|\s+\S+_test\.go)'; then :; fi
  if grep -qE '^(FAIL|--- FAIL)' "$out" || ! grep -qE '^ok' "$out"; then
    failed+=("$name")
  elif grep -q -- '--- SKIP' "$out"; then
    skipped+=("$name: $(grep -h -A1 -- '--- SKIP' "$out" | grep -v -- '--- SKIP' | head -n 1 | sed 's/^ *//')")
  else
    passed+=("$name")
  fi
  rm -f "$out"
}

echo "make test: go vet, then every test with the race detector; the first run builds everything (a few minutes), later ones take about a minute"
step "go vet" $GO vet ./...
step "the service's tests, with the race detector" $GO test -race -count=1 ./...
pg=$($GO test -count=1 -v -run '^TestServerAnswers$' ./internal/postgres/pgtest 2>&1)
if grep -q -- '--- PASS' <<<"$pg"; then
  echo "PostgreSQL: the storage tests ran on SQLite and on PostgreSQL"
  passed+=("the storage tests on PostgreSQL too")
else
  echo "--- SKIP: the PostgreSQL half of the storage tests: no server answers at DATABASE_URL_TEST"
  skipped+=("the PostgreSQL half of the storage tests: no server answers at DATABASE_URL_TEST")
fi
module_tests "the deployment checks (deploy/)" deploy
module_tests "the browser test (internal/httpapi/browser)" internal/httpapi/browser

echo
echo "make test, in sum:"
for s in "${passed[@]}"; do echo "  ran:     $s"; done
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
for s in "${failed[@]}"; do echo "  FAILED:  $s"; done
echo "steps: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
[ "${#failed[@]}" -eq 0 ]
