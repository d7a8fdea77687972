#!/usr/bin/env bash
# Runs `make demo` on spare ports, pastes every curl line it prints, and checks each answer:
# the README's first command must keep working.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp)
# In its own process group, so the whole demo (make, the script, both servers) can be stopped.
DEMO_PORT=${DEMO_PORT:-4870} DEMO_EMU_PORT=${DEMO_EMU_PORT:-4871} LOG_FORMAT=json setsid make -s demo >"$out" 2>&1 &
demo=$!
trap 'kill -TERM -- -$demo 2>/dev/null; wait $demo 2>/dev/null || true; rm -f "$out"' EXIT

for _ in $(seq 300); do grep -q 'Press Ctrl-C' "$out" && break; sleep 0.1; done
grep -q 'Press Ctrl-C' "$out" || { cat "$out"; echo "demo-check: the demo did not start" >&2; exit 1; }

# The demo's service listens on loopback only (its banner prints its secrets).
grep -q '"addr":"127.0.0.1:'"${DEMO_PORT:-4870}"'".*zoomtoken listening' "$out" ||
  { grep 'listening' "$out"; echo "demo-check: FAIL: the demo's service does not listen on 127.0.0.1 only" >&2; exit 1; }
echo "demo-check: ok: the demo's service listens on 127.0.0.1:${DEMO_PORT:-4870} only"

expect() { # expect <pattern> <curl line>
  local got
  got=$(bash -c "$2")
  if ! grep -qE "$1" <<<"$got"; then
    echo "demo-check: FAIL: $2" >&2
    echo "  got: $got" >&2
    exit 1
  fi
  echo "demo-check: ok: ${2:0:90}"
}

mapfile -t lines < <(grep -E '^  curl ' "$out" | sed 's/^  //')
[ "${#lines[@]}" -ge 28 ] || { echo "demo-check: expected 28 curl lines, found ${#lines[@]}" >&2; exit 1; }
expect '^\{"signature":"eyJ[^"]+","sdkKey":"demoSdkKey"\}$' "${lines[0]}"
expect '^\{"signature":"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"\}$' "${lines[1]}"
expect '^emu_zak_[A-Za-z0-9_-]+$' "${lines[2]}"
expect '^emu_jt_[A-Za-z0-9_-]+$' "${lines[3]}"
expect '^emu_jt_[A-Za-z0-9_-]+$' "${lines[4]}"
expect 'HTTP/1.1 401' "${lines[5]}"
expect 'HTTP/1.1 404' "${lines[6]}"
expect 'queued 2 server_error' "${lines[7]}"
expect '^emu_zak_' "${lines[2]}"
expect '^ok$' "${lines[8]}"
expect 'zoomtoken_http_requests_total\{route="/zak",status="200"\}' "${lines[9]}"
expect 'approves at once' "${lines[10]}"
expect 'Your Zoom account is connected' "${lines[11]}"
expect '"path":"/obf-token\?expires=[0-9]+&ref=demo-customer&sig=[A-Za-z0-9_-]+"' "${lines[12]}"
expect '^emu_obf_[A-Za-z0-9_-]+$' "${lines[13]}"
expect '^emu_zak_[A-Za-z0-9_-]+$' "${lines[14]}"
expect 'needs a bot link' "${lines[15]}"
expect '"status":"active"' "${lines[16]}"
expect '^emu_jt_[A-Za-z0-9_-]+$' "${lines[17]}"
expect 'sent meeting.created; answered 200' "${lines[18]}"
expect '^emu_jt_[A-Za-z0-9_-]+$' "${lines[19]}"
# attendee's callback, as docs/meeting-bots.md signs it by hand: its commands are the demo's.
while IFS= read -r doc_line; do
  grep -qxF "  $doc_line" "$out" || { echo "demo-check: FAIL: docs/meeting-bots.md's line is not among make demo's: $doc_line" >&2; exit 1; }
done < <(sed -n '/^## attendee/,/^## /p' docs/meeting-bots.md | grep -E '^(ATTENDEE_SECRET=|BODY=|SIG=|curl )')
echo "demo-check: ok: docs/meeting-bots.md's attendee commands are make demo's"
attendee_script=$(sed -n '/^  export SVC=[^ ]*$/,/^  curl .*callbacks\/attendee/p' "$out" | sed 's/^  //')
grep -q 'callbacks/attendee' <<<"$attendee_script" || { echo "demo-check: the demo prints no attendee callback" >&2; exit 1; }
expect '^\{"zak_token":"emu_zak_[^"]+","app_privilege_token":"emu_jt_[^"]+","onbehalf_token":"emu_obf_[^"]+"\}$' "$attendee_script"
expect 'app_deauthorized answered 200' "${lines[21]}"
expect 'no connected Zoom account' "${lines[22]}"
# Realtime Media Streams, as docs/rtms.md runs them: its commands are the demo's, to the letter.
while IFS= read -r doc_line; do
  grep -qxF "  $doc_line" "$out" || { echo "demo-check: FAIL: docs/rtms.md's line is not among make demo's: $doc_line" >&2; exit 1; }
