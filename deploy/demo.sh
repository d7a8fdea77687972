#!/usr/bin/env bash
# Runs the Zoom emulator and zoomtoken wired to it on loopback, with throwaway credentials, and
# prints a curl line for every route. Needs nothing but the binaries in $BIN. Ctrl-C stops both.
set -euo pipefail

port=${DEMO_PORT:-4000}
emu_port=${DEMO_EMU_PORT:-9900}
bin=${BIN:-bin}
emu="http://127.0.0.1:$emu_port"
svc="http://127.0.0.1:$port"
secret="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
admin="demo-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
linkkey="demo-link-key-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# The demo's own database and encryption key, thrown away when it stops.
work=$(mktemp -d)
key=$(head -c 32 /dev/urandom | base64)

# A port already taken would have the curl lines below talk to some other process.
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if taken "$port"; then
  echo "demo: port $port is already in use (another make demo, or a zoomtoken?); pick another, e.g. DEMO_PORT=4100 make demo" >&2
  exit 1
fi
if taken "$emu_port"; then
  echo "demo: port $emu_port (the Zoom emulator's) is already in use; pick another, e.g. DEMO_EMU_PORT=9901 make demo" >&2
  exit 1
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: $1 did not come up" >&2
  return 1
}

env -i PATH="$PATH" "$bin/zoomemu" -addr "127.0.0.1:$emu_port" \
  -account-id demo-account -client-id demo-client -client-secret demo-client-secret \
  -users 'demo-user:bot@example.com' -meetings 123456789 -hosts 'demo-user:123456789' \
  -oauth-client-id demo-oauth-client -oauth-client-secret demo-oauth-client-secret \
  -oauth-redirect "$svc/oauth/callback" -webhook-secret demo-webhook-secret-token \
  -rtms-webhook-url "$svc/webhooks/zoom" -rtms-keepalive 1s >/dev/null &
pids+=($!)
wait_for "$emu/_emu/calls"

config=(
  PATH="$PATH"
  PORT="$port"
  ZOOM_MEETING_SDK_KEY=demoSdkKey
  ZOOM_MEETING_SDK_SECRET=demo-sdk-secret-not-for-production
  ZOOM_VIDEO_SDK_KEY=demoVideoKey
  ZOOM_VIDEO_SDK_SECRET=demo-video-secret-not-for-production
  ZOOM_ACCOUNT_ID=demo-account
  ZOOM_CLIENT_ID=demo-client
  ZOOM_CLIENT_SECRET=demo-client-secret
  ZOOM_ZAK_USER=bot@example.com
  CALLBACK_SECRETS="$secret"
  BOT_LINK_KEYS="$linkkey"
  ZOOM_OAUTH_BASE_URL="$emu"
  ZOOM_API_BASE_URL="$emu"
  ZOOM_OAUTH_CLIENT_ID=demo-oauth-client
  ZOOM_OAUTH_CLIENT_SECRET=demo-oauth-client-secret
  PUBLIC_URL="$svc"
  TOKEN_ENCRYPTION_KEYS="$key"
  DATABASE_URL="sqlite:$work/zoomtoken.db"
  ADMIN_TOKENS="$admin"
  ZOOM_WEBHOOK_SECRET_TOKENS=demo-webhook-secret-token
  CONNECT_APP_NAME="Demo Notetaker"
  ATTENDEE_WEBHOOK_SECRETS=ZGVtby1hdHRlbmRlZS1zZWNyZXQtbm90LWZvci1wcm9k
  LOG_FORMAT="${LOG_FORMAT:-console}"
)
# The same configuration as a .env file: zoomtoken reads .env from its working directory, so any
# of its commands runs against the demo from there.
printf '%s\n' "${config[@]}" | grep -v '^PATH=' >"$work/.env"
chmod 600 "$work/.env"
abs_bin=$(cd "$bin" && pwd)

# Loopback only: the banner below prints the demo's admin token and callback secret.
env -i "${config[@]}" "$bin/zoomtoken" -addr "127.0.0.1:$port" &
pids+=($!)
wait_for "$svc/healthz"

link=$(env -i "${config[@]}" "$bin/zoomtoken" connect-link -ref demo-customer 2>/dev/null)
# Bot links: each a URL that is its own credential for one route and its parameters.
botlink() { env -i "${config[@]}" "$bin/zoomtoken" bot-link "$@" 2>/dev/null; }
obf_link=$(botlink -route /obf-token -ref demo-customer)
zak_link=$(botlink -route /zak -ref demo-customer)
host_link=$(botlink -route /join-token -meeting 123456789)
new_meeting_link=$(botlink -route /join-token -meeting 555000111)

echo
echo "zoomtoken doctor, against the emulator:"
env -i "${config[@]}" "$bin/zoomtoken" doctor | sed 's/^/  /'

cat <<MSG

zoomtoken is running on $svc, wired to the Zoom emulator on $emu,
with throwaway credentials (callback secret: $secret). Try:

  # a Meeting SDK signature for a web client
  curl -s $svc/ -H 'Content-Type: application/json' -d '{"meetingNumber":"123456789","role":0}'

  # a Video SDK signature for a session
  curl -s $svc/video-sdk -H 'Content-Type: application/json' -d '{"role":1,"sessionName":"demo-session"}'

  # a ZAK for the bot user
  curl -s '$svc/zak?secret=$secret'

  # a local-recording join token (dashes and spaces in the meeting id are fine)
  curl -s '$svc/join-token?secret=$secret&meeting_id=123-456-789'

  # a live-streaming join token that also skips the waiting room
  curl -s '$svc/join-token?secret=$secret&meeting_id=123456789&type=live_streaming&bypass_waiting_room=true'

  # a wrong secret: 401, and Zoom is never called
  curl -si '$svc/zak?secret=wrong'

  # a meeting Zoom does not know: 404
  curl -si '$svc/join-token?secret=$secret&meeting_id=987654321'

  # make Zoom fail twice; the next /zak above is retried and still answers
  curl -s -X POST '$emu/_emu/fault?endpoint=zak&fault=server_error&count=2'

  # liveness, and Prometheus metrics
  curl -s $svc/healthz
  curl -s $svc/metrics | grep '^zoomtoken_'

