package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/connlimit"
	"github.com/zoomtoken/zoomtoken/internal/doctor"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/logging"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Server timeouts. WriteTimeout leaves room for the slowest upstream call a bot route may wait on.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	// idleTimeout is short: an idle keep-alive connection costs memory and a place under the cap.
	idleTimeout = 30 * time.Second
)

// run is the whole program: it parses args, loads the configuration, serves until ctx ends or
// SIGINT/SIGTERM arrives, then drains in-flight requests. It returns errors rather than printing
// them, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("zoomtoken", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "", "listen address, host:port (default :$PORT)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	// usage goes to out: stdout when asked for (-h), stderr after a mistake.
	usage := func(out io.Writer) {
		fmt.Fprintf(out, "Usage: zoomtoken [-addr host:port] [serve]\n"+
			"       zoomtoken doctor                checks, live, that every configured feature can work\n"+
			"       zoomtoken healthcheck           exits 0 if the server on -addr or $PORT answers /healthz (for HEALTHCHECK)\n"+
			"       zoomtoken version               prints the version\n"+
			"       zoomtoken rekey                 re-encrypts every stored token with the first TOKEN_ENCRYPTION_KEYS key\n"+
			"       zoomtoken connect-link [-ref R] [-ttl 24h|86400]\n"+
			"                                       prints a link a user opens to connect their Zoom account\n\n"+
			"Serves Zoom credentials over HTTP.\n\n")
		flags.SetOutput(out)
		flags.PrintDefaults()
		flags.SetOutput(stderr)
		fmt.Fprintln(out)
		config.Usage(out)
	}
	flags.Usage = func() { usage(stderr) }
	// -h before the command is the program's help; after it, the command's own.
	isHelp := func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }
	first := slices.IndexFunc(args[1:], func(a string) bool { return !strings.HasPrefix(a, "-") })
	before := args[1:]
	if first >= 0 {
		before = args[1 : 1+first]
	}
	if slices.ContainsFunc(before, isHelp) {
		usage(stdout)
		return nil
	}
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}

	command := flags.Arg(0)
	if *showVersion || command == "version" {
		fmt.Fprintln(stdout, "zoomtoken", version)
		return nil
	}
	switch command {
	case "", "serve", "doctor", "healthcheck", "rekey":
	case "connect-link":
		if slices.ContainsFunc(flags.Args()[1:], isHelp) {
			newConnectLinkFlags(stdout).Usage()
			return nil
		}
	default:
		// The mistake first, where the eye lands; the usage after it.
		fmt.Fprintf(stderr, "zoomtoken: unknown command %q\n\n", command)
		flags.Usage()
		return fmt.Errorf("unknown command %q (see zoomtoken -h)", command)
	}
	getenv, err := withDotenv(getenv, ".env")
	if err != nil {
		return err
	}
	if command == "healthcheck" {
		return healthcheck(ctx, *addr, getenv("PORT"))
	}
	cfg, err := config.Load(getenv)
	if command == "doctor" {
		return runDoctor(ctx, cfg, err, stdout)
	}
	if config.NothingConfigured(err) {
		return fmt.Errorf("%w\n%s", err, firstRunAdvice())
	}
	if err != nil {
		return err
	}
	if command == "rekey" {
		return runRekey(ctx, cfg, stdout)
	}
	if command == "connect-link" {
		return runConnectLink(cfg, flags.Args()[1:], stdout, stderr)
	}
	logger, flushLogs, err := logging.New(cfg.LogLevel, cfg.LogFormat, stdout)
	if err != nil {
		return err
	}
	defer flushLogs()
	if *addr == "" {
		*addr = ":" + strconv.Itoa(cfg.Port)
	}
	if cfg.MetricsAddr != "" && sameListenAddress(cfg.MetricsAddr, *addr) {
		return fmt.Errorf("invalid configuration:\n  METRICS_ADDR: %q is where the service itself listens (%s): give /metrics a port of its own, or unset METRICS_ADDR to serve it on PORT", cfg.MetricsAddr, *addr)
	}
	for i, s := range cfg.CallbackSecrets {
		if s.NeedsURLEscaping() {
			logger.Warn().Int("entry", i+1).Msg("a CALLBACK_SECRETS entry has characters a URL changes (such as +, / or =): " +
				config.URLSafetyAdvice)
		}
	}

	m := metrics.New()
	zc := newZoomClient(cfg, zoomHooks(m, logger))
	if zc != nil {
		m.WatchTokenExpiry(zc.TokenExpiry, time.Now)
	}
	deps := httpapi.Deps{
		Logger:             logger,
		Signer:             newSigner(cfg),
		VideoSigner:        newVideoSigner(cfg),
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		Zoom:               zc,
		ZAKUser:            cfg.ZAKUser,
		ZAKTTL:             cfg.ZAKTTL,
		Metrics:            m,
		MetricsElsewhere:   cfg.MetricsAddr != "",
		Draining:           &atomic.Bool{},
	}
	for _, s := range cfg.CallbackSecrets {
		deps.CallbackSecrets = append(deps.CallbackSecrets, s.Reveal())
	}
	for _, s := range cfg.CallbackSigningSecrets {
		wh, err := standardwebhooks.NewWebhook(s.Reveal())
		if err != nil { // config.Load has checked the form; this is not reached
			return errors.New("CALLBACK_SIGNING_SECRETS: an entry is not whsec_ followed by base64")
		}
		deps.CallbackSigners = append(deps.CallbackSigners, wh)
	}
	database := ""
	if cfg.Connections != nil {
		ctx, cancel := context.WithCancel(ctx) // ends the background work with run
		defer cancel()
		var store *connections.PendingStore
		store, database = openPendingStore(ctx, cfg.Connections.Database, logger)
		defer store.Close()
		connected, flow, err := newConnected(cfg, store, m, logger)
		if err != nil {
			return err
		}
		deps.Connected, deps.ConnectFlow = connected, flow
		for _, t := range cfg.AdminTokens {
			deps.AdminTokens = append(deps.AdminTokens, t.Reveal())
		}
		var streams *rtms.Service
		if cfg.RTMS != nil {
			streams = newRTMS(cfg.RTMS, store, logger)
			deps.RTMS = &httpapi.RTMS{Service: streams, ClientID: cfg.RTMS.ClientID}
			go streams.Run(ctx, max(min(cfg.RTMS.StreamTTL/10, 10*time.Minute), 100*time.Millisecond))
		}
		deliverer, err := newDeliverer(cfg, store, streams, m, logger)
		if err != nil {
			return err
		}
		go deliverer.Run(ctx, time.Second)
		keepalive := cfg.Connections.Keepalive
		go connected.Manager.Run(ctx, keepalive, min(max(keepalive/10, 100*time.Millisecond), 10*time.Minute), 200*time.Millisecond)
	}
	for _, t := range cfg.WebhookSecretTokens {
		deps.ZoomWebhookTokens = append(deps.ZoomWebhookTokens, t.Reveal())
	}
	if cfg.Attendee != nil {
		keys := make([][]byte, len(cfg.Attendee.Keys))
		for i, k := range cfg.Attendee.Keys {
			keys[i] = []byte(k.Reveal())
		}
		deps.Attendee = attendee.NewVerifier(keys)
	}
	servers := []listener{{name: "http", addr: *addr, handler: httpapi.NewHandler(deps)}}
	if cfg.MetricsAddr != "" {
		servers = append(servers, listener{name: "metrics", addr: cfg.MetricsAddr, handler: m.Handler()})
	}
	return serve(ctx, servers, cfg, database, deps.Draining, logger)
}

