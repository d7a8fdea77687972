#!/usr/bin/env bash
# Runs zoomtoken on loopback with throwaway credentials and prints a curl line for every route.
# Needs nothing but Go. Ctrl-C stops everything it started.
set -euo pipefail

port=${DEMO_PORT:-4000}
bin=${BIN:-bin}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
  PORT="$port" \
  ZOOM_MEETING_SDK_KEY=demoSdkKey \
  ZOOM_MEETING_SDK_SECRET=demo-sdk-secret-not-for-production \
  LOG_FORMAT=console \
  "$bin/zoomtoken" &
pids+=($!)

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

cat <<MSG

zoomtoken is running on http://127.0.0.1:$port with throwaway credentials. Try:

  # a Meeting SDK signature for a web client
  curl -s http://127.0.0.1:$port/ -H 'Content-Type: application/json' -d '{"meetingNumber":"123456789","role":0}'

  # a validation error: every problem, in field order
  curl -s http://127.0.0.1:$port/ -H 'Content-Type: application/json' -d '{"meetingNumber":"12a","role":7}'

  # liveness
  curl -s http://127.0.0.1:$port/healthz

Press Ctrl-C to stop.
MSG
wait