Connected accounts: a person connects their Zoom account once, and bots get their tokens.
Open this connect link in a browser and click Allow on the emulator's Zoom page:

  $link

or let the emulator approve, and follow the link with curl (the cookie jar is the browser):

  curl -s -X POST '$emu/_emu/approve?user=demo-user'
  curl -sL -c '$work/cookies' -b '$work/cookies' '$link'

  # a bot gets a connected user's tokens with a bot link: a URL that is its own credential for
  # one route and its parameters until it expires (docs/meeting-bots.md#bot-links); mint one
  # with the admin API, with zoomtoken bot-link, or in your own backend from the recipe
  curl -s -X POST $svc/admin/bot-links -H 'Authorization: Bearer $admin' -d '{"route":"/obf-token","params":{"ref":"demo-customer"}}'

  # then an OBF token and the ZAK of the connected user, as a bot asks for them
  curl -s '$obf_link'
  curl -s '$zak_link'

  # the callback secret alone reaches your own account only: 403, and Zoom is not called
  curl -s '$svc/obf-token?secret=$secret&ref=demo-customer'

  # the connection, as the admin API shows it (no token in it)
  curl -s $svc/admin/connections -H 'Authorization: Bearer $admin'

  # the user hosts meeting 123456789: a link for that meeting gets its join token from their account
  curl -s '$host_link'

  # Zoom tells zoomtoken about a new meeting with a signed webhook, as it would in production
  curl -s -X POST '$emu/_emu/webhook?event=meeting.created&meeting=555000111&host=demo-user&url=$svc/webhooks/zoom'
  # zoomtoken now maps the meeting to its host: its join token comes from the user's account
  curl -s '$new_meeting_link'

  # attendee's bots ask POST /callbacks/attendee for their tokens (docs/meeting-bots.md#attendee),
  # signed with the project's webhook secret as attendee signs them
  export SVC=$svc
  ATTENDEE_SECRET=ZGVtby1hdHRlbmRlZS1zZWNyZXQtbm90LWZvci1wcm9k
  BODY='{"bot_id":"bot_demo","bot_metadata":{"zoomtoken_ref":"demo-customer","zoomtoken_zak":"true"},"callback_type":"zoom_tokens","meeting_url":"https://us02web.zoom.us/j/123456789?pwd=demo"}'
  SIG=\$(printf %s "\$BODY" | openssl dgst -sha256 -binary -mac HMAC -macopt "hexkey:\$(printf %s "\$ATTENDEE_SECRET" | base64 -d | od -An -vtx1 | tr -d ' \\n')" | base64)
  curl -s -X POST "\$SVC/callbacks/attendee" -H 'Content-Type: application/json' -H "X-Webhook-Signature: \$SIG" -d "\$BODY"

  # the user removes the app in Zoom: the connection is gone, and bots are told so
  curl -s -X POST '$emu/_emu/users/demo-user/deauthorize?url=$svc/webhooks/zoom'
  curl -s '$obf_link'

Realtime Media Streams (docs/rtms.md): zoomtoken starts a meeting's stream and signs for its
workers, so no worker holds the Client Secret. In another shell:

  export SVC=$svc EMU=$emu SECRET=$secret ADMIN=$admin

  # start meeting 123456789's stream (here with the S2S app: nobody connected hosts it any more);
  # Zoom answers, then sends meeting.rtms_started to zoomtoken's webhook
  curl -s -X POST "\$SVC/admin/rtms/start" -H "Authorization: Bearer \$ADMIN" -d '{"meeting_id":"123456789"}'

  # the stream id, as the rtms.started event or the webhook carries it
  STREAM=\$(curl -s "\$EMU/_emu/rtms/stream?meeting=123456789")

  # what a worker's join() takes, signature included
  curl -s "\$SVC/rtms/stream?secret=\$SECRET&rtms_stream_id=\$STREAM"

  # a worker that holds no secret: it prints the transcript until the stream stops
  go run ./examples/rtmsworker -service "\$SVC" -secret "\$SECRET" -stream "\$STREAM"

  # Zoom moves the stream to another server (failover): the worker's sockets drop, zoomtoken
  # records rtms.moved, and the worker asks it again and follows to the new server
  curl -s -X POST "\$EMU/_emu/rtms/failover?stream=\$STREAM"

  # the meeting ends the stream (stop_reason 6): the worker says so and exits, the stream answers 410
  curl -s -X POST "\$EMU/_emu/rtms/stop?stream=\$STREAM&reason=6"
  curl -si "\$SVC/rtms/stream?secret=\$SECRET&rtms_stream_id=\$STREAM"

The demo's configuration is in $work/.env (zoomtoken reads .env from its working directory),
so every zoomtoken command runs against the demo from there, for example:

  (cd '$work' && '$abs_bin/zoomtoken' doctor)

Press Ctrl-C to stop.
MSG
wait -n