// firstRunAdvice says where the configuration was looked for and how to make one.
func firstRunAdvice() string {
	where, err := filepath.Abs(".env")
	if err != nil {
		where = ".env"
	}
	found := "not found"
	if _, err := os.Stat(where); err == nil {
		found = "found, but it sets none of these"
	}
	return "  looked for " + where + " (" + found + ") and the environment;\n" +
		"  to start: cp .env.example .env and fill in a feature's variables, or try make demo first"
}

// listener is one HTTP server run() starts.
type listener struct {
	name    string
	addr    string
	handler http.Handler
}

// serve listens on every address synchronously (so a taken port is an error returned to the
// caller), serves in the background, and shuts everything down gracefully when ctx ends or a stop
// signal arrives.
// database, when not empty, says how the connections database's first opening went.
// draining is set on SIGTERM, for /readyz.
func serve(ctx context.Context, listeners []listener, cfg config.Config, database string, draining *atomic.Bool, logger zerolog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	memoryLimit := containerMemoryLimit()
	tuneGC(os.Getenv, memoryLimit)
	servers := make([]*http.Server, len(listeners))
	served := make(chan error, len(listeners))
	for i, l := range listeners {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, srv := range servers[:i] {
				srv.Close()
			}
			return err
		}
		var connState func(net.Conn, http.ConnState)
		if l.name == "http" {
			limiter := connlimit.New(maxConnections(cfg.MaxConnections, memoryLimit))
			ln, connState = limiter.Listener(ln), limiter.ConnState
		}
		servers[i] = &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ConnState:         connState,
			ErrorLog:          log.New(logger.With().Str("source", "http.Server").Logger(), "", 0),
		}
		go func() { served <- servers[i].Serve(ln) }()
		event := logger.Info().Str("version", version).Str("addr", ln.Addr().String())
		if l.name == "http" {
			if database != "" {
				event.Str("database", database)
			}
			event.Strs("features", cfg.Features()).Msg("zoomtoken listening")
		} else {
			event.Msg("metrics listening")
		}
	}

	select {
	case err := <-served:
		for _, srv := range servers {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	draining.Store(true)
	if cfg.ShutdownDelay > 0 {
		// Still serving: /readyz says 503 so the load balancer stops sending, then the drain.
		logger.Info().Dur("delay", cfg.ShutdownDelay).Msg("shutting down: not ready, still serving")
		time.Sleep(cfg.ShutdownDelay)
	}
	logger.Info().Dur("timeout", cfg.ShutdownTimeout).Msg("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	logger.Info().Msg("stopped")
	return errors.Join(errs...)
}

// Per-connection memory (two 4 KiB buffers, a goroutine, the runtime's share), rounded up, and
// the bounds of the derived connection cap.
const (
	bytesPerConnection = 32 << 10 // measured: about 28 KiB each with 1,000 held (make bench: zoombench flood)
	minConnections     = 64
	maxDerived         = 10000
	defaultConnections = 1000
)

// maxConnections is MAX_CONNECTIONS, or, unset, what half the container's memory limit holds
// (1000 when no limit is visible).
func maxConnections(configured int, containerLimit int64) int {
	if configured > 0 {
		return configured
	}
	if containerLimit > 0 {
		return min(max(int(containerLimit/2/bytesPerConnection), minConnections), maxDerived)
	}
	return defaultConnections
}

// containerMemoryLimit is the memory limit of the process's cgroup (v2, then v1) in bytes, or 0
// when none is visible.
func containerMemoryLimit() int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || limit <= 0 || limit > 1<<50 { // "max", or v1's "no limit"
			return 0
		}
		return limit
	}
	return 0
}

