// Command zoomemu serves an emulated Zoom on a local port: the S2S OAuth token endpoint, ZAKs and
// meeting join tokens, with Zoom's wire format. Point zoomtoken (or your own bot code) at it to
// develop and test with no Zoom account. Run it with -h for its flags.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zoomemu:", err)
		os.Exit(1)
	}
}

const usageHeader = `Usage: zoomemu [flags]

Serves an emulated Zoom API on a local port for development and tests: POST /oauth/token
(Server-to-Server OAuth), GET /v2/users/{user}/token?type=zak and
GET /v2/meetings/{id}/jointoken/{local_recording|live_streaming|local_archiving}.
It answers with Zoom's bodies, codes, statuses and headers. Every flag can also be set with the
environment variable in brackets.

Point zoomtoken at it with:
  ZOOM_OAUTH_BASE_URL=http://ADDR ZOOM_API_BASE_URL=http://ADDR
  ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET = the credentials below

Make it misbehave while it runs (each fault applies to the endpoint's next requests, in order):
  curl -s -X POST 'http://ADDR/_emu/fault?endpoint=zak&fault=server_error&count=2'
      endpoint: ENDPOINTS
      fault: server_error, rate_limit_qps, rate_limit_daily, malformed_json, empty_token,
             invalid_access_token, hang, reset
  curl -s -X POST 'http://ADDR/_emu/latency?d=500ms'
  curl -s -X POST 'http://ADDR/_emu/revoke'            (invalidates every access token)
  curl -s 'http://ADDR/_emu/calls'                     (requests per endpoint)

Connected accounts (the user-managed OAuth app) and webhooks:
  curl -s -X POST 'http://ADDR/_emu/approve?user=U'    (the next consent approves at once as U)
  curl -s -X POST 'http://ADDR/_emu/users/U/expire'    (U's access tokens expire)
  curl -s -X POST 'http://ADDR/_emu/users/U/kill-refresh'   (Zoom refuses U's refresh token)
  curl -s -X POST 'http://ADDR/_emu/users/U/deauthorize?url=WEBHOOK_URL'   (U removes the app)
  curl -s 'http://ADDR/_emu/users/U'                   (refreshes of U's tokens)
  curl -s -X POST 'http://ADDR/_emu/webhook?event=meeting.created&meeting=N&host=U&url=WEBHOOK_URL'
      event: meeting.created, meeting.deleted (the meeting is scheduled or removed), meeting.updated,
             user.updated (user=U&pmi=N: U's personal meeting id changes)

Realtime Media Streams (the RTMS app is the OAuth app unless -rtms-client-id says otherwise):
  PATCH /v2/live_meetings/{id}/rtms_app/status starts, stops, pauses or resumes a meeting's
  stream; the signed webhooks go to -rtms-webhook-url. Workers join the server_urls they name
  (ws://ADDR/rtms/emuN/signaling; wss:// on -rtms-tls-addr), as Zoom's: per-kind media URLs,
  one signaling connection, media after CLIENT_READY_ACK, three unanswered keep-alives end a
  socket.
  curl -s 'http://ADDR/_emu/rtms/stream?meeting=123456789'   (the running stream's id)
  curl -s -X POST 'http://ADDR/_emu/rtms/start?kind=session&id=SESSION'   (or kind=webinar&id=N)
  curl -s -X POST 'http://ADDR/_emu/rtms/interrupt?stream=ID&socket=signaling'   (or socket=media)
  curl -s -X POST 'http://ADDR/_emu/rtms/failover?stream=ID'   (Zoom moves it to another server)
  curl -s -X POST 'http://ADDR/_emu/rtms/stop?stream=ID&reason=6'   (Zoom's stop_reason; 6: the meeting ended)

Flags:
`

