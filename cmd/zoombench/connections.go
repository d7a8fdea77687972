package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/postgres"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlite"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// benchSecret is the callback secret of the connection benchmarks' service.
const benchSecret = "bench-callback-secret"

// runConnections measures connected accounts: what /obf-token adds over the emulator with a
// warm access token (SQLite and PostgreSQL), lookup cost, memory and start-up as the number of
// stored connections grows, and a refresh storm.
func runConnections(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("zoombench connections", flag.ContinueOnError)
	bin := flags.String("bin", "bin", "folder with the zoomtoken binary")
	sizesFlag := flags.String("sizes", "100,10000,100000", "numbers of stored connections to measure at")
	duration := flags.Duration("duration", 5*time.Second, "length of each wrk run")
	storm := flags.Int("storm", 1000, "connections expired at once in the refresh storm")
	maxScrapeRise := flags.Int("max-scrape-rise-mb", 0, "fail when five concurrent /metrics scrapes raise the service's memory by more MiB than this (0: no limit)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var sizes []int
	largest := *storm
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q", f)
		}
		sizes, largest = append(sizes, n), max(largest, n)
	}

	emu, emuURL, stopEmu, err := startEmulator(largest)
	if err != nil {
		return err
	}
	defer stopEmu()
	work, err := os.MkdirTemp("", "zoombench-connections")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	ring, _ := seal.NewKeyring(key)
	vault := connections.NewVault(ring)
	b := &connBench{ctx: ctx, bin: filepath.Join(*bin, "zoomtoken"), emu: emu, emuURL: emuURL, vault: vault,
		key: base64.StdEncoding.EncodeToString(key), work: work, duration: *duration}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintf(stdout, "\nconnected accounts: GET /obf-token?ref=<random connection> with a warm access token, wrk -t2 -c8 -d%s\n\n", *duration)
	fmt.Fprintln(tw, "database\tconnections\tp50\tp99\treq/s\tRSS after\tstart to /healthz\t5 /metrics at once\t")
	var streamRows []string
	for _, n := range sizes {
		r, err := b.measure(ctx, sqliteURL(work, n), n)
		if err != nil {
			return fmt.Errorf("SQLite, %d connections: %w", n, err)
		}
		fmt.Fprintf(tw, "SQLite\t%d\t%s\t%s\t%.0f\t%d MB\t%s\t%s\t\n", n, ms(r.p50), ms(r.p99), r.rps, r.rss>>20, ms(r.startup), r.scrapes)
		streamRows = append(streamRows, streamRow("SQLite", n, r))
		if limit := int64(*maxScrapeRise) << 20; limit > 0 && r.scrapes.rise > limit {
			tw.Flush()
			return fmt.Errorf("SQLite, %d connections: five /metrics scrapes raised memory by %s, over -max-scrape-rise-mb %d", n, r.scrapes, *maxScrapeRise)
		}
	}
	pgNote := ""
	if pgURL, drop, err := freshPostgres(ctx); err == nil {
		r, merr := b.measure(ctx, pgURL, sizes[0])
		drop()
		if merr != nil {
			return fmt.Errorf("PostgreSQL: %w", merr)
		}
		fmt.Fprintf(tw, "PostgreSQL\t%d\t%s\t%s\t%.0f\t%d MB\t%s\t%s\t\n", sizes[0], ms(r.p50), ms(r.p99), r.rps, r.rss>>20, ms(r.startup), r.scrapes)
		streamRows = append(streamRows, streamRow("PostgreSQL", sizes[0], r))
	} else {
		pgNote = "(PostgreSQL skipped: " + err.Error() + ")\n"
	}
	tw.Flush()
	fmt.Fprint(stdout, pgNote)
	fmt.Fprintf(stdout, "\nGET /rtms/stream of one stream, beside /obf-token in the same service, wrk -t2 -c8 -d%s:\n", *duration)
	for _, row := range streamRows {
		fmt.Fprintln(stdout, row)
	}

	// The emulator alone, for what the service adds: one user's OBF token, one connection.
	access, _, _, _ := emu.IssueTokens(benchUser(0))
	authScript := filepath.Join(work, "obf-auth.lua")
	os.WriteFile(authScript, []byte("wrk.headers[\"Authorization\"] = \"Bearer "+access+"\"\n"), 0o600)
	alone, err := wrk(ctx, emuURL+"/v2/users/me/token?type=onbehalf", authScript, 1, *duration)
	if err != nil {
		return err
	}
	single, err := b.measureSingle(ctx, sqliteURL(work, sizes[0]))
	if err != nil {
		return err
	}
	// The floor of any service that forwards a call: a bare reverse proxy in front of the same
	// OBF endpoint, at one connection too.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	proxy, proxyAddr, err := startLine(ctx, self, nil, regexp.MustCompile(`^(\S+)$`), "proxy", "-target", emuURL)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	proxied, err := wrk(ctx, "http://"+proxyAddr+"/v2/users/me/token?type=onbehalf", authScript, 1, *duration)
	stop(proxy)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "one connection, p50: /obf-token %s, the emulator's OBF alone %s: the service adds %s (p99 %s vs %s); "+
		"a bare reverse proxy in front of it adds %s\n",
		ms(single.p50), ms(alone.p50), us(single.p50-alone.p50), ms(single.p99), ms(alone.p99), us(proxied.p50-alone.p50))

	storms := []struct {
		database string
		limit    int
	}{{"SQLite", 0}, {"PostgreSQL", 0}, {"PostgreSQL", 20}}
	for _, st := range storms {
		dbURL := sqliteURL(b.work, *storm) + fmt.Sprintf(".storm%d", st.limit)
		drop := func() {}
		if st.database == "PostgreSQL" {
			var err error
			if dbURL, drop, err = freshPostgres(ctx); err != nil {
				continue
			}
		}
		r, err := b.storm(ctx, dbURL, *storm, st.limit)
		drop()
		if err != nil {
			return fmt.Errorf("refresh storm: %w", err)
		}
		what := "token endpoint unlimited"
		if st.limit > 0 {
			what = fmt.Sprintf("token endpoint at %d refreshes/s", st.limit)
		}
		fmt.Fprintf(stdout, "refresh storm on %s, %d connections expired at once (%s): all answered in %s; %d × 200, %d × 503; refreshes per connection %s; stale refreshes %d\n",
			st.database, *storm, what, r.took.Round(time.Millisecond), r.ok, r.unavailable, r.perConnection, r.stale)
	}
	return nil
}