// gcPercent is the service's GOGC. Its live heap is about 1.5 MB, so at Go's default of 100 the
// heap goal stays at its 4 MB floor and the collector runs about 40 times a second under load;
// at 200 it runs half as often, for about 4 MB more memory (docs/performance.md).
const gcPercent = 200

// tuneGC sets the garbage collector's defaults where the environment has not: GOGC at gcPercent
// and, given a container memory limit, a soft limit (GOMEMLIMIT) at three quarters of it, so a
// heap grown large (say, by a flood of connections) is collected as often as it must be to stay
// inside the container. The Go runtime reads GOGC and GOMEMLIMIT only from the process's
// environment, not from .env.
func tuneGC(getenv func(string) string, containerLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" && containerLimit > 0 {
		debug.SetMemoryLimit(containerLimit / 4 * 3)
	}
}

// sameListenAddress reports whether two listen addresses would take the same port: the same port,
// and hosts that overlap (equal, or either one all interfaces).
func sameListenAddress(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	any := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || any(ha) || any(hb)
}

// withDotenv overlays a .env file under the environment: a variable set in the environment wins
// over the file. A missing file is not an error.
func withDotenv(getenv func(string) string, path string) (func(string) string, error) {
	file, err := godotenv.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return file[key]
	}, nil
}

