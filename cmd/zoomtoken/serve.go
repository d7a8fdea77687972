package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/connlimit"
	"github.com/zoomtoken/zoomtoken/internal/doctor"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/logging"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

// startupRowsChecked is how many stored connections start-up decrypts, in the background, to
// catch a missing TOKEN_ENCRYPTION_KEYS key: all 100,000 rows of a large table took 1.3 s and
// 13 MB; zoomtoken doctor checks every row.
const startupRowsChecked = 1000

// runServe serves zoomtoken serve, the default command: it loads the configuration, builds
// every configured feature, serves until ctx ends or SIGINT/SIGTERM arrives, then drains
// in-flight requests. It reads as the list of what the service is made of.
func runServe(ctx context.Context, inv invocation) error {
	cfg, err := loadConfig(inv)
	if err != nil {
		return err
	}
	logger, flushLogs, err := logging.New(cfg.LogLevel, cfg.LogFormat, inv.stdout)
	if err != nil {
		return err
	}
	defer flushLogs()
	addr := cmp.Or(inv.addr, ":"+strconv.Itoa(cfg.Port))
	if cfg.MetricsAddr != "" && sameListenAddress(cfg.MetricsAddr, addr) {
		return fmt.Errorf("invalid configuration:\n  METRICS_ADDR: %q is where the service itself listens (%s): give /metrics a port of its own, or unset METRICS_ADDR to serve it on PORT", cfg.MetricsAddr, addr)
	}
	warnURLUnsafeSecrets(cfg, logger)
	warnAsDoctor(logger, doctor.Offline(cfg)...)

	m := metrics.New()
	deps := httpapi.Deps{
		Logger:             logger,
		Signer:             newSigner(cfg),
		VideoSigner:        newVideoSigner(cfg),
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		App:                newApp(cfg, m, logger),
		CallbackSecrets:    reveal(cfg.CallbackSecrets),
		AdminTokens:        reveal(cfg.AdminTokens), // with BOT_LINK_KEYS alone they mint bot links
		BotLinks:           newBotLinks(cfg),
		BodyBudget:         bodyBudget(containerMemoryLimit()),
		CallbackReach:      callbackReach(cfg),
		Attendee:           newAttendeeVerifier(cfg),
		Metrics:            m,
		MetricsElsewhere:   cfg.MetricsAddr != "",
		Draining:           &atomic.Bool{},
	}
	if deps.CallbackSigners, err = newCallbackSigners(cfg); err != nil {
		return err
	}
	database := ""
	var stopBackground func(context.Context)
	if cfg.Connections != nil {
		ctx, cancel := context.WithCancel(ctx) // ends the background work with run
		defer cancel()
		db := new(sqlstore.DB) // answers ErrUnavailable until the database is open and migrated
		vault, _, err := newVaultAndKeyring(cfg.Connections)
		if err != nil {
			return err
		}
		database = attachWhenOpen(ctx, db, cfg.Connections.Database, logger, func() {
			checkCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			// Keys that do not open the stored rows would answer the first bot with a 502; a
			// paused delivery holds every event back.
			warnAsDoctor(logger, doctor.StoredConnections(checkCtx, db.Connections(), vault, startupRowsChecked), doctor.EventDelivery(checkCtx, db.Outbox()))
		})
		connected, flow, err := newConnected(cfg, db.Connections(), m, logger)
		if err != nil {
			db.Close()
			return err
		}
		// A stop, once the requests have drained: the keep-alive and the deliverers stop, every
		// refresh in flight is stored, and only then does the database close.
		var background sync.WaitGroup
		var stopOnce sync.Once
		stopBackground = func(ctx context.Context) {
			stopOnce.Do(func() {
				cancel()
				stopped := make(chan struct{})
				go func() { background.Wait(); close(stopped) }()
				select { // the keep-alive ends its refresh under way; Drain waits for it too
				case <-stopped:
				case <-ctx.Done():
				}
				for _, id := range connected.Manager.Drain(ctx) {
					logger.Error().Str("connection", id).Msg("stopped before this connection's refreshed tokens were stored: " +
						"its user may have to connect again (raise SHUTDOWN_TIMEOUT)")
				}
				db.Close()
			})
		}
		// On a return before serving (a port taken), the same stop, bounded.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			stopBackground(ctx)
		}()
		watchConnections(m, db)
		deps.App.Connected, deps.ConnectFlow = connected, flow
		deps.Once, deps.PublicURL = onceInDatabase{connected.Manager}, cfg.Connections.PublicURL
		deps.Events = db.Outbox()
		var streams *rtms.Service
		if cfg.RTMS != nil {
			streams = newRTMS(cfg.RTMS, cfg.VideoSDK, db.Streams(), logger)
			deps.App.RTMS, deps.App.RTMSClientID = streams, cfg.RTMS.ClientID
			background.Go(func() { streams.Run(ctx, max(min(cfg.RTMS.StreamTTL/10, 10*time.Minute), 100*time.Millisecond)) })
		}
		deliverer, err := newDeliverer(cfg, db.Outbox(), streams, m, logger)
		if err != nil {
			return err
		}
		background.Go(func() { deliverer.Run(ctx, time.Second) })
		keepalive := cfg.Connections.Keepalive
		background.Go(func() {
			connected.Manager.Run(ctx, keepalive, min(max(keepalive/10, 100*time.Millisecond), 10*time.Minute), 200*time.Millisecond)
		})
	}
	servers := []listener{{name: "http", addr: addr, handler: httpapi.NewHandler(deps)}}
	if cfg.MetricsAddr != "" {
		servers = append(servers, listener{name: "metrics", addr: cfg.MetricsAddr, handler: m.Handler()})
	}
	return serve(ctx, servers, cfg, database, deps.Draining, logger, stopBackground)
}