done < <(sed -n '/^## The flow/,/^## The routes/p' docs/rtms.md | grep -E '^(curl |STREAM=|go run )')
echo "demo-check: ok: docs/rtms.md's commands are make demo's"
# The export line, then each command in turn.
eval "$(grep -E '^  export SVC=.* EMU=' "$out")"
[ -n "${SVC:-}" ] || { echo "demo-check: the demo printed no export line for RTMS" >&2; exit 1; }
expect '"action":"start","connection_id":null,"meeting_id":"123456789","via":"s2s"' "${lines[23]}"
for _ in $(seq 50); do STREAM=$(curl -s "$EMU/_emu/rtms/stream?meeting=123456789"); [ ${#STREAM} -eq 32 ] && break; sleep 0.1; done
grep -qF 'STREAM=$(curl -s "$EMU/_emu/rtms/stream?meeting=123456789")' "$out" || { echo "demo-check: the demo does not print the STREAM line" >&2; exit 1; }
export STREAM
for _ in $(seq 50); do curl -sf "$SVC/rtms/stream?secret=$SECRET&rtms_stream_id=$STREAM" >/dev/null && break; sleep 0.1; done
expect '"signature":"[0-9a-f]{64}"' "${lines[24]}"
worker_line=$(grep -E '^  go run ./examples/rtmsworker ' "$out" | sed 's/^  //')
worker_out=$(mktemp)
bash -c "$worker_line" >"$worker_out" 2>&1 &
worker=$!
for _ in $(seq 600); do grep -q '^Alice: ' "$worker_out" && break; sleep 0.1; done
grep -q '^Alice: ' "$worker_out" || { cat "$worker_out"; echo "demo-check: FAIL: the worker got no transcript" >&2; exit 1; }
echo "demo-check: ok: the worker joined without the Client Secret and printed: $(grep -m1 '^Alice: ' "$worker_out")"
expect 'moved; a new rtms_started sent' "${lines[25]}"
for _ in $(seq 600); do grep -q 'joined stream .*/rtms/emu1/signaling' "$worker_out" && break; sleep 0.1; done
grep -q 'the stream moved to .*/rtms/emu1/signaling' "$worker_out" && grep -q 'joined stream .*/rtms/emu1/signaling' "$worker_out" ||
  { cat "$worker_out"; echo "demo-check: FAIL: the worker did not follow the stream to its new server" >&2; exit 1; }
echo "demo-check: ok: the worker followed the failover: $(grep -m1 'the stream moved to' "$worker_out")"
expect 'stopped; rtms_stopped sent' "${lines[26]}"
wait "$worker" || { cat "$worker_out"; echo "demo-check: FAIL: the worker did not end cleanly at the stop" >&2; exit 1; }
grep -q 'the stream ended: the meeting ended (stop_reason 6)$' "$worker_out" ||
  { cat "$worker_out"; echo "demo-check: FAIL: the worker's last line does not say why the stream ended" >&2; exit 1; }
grep -qF "$SECRET" "$worker_out" && { echo "demo-check: FAIL: the worker printed its caller secret" >&2; exit 1; }
echo "demo-check: ok: the worker ended with the stream and said why"
rm -f "$worker_out"
expect 'HTTP/1.1 410' "${lines[27]}"
grep -q '0 failed' "$out" || { cat "$out"; echo "demo-check: the doctor found problems in the demo" >&2; exit 1; }
echo "demo-check: ok: zoomtoken doctor is all green"
doctor_line=$(grep -E "^  \(cd '.*' && '.*/zoomtoken' doctor\)$" "$out" | sed 's/^  //')
[ -n "$doctor_line" ] || { echo "demo-check: the demo prints no line to run zoomtoken doctor against its configuration" >&2; exit 1; }
expect 'checks, 0 failed' "$doctor_line"
echo "demo-check: every curl line of make demo works"

# With its port taken, the demo stops and names the variable that moves it.
for var in DEMO_PORT DEMO_EMU_PORT; do
  port=4872
  bin/zoomemu -addr "127.0.0.1:$port" >/dev/null 2>&1 &
  squatter=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  # Into an empty bin/, as on a fresh clone: the demo says it builds first.
  fresh_bin=$(mktemp -d)
  if msg=$(env "$var=$port" make -s demo BIN="$fresh_bin" 2>&1); then
    kill "$squatter"; echo "demo-check: FAIL: make demo ran with $var's port taken" >&2; exit 1
  fi
  kill "$squatter"; wait "$squatter" 2>/dev/null || true
  rm -rf "$fresh_bin"
  grep -q "$var" <<<"$msg" || { echo "demo-check: FAIL: with its port taken, make demo said: $msg" >&2; exit 1; }
  grep -q "building zoomtoken and the Zoom emulator first (about a minute" <<<"$msg" ||
    { echo "demo-check: FAIL: on a fresh bin/, make demo did not say it builds first: $msg" >&2; exit 1; }
  echo "demo-check: ok: with $var's port taken, make demo stops and names $var"
done

# docs/deployment.md's emulator recipe, pasted as it stands, on ports other than its defaults.
recipe=$(sed -n '/^## The Zoom emulator/,/^```$/p' docs/deployment.md | sed -n '/^```sh$/,/^```$/p' | sed '1d;$d')
grep -q 'bin/zoomemu' <<<"$recipe" || { echo "demo-check: docs/deployment.md has no emulator recipe" >&2; exit 1; }
recipe_out=$(EMU_PORT=4875 PORT=4876 bash -c "$recipe" 2>&1)
grep -q 'emu_zak_' <<<"$recipe_out" && grep -q 'emu_jt_' <<<"$recipe_out" ||
  { echo "$recipe_out"; echo "demo-check: FAIL: docs/deployment.md's emulator recipe did not vend a ZAK and a join token" >&2; exit 1; }
grep -q '127.0.0.1:4876' <<<"$recipe_out" ||
  { echo "$recipe_out"; echo "demo-check: FAIL: docs/deployment.md's emulator recipe ignored PORT" >&2; exit 1; }
echo "demo-check: ok: docs/deployment.md's emulator recipe works as written, on the ports it was given"