// healthcheck probes /healthz on the local port, for container health checks in images with no
// shell or curl. It needs only PORT, so it works whatever else is configured.
func healthcheck(ctx context.Context, addr, port string) error {
	if port == "" {
		port = "4000"
	}
	target := "127.0.0.1:" + port
	if addr != "" {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("healthcheck: -addr %q is not host:port", addr)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		target = net.JoinHostPort(host, p)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}

// runDoctor prints the doctor's checklist; configuration problems are failed checks too.
func runDoctor(ctx context.Context, cfg config.Config, loadErr error, stdout io.Writer) error {
	var checks []doctor.Check
	var cerr *config.Error
	switch {
	case errors.As(loadErr, &cerr):
		checks = doctor.ConfigProblems(cerr)
	case loadErr != nil:
		return loadErr
	default:
		d := doctor.Deps{
			Config:     cfg,
			Zoom:       newZoomClient(cfg, zoom.Hooks{}),
			HTTPClient: zoom.NewHTTPClient(zoom.DefaultAttemptTimeout),
			Now:        time.Now,
		}
		if cfg.Connections != nil {
			vault, _, err := newVaultAndKeyring(cfg.Connections)
			if err != nil {
				return err
			}
			store, openErr := openStore(ctx, cfg.Connections.Database)
			d.Connected = &doctor.Connected{OpenErr: openErr, Vault: vault, Zoom: newUserClient(cfg, zoom.Hooks{})}
			if openErr == nil {
				defer store.Close()
				d.Connected.Store = store
			}
		}
		checks = doctor.Run(ctx, d)
	}
	if failed := doctor.Print(stdout, checks); failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

// newZoomClient returns the S2S client, or nil when the bot endpoints are off. The REST base is
// passed only when the operator set it, so that otherwise the token's api_url decides.
func newZoomClient(cfg config.Config, hooks zoom.Hooks) *zoom.Client {
	if cfg.S2S == nil {
		return nil
	}
	zc := zoomConfig(cfg, cfg.S2S.ClientID, cfg.S2S.ClientSecret, hooks)
	zc.AccountID = cfg.S2S.AccountID
	return zoom.New(zc)
}

// zoomConfig is what every Zoom client of the service shares: the Zoom hosts, the call budget,
// the per-account rate limit and the hooks; clientID and secret name the app.
func zoomConfig(cfg config.Config, clientID string, secret config.Secret, hooks zoom.Hooks) zoom.Config {
	zc := zoom.Config{
		ClientID:     clientID,
		ClientSecret: secret.Reveal(),
		OAuthBaseURL: cfg.OAuthBaseURL,
		Budget:       cfg.ZoomTimeout,
		Hooks:        hooks,
		RateLimit:    cfg.ZoomRateLimit,
	}
	if cfg.APIBaseURLSet {
		zc.APIBaseURL = cfg.APIBaseURL
	}
	return zc
}

func newVideoSigner(cfg config.Config) *sdkjwt.VideoSigner {
	if cfg.VideoSDK == nil {
		return nil
	}
	return sdkjwt.NewVideoSigner(cfg.VideoSDK.Key, []byte(cfg.VideoSDK.Secret.Reveal()), time.Now)
}

func newSigner(cfg config.Config) *sdkjwt.Signer {
	if cfg.MeetingSDK == nil {
		return nil
	}
	return sdkjwt.NewSigner(cfg.MeetingSDK.Key, []byte(cfg.MeetingSDK.Secret.Reveal()), time.Now)
}

// zoomHooks feeds the Zoom metrics and logs each attempt that will be retried at debug: the
// route that gave up logs the final failure at warn, so one outage is one warning per request.
func zoomHooks(m *metrics.Metrics, logger zerolog.Logger) zoom.Hooks {
	h := m.ZoomHooks()
	h.Retrying = func(err *zoom.Error, attempt int, wait time.Duration) {
		logger.Debug().Str("zoom_op", err.Op).Str("zoom_kind", err.Kind.String()).Int("zoom_status", err.Status).
			Int("zoom_code", err.Code).Str("zoom_tracking_id", err.TrackingID).Int("attempt", attempt).
			Dur("retry_in", wait).Msg("zoom call failed; retrying")
	}
	return h
}