// run parses flags (with environment fallbacks), serves the emulator and stops on SIGINT/SIGTERM
// or when ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("zoomemu", flag.ContinueOnError)
	flags.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := flags.String("addr", env("ZOOMEMU_ADDR", "127.0.0.1:9900"), "listen address [ZOOMEMU_ADDR]")
	accountID := flags.String("account-id", env("ZOOMEMU_ACCOUNT_ID", "emu-account"), "S2S account id [ZOOMEMU_ACCOUNT_ID]")
	clientID := flags.String("client-id", env("ZOOMEMU_CLIENT_ID", "emu-client"), "S2S client id [ZOOMEMU_CLIENT_ID]")
	clientSecret := flags.String("client-secret", env("ZOOMEMU_CLIENT_SECRET", "emu-client-secret"), "S2S client secret [ZOOMEMU_CLIENT_SECRET]")
	users := flags.String("users", env("ZOOMEMU_USERS", "emu-user-1:bot@example.com"), "known users, id:email,... [ZOOMEMU_USERS]")
	meetings := flags.String("meetings", env("ZOOMEMU_MEETINGS", "123456789,85746065432"), "known meeting ids, comma-separated [ZOOMEMU_MEETINGS]")
	scopes := flags.String("scopes", env("ZOOMEMU_SCOPES", strings.Join(zoomemu.AllScopes(), ",")), "scopes granted to the app [ZOOMEMU_SCOPES]")
	tokenLifetime := flags.Duration("token-lifetime", durationEnv(getenv, "ZOOMEMU_TOKEN_LIFETIME", time.Hour), "access token lifetime [ZOOMEMU_TOKEN_LIFETIME]")
	oauthClientID := flags.String("oauth-client-id", env("ZOOMEMU_OAUTH_CLIENT_ID", "emu-oauth-client"), "user-managed OAuth app client id [ZOOMEMU_OAUTH_CLIENT_ID]")
	oauthClientSecret := flags.String("oauth-client-secret", env("ZOOMEMU_OAUTH_CLIENT_SECRET", "emu-oauth-client-secret"), "user-managed OAuth app client secret [ZOOMEMU_OAUTH_CLIENT_SECRET]")
	oauthName := flags.String("oauth-app-name", env("ZOOMEMU_OAUTH_APP_NAME", "zoomtoken demo"), "the OAuth app's name, as its consent page shows it [ZOOMEMU_OAUTH_APP_NAME]")
	oauthRedirect := flags.String("oauth-redirect", env("ZOOMEMU_OAUTH_REDIRECT", ""), "the app's registered redirect URL; empty accepts any [ZOOMEMU_OAUTH_REDIRECT]")
	oauthScopes := flags.String("oauth-scopes", env("ZOOMEMU_OAUTH_SCOPES", strings.Join(zoomemu.UserScopes(), ",")), "scopes users grant the OAuth app [ZOOMEMU_OAUTH_SCOPES]")
	hosts := flags.String("hosts", env("ZOOMEMU_HOSTS", ""), "meetings each user hosts, user:id+id,... [ZOOMEMU_HOSTS]")
	webhookSecret := flags.String("webhook-secret", env("ZOOMEMU_WEBHOOK_SECRET", "emu-webhook-secret-token"), "Secret Token that signs the webhooks the emulator sends [ZOOMEMU_WEBHOOK_SECRET]")
	autoApprove := flags.String("auto-approve", env("ZOOMEMU_AUTO_APPROVE", ""), "approve OAuth consent at once as this user, without the page [ZOOMEMU_AUTO_APPROVE]")
	rateLimit := flags.Int("rate-limit", intEnv(getenv, "ZOOMEMU_RATE_LIMIT", 0), "REST calls allowed per second, 0 for no limit [ZOOMEMU_RATE_LIMIT]")
	rtmsClientID := flags.String("rtms-client-id", env("ZOOMEMU_RTMS_CLIENT_ID", ""), "the RTMS app's client id; empty: the OAuth app's [ZOOMEMU_RTMS_CLIENT_ID]")
	rtmsClientSecret := flags.String("rtms-client-secret", env("ZOOMEMU_RTMS_CLIENT_SECRET", ""), "the RTMS app's client secret; empty: the OAuth app's [ZOOMEMU_RTMS_CLIENT_SECRET]")
	rtmsWebhookURL := flags.String("rtms-webhook-url", env("ZOOMEMU_RTMS_WEBHOOK_URL", ""), "where RTMS webhooks go, such as zoomtoken's /webhooks/zoom [ZOOMEMU_RTMS_WEBHOOK_URL]")
	rtmsKeepAlive := flags.Duration("rtms-keepalive", durationEnv(getenv, "ZOOMEMU_RTMS_KEEPALIVE", 10*time.Second), "how long an RTMS socket is idle before a keep-alive, and the pace of media messages [ZOOMEMU_RTMS_KEEPALIVE]")
	rtmsSignalingWindow := flags.Duration("rtms-signaling-window", durationEnv(getenv, "ZOOMEMU_RTMS_SIGNALING_WINDOW", 60*time.Second), "how long a lost signaling connection may take to come back before the stream stops [ZOOMEMU_RTMS_SIGNALING_WINDOW]")
	rtmsMediaWindow := flags.Duration("rtms-media-window", durationEnv(getenv, "ZOOMEMU_RTMS_MEDIA_WINDOW", 30*time.Second), "the same for a lost media connection [ZOOMEMU_RTMS_MEDIA_WINDOW]")
	rtmsTLSAddr := flags.String("rtms-tls-addr", env("ZOOMEMU_RTMS_TLS_ADDR", ""), "also serve the RTMS sockets over wss:// here (a self-signed certificate, TLS 1.2 or newer), and name wss:// URLs [ZOOMEMU_RTMS_TLS_ADDR]")
	videoSDKKey := flags.String("video-sdk-key", env("ZOOMEMU_VIDEO_SDK_KEY", "emu-video-sdk-key"), "the Video SDK app's key: it signs sessions' streams [ZOOMEMU_VIDEO_SDK_KEY]")
	videoSDKSecret := flags.String("video-sdk-secret", env("ZOOMEMU_VIDEO_SDK_SECRET", "emu-video-sdk-secret"), "the Video SDK app's secret [ZOOMEMU_VIDEO_SDK_SECRET]")
	dailyLimit := flags.Int("daily-limit", intEnv(getenv, "ZOOMEMU_DAILY_LIMIT", 0), "REST calls allowed per UTC day, 0 for no limit [ZOOMEMU_DAILY_LIMIT]")
	flags.Usage = func() {
		fmt.Fprint(stderr, strings.ReplaceAll(usageHeader, "ENDPOINTS", strings.ReplaceAll(endpointNames(), "|", ", ")))
		flags.PrintDefaults()
	}
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	cfg := zoomemu.Config{
		Apps: []zoomemu.App{{AccountID: *accountID, ClientID: *clientID, ClientSecret: *clientSecret,
			Scopes: splitList(*scopes)}},
		TokenLifetime:      *tokenLifetime,
		WebhookSecretToken: *webhookSecret,
		RateLimitPerSecond: *rateLimit,
		DailyLimit:         *dailyLimit,
	}
	cfg.OAuthApp = &zoomemu.OAuthApp{Name: *oauthName, ClientID: *oauthClientID, ClientSecret: *oauthClientSecret, RedirectURI: *oauthRedirect,
		Scopes: splitList(*oauthScopes)}
	cfg.RTMS = &zoomemu.RTMS{ClientID: cmp.Or(*rtmsClientID, *oauthClientID), ClientSecret: cmp.Or(*rtmsClientSecret, *oauthClientSecret),
		WebhookURL: *rtmsWebhookURL, KeepAlive: *rtmsKeepAlive, SignalingWindow: *rtmsSignalingWindow, MediaWindow: *rtmsMediaWindow,
		VideoSDKKey: *videoSDKKey, VideoSDKSecret: *videoSDKSecret}
	hosted := map[string][]int64{}
	for _, h := range splitList(*hosts) {
		user, list, _ := strings.Cut(h, ":")
		for _, m := range strings.Split(list, "+") {
			id, err := strconv.ParseInt(m, 10, 64)
			if err != nil {
				return fmt.Errorf("-hosts: %q is not a meeting id", m)
			}
			hosted[user] = append(hosted[user], id)
		}
	}
	for i, u := range splitList(*users) {
		id, email, ok := strings.Cut(u, ":")
		if !ok || id == "" || !strings.Contains(email, "@") || strings.ContainsAny(id, " /?#") {
			return fmt.Errorf("-users: %q is not id:email (such as u-1:bot@example.com)", u)
		}
		cfg.Users = append(cfg.Users, zoomemu.User{ID: id, Email: email, AccountID: *accountID,
			PMI: 5550000000 + int64(i), Meetings: hosted[id]})
	}
	for _, m := range splitList(*meetings) {
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return fmt.Errorf("-meetings: %q is not a meeting id", m)
		}
		cfg.Meetings = append(cfg.Meetings, id)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var tlsLn net.Listener
	if *rtmsTLSAddr != "" {
		if tlsLn, err = listenTLS(*rtmsTLSAddr); err != nil {
			ln.Close()
			return err
		}
		cfg.RTMS.SocketBase = "wss://" + tlsLn.Addr().String()
	}
	base := "http://" + ln.Addr().String()
	cfg.APIURL = base
	emu := zoomemu.New(cfg)
	defer emu.Close()
	emu.AutoApprove(*autoApprove)

	mux := http.NewServeMux()
	mux.Handle("/_emu/", adminHandler(emu))
	mux.Handle("/", emu)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	if tlsLn != nil {
		go func() { served <- srv.Serve(tlsLn) }()
	}

	fmt.Fprintf(stdout, "zoomemu: emulated Zoom listening on %s\n", base)
	fmt.Fprintf(stdout, "  account id %s, client id %s, client secret %s\n", *accountID, *clientID, *clientSecret)
	fmt.Fprintf(stdout, "  users %s; meetings %s\n  scopes %s\n", *users, *meetings, *scopes)
	fmt.Fprintf(stdout, "  user-managed OAuth app: client id %s, client secret %s\n", *oauthClientID, *oauthClientSecret)
	if tlsLn != nil {
		fmt.Fprintf(stdout, "  RTMS sockets also on %s (self-signed certificate, TLS 1.2 or newer)\n", cfg.RTMS.SocketBase)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	emu.Close() // release hung requests so shutdown does not wait on them
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// adminHandler lets a developer script faults into a running emulator.
func adminHandler(emu *zoomemu.Emulator) http.Handler {
	faults := map[string]func() zoomemu.Fault{
		"server_error":         zoomemu.ServerError,
		"rate_limit_qps":       func() zoomemu.Fault { return zoomemu.RateLimitedPerSecond("1") },
		"rate_limit_daily":     func() zoomemu.Fault { return zoomemu.RateLimitedDaily(nextUTCMidnight()) },
		"malformed_json":       zoomemu.MalformedJSON,
		"empty_token":          zoomemu.EmptyToken,
		"invalid_access_token": zoomemu.InvalidAccessToken,
		"hang":                 zoomemu.Hang,
		"reset":                zoomemu.ConnectionReset,
	}
	endpoints := map[string]zoomemu.Endpoint{}
	for _, ep := range zoomemu.Endpoints() {
		endpoints[string(ep)] = ep
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_emu/fault", func(w http.ResponseWriter, r *http.Request) {
		ep, ok := endpoints[r.URL.Query().Get("endpoint")]
		fault, known := faults[r.URL.Query().Get("fault")]
		count, err := strconv.Atoi(cmp.Or(r.URL.Query().Get("count"), "1"))
		if !ok || !known || err != nil || count < 1 || count > 1000 {
			http.Error(w, "want endpoint=one of "+endpointNames()+", fault=one of the -h list, count=1..1000", http.StatusBadRequest)
			return
		}
		for range count {
			emu.Script(ep, fault())
		}
		fmt.Fprintf(w, "queued %d %s on %s\n", count, r.URL.Query().Get("fault"), ep)
	})
	mux.HandleFunc("POST /_emu/latency", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 {
			http.Error(w, "want d=<duration>, e.g. 500ms", http.StatusBadRequest)
			return
		}
		emu.SetLatency(d)
		fmt.Fprintf(w, "latency %s\n", d)
	})
	mux.HandleFunc("POST /_emu/revoke", func(w http.ResponseWriter, r *http.Request) {
		emu.RevokeAll()
		fmt.Fprintln(w, "revoked every access token")
	})
	mux.HandleFunc("GET /_emu/calls", func(w http.ResponseWriter, r *http.Request) {
		for _, ep := range zoomemu.Endpoints() {
			fmt.Fprintf(w, "%s %d\n", ep, emu.Calls(ep))
		}
		fmt.Fprintf(w, "stale_refreshes %d\n", emu.StaleRefreshes())
	})
	mux.HandleFunc("POST /_emu/approve", func(w http.ResponseWriter, r *http.Request) {
		// One consent only: a person opening the connect link afterwards sees the page again.
		emu.ApproveOnce(r.URL.Query().Get("user"))
		fmt.Fprintf(w, "the next consent approves at once as %q; the one after shows the page\n", r.URL.Query().Get("user"))
	})
	mux.HandleFunc("POST /_emu/users/{user}/expire", func(w http.ResponseWriter, r *http.Request) {
		emu.ExpireUserTokens(r.PathValue("user"))
		fmt.Fprintf(w, "access tokens of %s expired\n", r.PathValue("user"))
	})
	mux.HandleFunc("POST /_emu/users/{user}/kill-refresh", func(w http.ResponseWriter, r *http.Request) {
		emu.KillRefreshToken(r.PathValue("user"))
		fmt.Fprintf(w, "refresh token of %s killed\n", r.PathValue("user"))
	})
	mux.HandleFunc("POST /_emu/users/{user}/deauthorize", func(w http.ResponseWriter, r *http.Request) {
		status, err := emu.Deauthorize(r.Context(), r.PathValue("user"), r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "deauthorized %s; app_deauthorized answered %d\n", r.PathValue("user"), status)
	})
	mux.HandleFunc("POST /_emu/webhook", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		meeting, _ := strconv.ParseInt(q.Get("meeting"), 10, 64)
		pmi, _ := strconv.ParseInt(q.Get("pmi"), 10, 64)
		var payload map[string]any
		switch event := q.Get("event"); event {
		case "meeting.created", "meeting.deleted":
			// The emulator's Zoom changes as the event says, so the meeting is then known (or not).
			var err error
			if payload, err = emu.ScheduleMeeting(q.Get("host"), meeting, event == "meeting.deleted"); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		case "meeting.updated":
			payload = zoomemu.MeetingEvent(meeting, q.Get("host"), cmp.Or(q.Get("operator"), q.Get("host")))
		case "user.updated":
			var err error
			if payload, err = emu.ChangePMI(q.Get("user"), pmi); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		default:
			http.Error(w, "want event=meeting.created|meeting.updated|meeting.deleted (meeting, host[, operator]) or user.updated (user, pmi), and url", http.StatusBadRequest)
			return
		}
		status, err := emu.SendWebhook(r.Context(), q.Get("url"), q.Get("event"), payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "sent %s; answered %d\n", q.Get("event"), status)
	})
	mux.HandleFunc("GET /_emu/rtms/stream", func(w http.ResponseWriter, r *http.Request) {
		meeting, _ := strconv.ParseInt(r.URL.Query().Get("meeting"), 10, 64)
		id := emu.RTMSStream(meeting)
		if id == "" {
			http.Error(w, "no stream is running for this meeting", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, id)
	})
	mux.HandleFunc("POST /_emu/rtms/start", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kind, id := q.Get("kind"), q.Get("id")
		if kind != zoomemu.RTMSMeeting && kind != zoomemu.RTMSWebinar && kind != zoomemu.RTMSSession || id == "" {
			http.Error(w, "kind must be meeting, webinar or session, and id the meeting's or webinar's number or the session's id", http.StatusBadRequest)
			return
		}
		stream := emu.StartRTMS(kind, id, "ws://"+r.Host)
		emu.WaitWebhooks()
		fmt.Fprintln(w, stream)
	})
	rtmsControl := func(path, done string, control func(stream string, q url.Values) error) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			if err := control(r.URL.Query().Get("stream"), r.URL.Query()); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			emu.WaitWebhooks()
			fmt.Fprintln(w, done)
		})
	}
	rtmsControl("/_emu/rtms/stop", "stopped; rtms_stopped sent", func(stream string, q url.Values) error {
		reason, err := strconv.Atoi(cmp.Or(q.Get("reason"), "6"))
		if err != nil {
			return fmt.Errorf("reason must be Zoom's stop_reason, a number")
		}
		return emu.StopRTMS(stream, reason)
	})
	rtmsControl("/_emu/rtms/interrupt", "interrupted", func(stream string, q url.Values) error {
		return emu.InterruptRTMS(stream, q.Get("socket"))
	})
	rtmsControl("/_emu/rtms/failover", "moved; a new rtms_started sent", func(stream string, _ url.Values) error {
		return emu.FailoverRTMS(stream)
	})
	mux.HandleFunc("GET /_emu/users/{user}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "refreshes %d\n", emu.Refreshes(r.PathValue("user")))
	})
	return mux
}

func endpointNames() string {
	var names []string
	for _, ep := range zoomemu.Endpoints() {
		names = append(names, string(ep))
	}
	return strings.Join(names, "|")
}

func nextUTCMidnight() string {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func durationEnv(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil {
		return d
	}
	return def
}

func intEnv(getenv func(string) string, name string, def int) int {
	if n, err := strconv.Atoi(getenv(name)); err == nil {
		return n
	}
	return def
}