type connBench struct {
	ctx      context.Context
	bin      string
	emu      *zoomemu.Emulator
	emuURL   string
	vault    *connections.Vault
	key      string
	work     string
	duration time.Duration
	seeded   map[string]int // database URL → connections seeded
}

type connResult struct {
	p50, p99, startup time.Duration
	rps               float64
	rss               int64
	// scrapes is what five concurrent /metrics scrapes cost a fresh service.
	scrapes scrapeCost
	// stream is GET /rtms/stream of one stream, in the same service.
	stream result
}

// benchStream is the RTMS stream the connection benchmarks announce by webhook.
const benchStream = "609340fc9d894ba5a6fbb06b8aef22ec"

func benchUser(i int) string { return fmt.Sprintf("bench-%06d", i) }

func sqliteURL(work string, n int) string {
	return "sqlite:" + filepath.Join(work, fmt.Sprintf("zoomtoken-%d.db", n))
}

// startEmulator runs the emulator in this process (the benchmark seeds its users' tokens
// directly) with n users.
func startEmulator(n int) (*zoomemu.Emulator, string, func(), error) {
	cfg := zoomemu.Config{OAuthApp: &zoomemu.OAuthApp{ClientID: "bench-oauth", ClientSecret: "bench-oauth-secret"},
		Apps: []zoomemu.App{{AccountID: "acct", ClientID: "c", ClientSecret: "s"}}, WebhookSecretToken: benchWebhookToken}
	for i := range n {
		cfg.Users = append(cfg.Users, zoomemu.User{ID: benchUser(i), Email: benchUser(i) + "@example.com"})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	emu := zoomemu.New(cfg)
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return emu, "http://" + ln.Addr().String(), func() { emu.Close(); srv.Close() }, nil
}

// seed stores n connections, each with tokens the emulator accepts, in one transaction per
// thousand (the service's own Save commits each, which is right for it and slow for 100,000).
func (b *connBench) seed(ctx context.Context, dbURL string, n int) error {
	var store *sqlstore.DB
	var err error
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		store, err = sqlite.Open(ctx, path, sqlstore.Options{})
	} else {
		store, err = postgres.Open(ctx, dbURL, sqlstore.Options{})
	}
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now().UnixMilli()
	for start := 0; start < n; start += 1000 {
		db, _ := store.SQL()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := start; i < min(start+1000, n); i++ {
			access, refresh, expires, err := b.emu.IssueTokens(benchUser(i))
			if err != nil {
				tx.Rollback()
				return err
			}
			sealed, err := b.vault.Seal(benchUser(i), connections.Tokens{Access: access, Refresh: refresh, AccessExpiresAt: expires})
			if err != nil {
				tx.Rollback()
				return err
			}
			// The row as a connect under the ref writes it: the connection, its refs, and the
			// index lookups by ref use.
			id := connections.NewID()
			if _, err := tx.ExecContext(ctx, `INSERT INTO connections (id, zoom_user_id, zoom_account_id, email, ref, refs, status, scopes,
				access_token, refresh_token, access_expires_at, created_at, updated_at, refreshed_at, connected_at, meetings_listed_at)
				VALUES ($1, $2, 'acct', $3, $2, $8, 'active', 'user:read:token user:read:user', $4, $5, $6, $7, $7, $7, $7, $7)`,
				id, benchUser(i), benchUser(i)+"@example.com", sealed.Access, sealed.Refresh, expires.UnixMilli(), now,
				`["`+benchUser(i)+`"]`); err != nil {
				tx.Rollback()
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO connection_refs (connection_id, ref, added_at) VALUES ($1, $2, $3)`,
				id, benchUser(i), now); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (b *connBench) env(dbURL string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "ZOOM_OAUTH_CLIENT_ID=bench-oauth", "ZOOM_OAUTH_CLIENT_SECRET=bench-oauth-secret",
		"PUBLIC_URL=http://127.0.0.1", "TOKEN_ENCRYPTION_KEYS=" + b.key, "DATABASE_URL=" + dbURL, "CALLBACK_SECRETS=" + benchSecret,
		"ZOOM_OAUTH_BASE_URL=" + b.emuURL, "ZOOM_API_BASE_URL=" + b.emuURL, "ZOOM_WEBHOOK_SECRET_TOKENS=" + benchWebhookToken,
		// The load asks with the secret, as before bot links: a link adds its 7 µs check.
		"CALLBACK_SECRETS_REACH=connected"}
}

// benchWebhookToken signs the emulator's webhooks to the service (and turns RTMS on).
const benchWebhookToken = "bench-webhook-secret-token"

var addrLine = regexp.MustCompile(`"addr":"([^"]+)"`)

// measure seeds n connections, starts the service on them, and loads /obf-token over random
// connections.
func (b *connBench) measure(ctx context.Context, dbURL string, n int) (connResult, error) {
	if err := b.seed(ctx, dbURL, n); err != nil {
		return connResult{}, err
	}
	var r connResult
	var err error
	if r.startup, err = startupTime(ctx, b.bin, b.env(dbURL), 5); err != nil {
		return r, err
	}
	svc, addr, err := startLine(ctx, b.bin, b.env(dbURL), addrLine, "-addr", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	defer stop(svc)
	target := "http://" + addr
	time.Sleep(time.Second) // start-up's own checks, in the background, are done
	if r.scrapes, err = scrapeAtOnce(ctx, target, svc.Process.Pid, 5); err != nil {
		return r, err
	}
	script := filepath.Join(b.work, "obf.lua")
	os.WriteFile(script, []byte(fmt.Sprintf(`math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/obf-token?secret=%s&ref=bench-%%06d", math.random(0, %d)))
end
`, benchSecret, n-1)), 0o600)
	if _, err := wrk(ctx, target, script, 8, time.Second); err != nil { // warm up
		return r, err
	}
	w, err := wrk(ctx, target, script, 8, b.duration)
	if err != nil {
		return r, err
	}
	r.p50, r.p99, r.rps = w.p50, w.p99, w.rps
	r.rss, _ = memory(svc.Process.Pid)
	// A stream announced by a signed webhook, then what its workers ask for.
	status, err := b.emu.SendWebhook(ctx, target+"/webhooks/zoom", "meeting.rtms_started", map[string]any{
		"meeting_uuid": "4444AAAiAAAAAiAiAiiAii==", "rtms_stream_id": benchStream, "server_urls": "wss://rtms.example/signaling"})
	if err != nil || status != http.StatusOK {
		return r, fmt.Errorf("the rtms_started webhook: %d %v", status, err)
	}
	r.stream, err = wrk(ctx, target+"/rtms/stream?secret="+benchSecret+"&rtms_stream_id="+benchStream, "", 8, b.duration)
	return r, err
}

// measureSingle is /obf-token for one connection at one connection, to set beside the
// emulator alone.
func (b *connBench) measureSingle(ctx context.Context, dbURL string) (result, error) {
	svc, addr, err := startLine(ctx, b.bin, b.env(dbURL), addrLine, "-addr", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer stop(svc)
	target := "http://" + addr + "/obf-token?secret=" + benchSecret + "&ref=" + benchUser(1)
	if _, err := wrk(ctx, target, "", 1, time.Second); err != nil {
		return result{}, err
	}
	return wrk(ctx, target, "", 1, b.duration)
}

type stormResult struct {
	took            time.Duration
	ok, unavailable int
	perConnection   string
	stale           int
}

// storm expires the access tokens of n connections at once and asks for all of them
// concurrently; limit caps the emulator's refreshes per second (0: none).
func (b *connBench) storm(ctx context.Context, dbURL string, n, limit int) (stormResult, error) {
	if err := b.seed(ctx, dbURL, n); err != nil {
		return stormResult{}, err
	}
	svc, addr, err := startLine(ctx, b.bin, b.env(dbURL), addrLine, "-addr", "127.0.0.1:0")
	if err != nil {
		return stormResult{}, err
	}
	defer stop(svc)
	before := map[string]int{}
	for i := range n {
		before[benchUser(i)] = b.emu.Refreshes(benchUser(i))
		b.emu.ExpireUserTokens(benchUser(i))
	}
	staleBefore := b.emu.StaleRefreshes()
	b.emu.SetTokenRateLimit(limit)
	defer b.emu.SetTokenRateLimit(0)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1000, MaxConnsPerHost: 1000}}
	var mu sync.Mutex
	var r stormResult
	var wg sync.WaitGroup
	began := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + addr + "/obf-token?secret=" + benchSecret + "&ref=" + benchUser(i))
			status := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			mu.Lock()
			switch status {
			case 200:
				r.ok++
			case 503:
				r.unavailable++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.took = time.Since(began)
	counts := map[int]int{}
	for i := range n {
		counts[b.emu.Refreshes(benchUser(i))-before[benchUser(i)]]++
	}
	var keys []int
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d for %d", k, counts[k]))
	}
	r.perConnection, r.stale = strings.Join(parts, ", "), b.emu.StaleRefreshes()-staleBefore
	return r, nil
}

// freshPostgres creates a database for the benchmark on the server DATABASE_URL_TEST names, and
// returns its URL and how to drop it.
func freshPostgres(ctx context.Context) (string, func(), error) {
	base := os.Getenv("DATABASE_URL_TEST")
	if base == "" {
		return "", nil, errors.New("DATABASE_URL_TEST is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return "", nil, errors.New("no server answers at DATABASE_URL_TEST")
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "zoombench_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}, nil
}

// streamRow sets GET /rtms/stream's figures beside /obf-token's of the same service.
func streamRow(database string, n int, r connResult) string {
	return fmt.Sprintf("  %s, %d connections: /rtms/stream p50 %s, p99 %s, %.0f req/s; /obf-token p50 %s, %.0f req/s",
		database, n, ms(r.stream.p50), ms(r.stream.p99), r.stream.rps, ms(r.p50), r.rps)
}

// scrapeCost is what concurrent /metrics scrapes cost: the rise of the service's peak resident
// memory over what it held before, and the slowest scrape.
type scrapeCost struct {
	rise    int64
	slowest time.Duration
}

func (c scrapeCost) String() string {
	return fmt.Sprintf("+%.1f MB, %s", float64(c.rise)/(1<<20), ms(c.slowest))
}

// scrapeAtOnce sends n /metrics scrapes at once to a service that has served none, so the
// connection counts are not cached yet, and measures what they cost.
func scrapeAtOnce(ctx context.Context, target string, pid, n int) (scrapeCost, error) {
	before, _ := memory(pid)
	var cost scrapeCost
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target+"/metrics", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "zoomtoken_connections{") {
				errs <- fmt.Errorf("/metrics answered %d without the connection counts", resp.StatusCode)
				return
			}
			mu.Lock()
			cost.slowest = max(cost.slowest, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return cost, err
	}
	_, peak := memory(pid)
	cost.rise = max(peak-before, 0)
	return cost, nil
}