// warnAsDoctor logs each check that did not pass, in the doctor's words: a warning for what the
// doctor warns of, an error for what it fails.
func warnAsDoctor(logger zerolog.Logger, checks ...doctor.Check) {
	for _, c := range checks {
		event := logger.Warn()
		switch c.Status {
		case doctor.Pass, doctor.Skip:
			continue
		case doctor.Fail:
			event = logger.Error()
		}
		if c.Fix != "" {
			event = event.Str("fix", c.Fix)
		}
		event.Str("check", c.Name).Msg(c.Detail + " (as zoomtoken doctor says)")
	}
}

// warnURLUnsafeSecrets warns of CALLBACK_SECRETS entries a bot URL would change unless encoded,
// and of secrets that reach every connected account.
func warnURLUnsafeSecrets(cfg config.Config, logger zerolog.Logger) {
	if cfg.CallbackReach == config.ReachConnected && cfg.Connections != nil {
		logger.Warn().Msg("CALLBACK_SECRETS_REACH=connected: any ?secret= or signed request reaches every connected account; " +
			"mint bot links (BOT_LINK_KEYS) and set it back to own (docs/meeting-bots.md#bot-links)")
	}
	for i, s := range cfg.CallbackSecrets {
		if s.NeedsURLEscaping() {
			logger.Warn().Int("entry", i+1).Msg("a CALLBACK_SECRETS entry has characters a URL changes (such as +, / or =): " +
				config.URLSafetyAdvice)
		}
	}
}

// Server timeouts. WriteTimeout leaves room for the slowest upstream call a bot route may wait on.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	// idleTimeout is short: an idle keep-alive connection costs memory and a place under the cap.
	idleTimeout = 30 * time.Second
)

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
// afterRequests, when set, runs once the requests have drained, with what is left of
// SHUTDOWN_TIMEOUT: the background work's stop, before the process ends.
func serve(ctx context.Context, listeners []listener, cfg config.Config, database string, draining *atomic.Bool, logger zerolog.Logger,
	afterRequests func(context.Context)) error {
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
		var connContext func(context.Context, net.Conn) context.Context
		if l.name == "http" {
			limiter := connlimit.New(maxConnections(cfg.MaxConnections, memoryLimit))
			ln, connState, connContext = limiter.Listener(ln), limiter.ConnState, limiter.ConnContext
		}
		servers[i] = &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ConnState:         connState,
			ConnContext:       connContext,
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
	if afterRequests != nil {
		afterRequests(shutdownCtx)
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

// bodyBudget is the memory for request bodies read before their caller is known: a quarter of the
// memory the service is given (16 MiB of the Kubernetes manifest's 64), at least 4 MiB. That is
// the container's limit or what GOMEMLIMIT implies (it is set at three quarters of a limit),
// whichever is smaller; with neither, httpapi's default.
func bodyBudget(containerLimit int64) int64 {
	given := containerLimit
	if soft := debug.SetMemoryLimit(-1); soft < math.MaxInt64 && (given <= 0 || soft/3*4 < given) {
		given = soft / 3 * 4
	}
	if given <= 0 {
		return httpapi.DefaultBodyBudget
	}
	return max(given/4, 4<<20)
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
