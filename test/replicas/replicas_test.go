package replicas

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/zoomtoken/zoomtoken/internal/postgres/pgtest"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	callbackSecret = "replica-callback-secret-0123"
	botLinkKey     = "replica-bot-link-key-0123456789abcdef"
	adminToken     = "replica-admin-token-0123456789"
)

// binary is the zoomtoken command, built once for the whole suite.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zoomtoken-replicas")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "zoomtoken")
	build := exec.Command("go", "build", "-o", binary, "github.com/zoomtoken/zoomtoken/cmd/zoomtoken")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building zoomtoken:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is one emulated Zoom, one PostgreSQL database and several zoomtoken processes.
type cluster struct {
	emu      *zoomemu.Emulator
	emuURL   string
	dbURL    string
	key      string
	replicas []*replica
	users    []string
}

type replica struct {
	url string
	cmd *exec.Cmd
	out *logtest.Buffer
}

func freePort(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newCluster starts n replicas on a fresh database, with users connected users, each hosting
// one meeting.
func newCluster(tb testing.TB, n, users int, extraEnv ...string) *cluster {
	tb.Helper()
	c := &cluster{dbURL: pgtest.NewDatabase(tb)}
	key := make([]byte, 32)
	rand.Read(key)
	c.key = base64.StdEncoding.EncodeToString(key)
	cfg := zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: "acct", ClientID: "s2s-client", ClientSecret: "s2s-secret"}},
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret"},
		Meetings: []int64{70000000001},
	}
	for i := range users {
		id := fmt.Sprintf("user-%03d", i)
		c.users = append(c.users, id)
		cfg.Users = append(cfg.Users, zoomemu.User{ID: id, Email: id + "@example.com", AccountID: "acct-" + id,
			PMI: 5550000000 + int64(i), Meetings: []int64{80000000000 + int64(i)}})
	}
	cfg.Users = append(cfg.Users, zoomemu.User{ID: "bot", Email: "bot@example.com"})
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freePort(tb)
	}
	// Zoom's webhooks reach the first replica only, as a load balancer might route them.
	cfg.WebhookSecretToken = webhookToken
	cfg.RTMS = &zoomemu.RTMS{ClientID: "oauth-client", ClientSecret: "oauth-secret", WebhookURL: "http://" + addrs[0] + "/webhooks/zoom"}
	c.emu = zoomemu.New(cfg)
	srv := httptest.NewServer(c.emu)
	tb.Cleanup(func() { c.emu.Close(); srv.Close(); c.emu.WaitWebhooks() })
	c.emuURL = srv.URL

	for i := range n {
		c.replicas = append(c.replicas, c.start(tb, addrs[i], "http://"+addrs[0], extraEnv))
	}
	for _, u := range c.users {
		c.connect(tb, u)
	}
	return c
}

func (c *cluster) env(publicURL string, extra []string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"ZOOM_MEETING_SDK_KEY=replicaSdkKey", "ZOOM_MEETING_SDK_SECRET=replica-sdk-secret-value",
		"ZOOM_ACCOUNT_ID=acct", "ZOOM_CLIENT_ID=s2s-client", "ZOOM_CLIENT_SECRET=s2s-secret", "ZOOM_ZAK_USER=bot@example.com",
		"ZOOM_OAUTH_CLIENT_ID=oauth-client", "ZOOM_OAUTH_CLIENT_SECRET=oauth-secret",
		"PUBLIC_URL=" + publicURL, "TOKEN_ENCRYPTION_KEYS=" + c.key, "DATABASE_URL=" + c.dbURL,
		"CALLBACK_SECRETS=" + callbackSecret, "ADMIN_TOKENS=" + adminToken, "BOT_LINK_KEYS=" + botLinkKey,
		"ZOOM_OAUTH_BASE_URL=" + c.emuURL, "ZOOM_API_BASE_URL=" + c.emuURL,
		"LOG_LEVEL=warn", "SHUTDOWN_TIMEOUT=2s",
	}, extra...)
}

// start runs one zoomtoken process and waits until it answers.
func (c *cluster) start(tb testing.TB, addr, publicURL string, extra []string) *replica {
	tb.Helper()
	r := &replica{url: "http://" + addr, out: &logtest.Buffer{}}
	r.cmd = exec.Command(binary, "-addr", addr)
	r.cmd.Env = c.env(publicURL, extra)
	r.cmd.Dir = tb.TempDir()
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		r.cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(r.url + "/healthz"); err == nil {
			resp.Body.Close()
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("replica %s did not start:\n%s", addr, r.out.String())
	return nil
}

// connect runs user's connect flow through replica 0, as their browser would.
func (c *cluster) connect(tb testing.TB, user string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.replicas[0].url+"/admin/connect-links", strings.NewReader(`{"ref":"`+user+`"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	c.emu.AutoApprove(user)
	jar, _ := cookiejar.New(nil)
	resp, err = (&http.Client{Jar: jar}).Get(link.URL)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("is connected")) {
		tb.Fatalf("connecting %s: %d %s", user, resp.StatusCode, body)
	}
}

// get answers one bot request with its status and body.
func get(client *http.Client, url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *cluster) obfURL(i int, user string) string {
	return c.replicas[i%len(c.replicas)].url + c.link(map[string]string{"ref": user})
}

// link is a bot link to /obf-token with params, as the operator's backend mints one from the
// recipe: the storms below reach connected accounts the way a bot does by default.
func (c *cluster) link(params map[string]string) string {
	path, _, err := botlink.New([][]byte{[]byte(botLinkKey)}, time.Now).Mint("/obf-token", params, time.Hour)
	if err != nil {
		panic(err)
	}
	return path
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}

// burst sends each of urls concurrently (at most width at once) and counts the answers by status.
func burst(urls []string, width int) map[int]int {
	var mu sync.Mutex
	counts := map[int]int{}
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			status, _ := get(client, u)
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

func TestStormOnOneUserRefreshesOnce(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.emu.ExpireUserTokens(c.users[0])
	var urls []string
	for i := range 150 { // 3 × 50, spread over the replicas
		urls = append(urls, c.obfURL(i, c.users[0]))
	}
	if counts := burst(urls, 150); counts[200] != 150 {
		t.Errorf("answers %v, want 150 × 200", counts)
	}
	if got, stale := c.emu.Refreshes(c.users[0]), c.emu.StaleRefreshes(); got != 1 || stale != 0 {
		t.Errorf("%d refreshes and %d stale ones, want 1 and 0", got, stale)
	}
}

func TestStormOnManyUsersRefreshesEachOnce(t *testing.T) {
	c := newCluster(t, 3, 200)
	for _, u := range c.users {
		c.emu.ExpireUserTokens(u)
	}
	var urls []string
	for _, u := range c.users {
		for i := range 3 { // every user, from every replica
			urls = append(urls, c.obfURL(i, u))
		}
	}
	if counts := burst(urls, 200); counts[200] != len(urls) {
		t.Errorf("answers %v, want %d × 200; the replicas said:\n%s", counts, len(urls), c.warnings(5))
	}
	for _, u := range c.users {
		if got := c.emu.Refreshes(u); got != 1 {
			t.Errorf("%s refreshed %d times, want 1", u, got)
		}
	}
	if stale := c.emu.StaleRefreshes(); stale != 0 {
		t.Errorf("%d stale refreshes", stale)
	}
}

func TestKeepAliveOnThreeReplicas(t *testing.T) {
	const period, run = 1500 * time.Millisecond, 15 * time.Second
	c := newCluster(t, 3, 20, "CONNECTION_KEEPALIVE="+period.String())
	time.Sleep(run)
	for _, u := range c.users {
		// A refresh every period, give or take the check interval (a tenth of it).
		if got := c.emu.Refreshes(u); got < int(run/period)-2 || got > int(run/period) {
			t.Errorf("%s refreshed %d times in %s with a %s keep-alive", u, got, run, period)
		}
	}
	if stale := c.emu.StaleRefreshes(); stale != 0 {
		t.Errorf("%d stale refreshes across the replicas", stale)
	}
}

// TestKillDuringAStorm kills a replica with SIGKILL while all replicas refresh every connection:
// the others keep answering. The one window that can lose a connection is between Zoom's answer
// to a refresh and the commit of the new tokens, inside the killed process; the test reports how
// many connections it lost.
func TestKillDuringAStorm(t *testing.T) {
	c := newCluster(t, 3, 100)
	for _, u := range c.users {
		c.emu.ExpireUserTokens(u)
	}
	c.emu.SetLatency(20 * time.Millisecond) // so refreshes are in flight when the kill comes
	var survivors []string
	var victims []string
	for _, u := range c.users {
		survivors = append(survivors, c.obfURL(0, u), c.obfURL(2, u))
		victims = append(victims, c.obfURL(1, u))
	}
	go func() {
		// Kill it in the thick of the storm, once refreshes are under way.
		deadline := time.Now().Add(5 * time.Second)
		for refreshes(c) < 20 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		c.replicas[1].cmd.Process.Kill()
	}()
	var victimAnswers map[int]int
	done := make(chan struct{})
	go func() { victimAnswers = burst(victims, 100); close(done) }()
	counts := burst(survivors, 100)
	<-done
	c.emu.SetLatency(0)
	lost := 0
	for _, u := range c.users {
		if status, body := get(client, c.obfURL(0, u)); status != 200 {
			lost++
			t.Logf("%s after the kill: %d %s", u, status, body)
		}
	}
	t.Logf("survivors answered %v; the killed replica %v; connections lost in the window: %d of %d", counts, victimAnswers, lost, len(c.users))
	if counts[500] != 0 || counts[502] != 0 || counts[0] != 0 || counts[200]+counts[404]+counts[503] != len(survivors) {
		t.Errorf("the surviving replicas answered %v", counts)
	}
	if counts[200] < len(survivors)-2*lost {
		t.Errorf("%d of %d survivor answers were 200 with %d connections lost; the replicas said:\n%s",
			counts[200], len(survivors), lost, c.warnings(5))
	}
}

// warnings are the first n warnings and errors each replica logged, to say why a test failed.
func (c *cluster) warnings(n int) string {
	var lines []string
	for i, r := range c.replicas {
		kept := 0
		for line := range strings.Lines(r.out.String()) {
			if kept < n && (strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`)) {
				lines = append(lines, fmt.Sprintf("replica %d: %s", i, strings.TrimSpace(line)))
				kept++
			}
		}
	}
	return strings.Join(lines, "\n")
}

func refreshes(c *cluster) int {
	n := 0
	for _, u := range c.users {
		n += c.emu.Refreshes(u)
	}
	return n
}

// TestDatabaseConnectionsKilledUnderLoad cuts every database connection of the replicas, twice,
// while bots and browsers keep asking: signatures and S2S tokens never fail, connected routes
// answer 200 or 503, and everything recovers without a restart and without a connection marked
// for re-authorization.
func TestDatabaseConnectionsKilledUnderLoad(t *testing.T) {
	c := newCluster(t, 3, 10)
	admin, err := sql.Open("pgx", c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sig, s2s, obf, obfBad atomic.Int32
	var sigBad, s2sBad atomic.Int32
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := c.replicas[(w+i)%3]
				resp, err := client.Post(r.url+"/", "application/json", strings.NewReader(`{"meetingNumber":"1","role":0}`))
				if err == nil && resp.StatusCode == 200 {
					sig.Add(1)
				} else {
					sigBad.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
				if status, _ := get(client, r.url+"/join-token?secret="+callbackSecret+"&meeting_id=70000000001"); status == 200 {
					s2s.Add(1)
				} else {
					s2sBad.Add(1)
				}
				u := c.users[i%len(c.users)]
				switch status, body := get(client, r.url+c.link(map[string]string{"ref": u})); status {
				case 200:
					obf.Add(1)
				case 503:
				default:
					if obfBad.Add(1) < 5 {
						t.Logf("obf during the outage: %d %s", status, body)
					}
				}
			}
		}()
	}
	for range 2 {
		time.Sleep(700 * time.Millisecond)
		for _, u := range c.users {
			c.emu.ExpireUserTokens(u) // so refreshes happen right through the outage
		}
		if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("signatures %d ok / %d failed; S2S join tokens %d / %d; OBF tokens %d ok, %d neither 200 nor 503",
		sig.Load(), sigBad.Load(), s2s.Load(), s2sBad.Load(), obf.Load(), obfBad.Load())
	if sigBad.Load() != 0 || s2sBad.Load() != 0 {
		t.Errorf("routes that need no database failed: %d signatures, %d S2S join tokens", sigBad.Load(), s2sBad.Load())
	}
	if obfBad.Load() != 0 || obf.Load() == 0 {
		t.Errorf("connected routes: %d answers were neither 200 nor 503 (%d were 200)", obfBad.Load(), obf.Load())
	}
	// Recovered, on every replica, with every connection still active.
	for _, u := range c.users {
		for i := range 3 {
			if status, body := get(client, c.obfURL(i, u)); status != 200 {
				t.Errorf("%s on replica %d after the outage: %d %s", u, i, status, body)
			}
		}
	}
	var dead int
	admin.QueryRow(`SELECT COUNT(*) FROM connections WHERE status <> 'active'`).Scan(&dead)
	if dead != 0 {
		t.Errorf("%d connections marked for re-authorization by a database outage", dead)
	}
	// A replica whose commit died with its database connection writes the rotated tokens again
	// within a second; a replica that took the row lock in between may present the old refresh
	// token once (a stale refresh Zoom refuses), and then, after the grace, finds the new one.
	// That costs a refused call, never the connection, which the check above proves.
	t.Logf("stale refreshes during the outage: %d", c.emu.StaleRefreshes())
	if t.Failed() {
		for _, r := range c.replicas {
			for _, line := range strings.Split(r.out.String(), "\n") {
				if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) {
					t.Log(line)
				}
			}
		}
	}
}

// TestDumpHoldsNoToken reads the database as pg_dump writes it and looks for every token the
// emulator issued.
func TestDumpHoldsNoToken(t *testing.T) {
	c := newCluster(t, 1, 5)
	for _, u := range c.users {
		c.emu.ExpireUserTokens(u)
		if status, _ := get(client, c.obfURL(0, u)); status != 200 {
			t.Fatalf("obf for %s: %d", u, status)
		}
	}
	dump, err := exec.Command("pg_dump", "--data-only", c.dbURL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(dump, []byte("user-003@example.com")) {
		t.Fatalf("the dump does not hold the connections at all")
	}
	issued := c.emu.Issued(zoomemu.EndpointToken)
	if len(issued) < 20 {
		t.Fatalf("only %d tokens issued", len(issued))
	}
	for _, token := range issued {
		if bytes.Contains(dump, []byte(token)) || bytes.Contains(dump, []byte(hex.EncodeToString([]byte(token)))) {
			t.Errorf("the dump holds a token Zoom issued (%.10s…)", token)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(dump))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "emu_") {
			t.Errorf("a dump line holds an emulator token: %.60s", sc.Text())
		}
	}
	// And the tokens are still there, sealed: the service reads them back.
	if status, _ := get(client, c.obfURL(0, c.users[0])); status != 200 {
		t.Errorf("after the dump: %d", status)
	}
}

const webhookToken = "replica-webhook-secret-token"

// TestRTMSAcrossTwoReplicas: the operator starts a stream through one replica, Zoom's webhook
// reaches the other, and a worker asking the first gets a signature the emulator's sockets
// accept; the stop, through the other replica, makes the first answer 410.
func TestRTMSAcrossTwoReplicas(t *testing.T) {
	c := newCluster(t, 2, 1, "ZOOM_WEBHOOK_SECRET_TOKENS="+webhookToken)
	const meeting = 70000000001 // in the S2S app's account; no connected user hosts it
	control := func(r *replica, action string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url+"/admin/rtms/"+action, strings.NewReader(`{"meeting_id":"70000000001"}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"via":"s2s"`) {
			t.Fatalf("%s through %s: %d %s", action, r.url, resp.StatusCode, body)
		}
		c.emu.WaitWebhooks()
	}
	control(c.replicas[1], "start")
	stream := c.emu.RTMSStream(meeting)
	status, body := get(client, c.replicas[1].url+"/rtms/stream?secret="+callbackSecret+"&rtms_stream_id="+stream)
	var join struct {
		MeetingUUID string `json:"meeting_uuid"`
		ServerURLs  string `json:"server_urls"`
		Signature   string `json:"signature"`
	}
	json.Unmarshal([]byte(body), &join)
	if status != http.StatusOK || join.Signature == "" {
		t.Fatalf("the stream, from the replica the webhook did not reach: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, join.ServerURLs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	wsjson.Write(ctx, ws, map[string]any{"msg_type": 1, "protocol_version": 1, "meeting_uuid": join.MeetingUUID,
		"rtms_stream_id": stream, "sequence": 0, "signature": join.Signature})
	var answer struct {
		StatusCode int `json:"status_code"`
	}
	if err := wsjson.Read(ctx, ws, &answer); err != nil || answer.StatusCode != 0 {
		t.Fatalf("the emulator's signaling socket, with the vended signature: %+v %v", answer, err)
	}
	control(c.replicas[0], "stop")
	if status, body := get(client, c.replicas[1].url+"/rtms/stream?secret="+callbackSecret+"&rtms_stream_id="+stream); status != http.StatusGone ||
		!strings.Contains(body, `"stop_reason":25`) {
		t.Errorf("after the stop: %d %s, want 410 with Zoom's stop reason", status, body)
	}
	// A second stop: Zoom says nothing is running; a 404 and a warning, not "needs attention".
	req, _ := http.NewRequest(http.MethodPost, c.replicas[0].url+"/admin/rtms/stop", strings.NewReader(`{"meeting_id":"70000000001"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("stopping a stream that is not running: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// The control calls are in the metrics, with their outcome.
	_, metrics := get(client, c.replicas[0].url+"/metrics")
	for _, want := range []string{`zoomtoken_zoom_requests_total{endpoint="rtms_control",outcome="ok"} 1`,
		`zoomtoken_zoom_requests_total{endpoint="rtms_control",outcome="refused"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the metrics have no %s", want)
		}
	}
}

// Who may get what holds across replicas: a signed request is accepted once in the whole cluster,
// a bot link reaches its own connection only, and a plain secret reaches no connected account.
func TestAccessAcrossReplicas(t *testing.T) {
	const signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	c := newCluster(t, 2, 2, "CALLBACK_SIGNING_SECRETS="+signingSecret)
	wh, err := standardwebhooks.NewWebhook(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(url, id string) int {
		sig, err := wh.Sign(id, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := signed(c.replicas[0].url+"/zak", "msg_replay_1"); status != http.StatusOK {
		t.Fatalf("a signed /zak: %d", status)
	}
	if status := signed(c.replicas[1].url+"/zak", "msg_replay_1"); status != http.StatusUnauthorized {
		t.Errorf("the same webhook-id on the second replica: %d, want 401", status)
	}
	if status := signed(c.replicas[1].url+"/zak", "msg_replay_2"); status != http.StatusOK {
		t.Errorf("a fresh webhook-id on the second replica: %d", status)
	}

	mine := c.link(map[string]string{"ref": c.users[0]})
	if status, body := get(client, c.replicas[1].url+mine); status != http.StatusOK || !strings.HasPrefix(body, "emu_obf_") {
		t.Errorf("a link for %s: %d %.40q", c.users[0], status, body)
	}
	theirs := strings.Replace(mine, "ref="+c.users[0], "ref="+c.users[1], 1)
	if status, _ := get(client, c.replicas[0].url+theirs); status != http.StatusUnauthorized {
		t.Errorf("the link with its ref edited: %d, want 401", status)
	}
	status, body := get(client, c.replicas[0].url+"/obf-token?secret="+callbackSecret+"&ref="+c.users[0])
	if status != http.StatusForbidden || !strings.Contains(body, "bot link") {
		t.Errorf("a plain secret naming a connection: %d %q, want 403 saying a bot link is needed", status, body)
	}
}

// A graceful stop loses no connection: three times, a replica gets SIGTERM while it refreshes
// every connection for callers that have already hung up; after each stop every connection
// still answers from the other replica, and Zoom saw no refresh token used twice.
func TestSIGTERMDuringAStormLosesNothing(t *testing.T) {
	c := newCluster(t, 2, 30, "SHUTDOWN_TIMEOUT=10s")
	addr := strings.TrimPrefix(c.replicas[1].url, "http://")
	impatient := &http.Client{Timeout: 200 * time.Millisecond}
	for round := range 3 {
		for _, u := range c.users {
			c.emu.ExpireUserTokens(u) // each call below refreshes first
		}
		// Each refresh takes Zoom a second: the callers (who wait 0.2 s) have left, and the stop
		// comes, while every one is at Zoom.
		c.emu.Script(zoomemu.EndpointToken, slices.Repeat([]zoomemu.Fault{zoomemu.Slow(time.Second)}, len(c.users))...)
		asked := c.emu.Calls(zoomemu.EndpointToken)
		var wg sync.WaitGroup
		for _, u := range c.users {
			wg.Go(func() { get(impatient, c.replicas[1].url+c.link(map[string]string{"ref": u})) })
		}
		wg.Wait()
		// On a loaded machine a caller may give up before its request even reached the replica:
		// the stop comes once every refresh that was asked for is at Zoom.
		for deadline := time.Now().Add(10 * time.Second); c.emu.Calls(zoomemu.EndpointToken)-asked < len(c.users) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if c.emu.Calls(zoomemu.EndpointToken) == asked {
			t.Fatalf("round %d: no refresh reached Zoom", round)
		}
		victim := c.replicas[1]
		victim.cmd.Process.Signal(syscall.SIGTERM)
		if err := victim.cmd.Wait(); err != nil {
			t.Fatalf("round %d: the replica did not stop cleanly: %v\n%s", round, err, victim.out.String())
		}
		c.nobodyLost(t, victim, fmt.Sprintf("round %d", round))
		c.replicas[1] = c.start(t, addr, "http://"+strings.TrimPrefix(c.replicas[0].url, "http://"), []string{"SHUTDOWN_TIMEOUT=10s"})
	}
}

// nobodyLost expires every user's access token at Zoom and asks replica 0 for each: each call
// refreshes with the stored refresh token, so a rotated token the stopped replica failed to
// store shows up here as a connection lost.
func (c *cluster) nobodyLost(t *testing.T, stopped *replica, what string) {
	t.Helper()
	for _, u := range c.users {
		c.emu.ExpireUserTokens(u)
	}
	lost := 0
	for _, u := range c.users {
		if status, body := get(client, c.replicas[0].url+c.link(map[string]string{"ref": u})); status != 200 {
			lost++
			t.Logf("%s, %s: %d %s", what, u, status, body)
		}
	}
	if lost != 0 || c.emu.StaleRefreshes() != 0 || strings.Contains(stopped.out.String(), "may have to connect again") {
		t.Errorf("%s: %d of %d connections lost, %d stale refreshes\n%s", what, lost, len(c.users), c.emu.StaleRefreshes(), stopped.out.String())
	}
}

// A graceful stop also keeps what the keep-alive is refreshing and what a failed write left in
// memory: three times each, a replica gets SIGTERM while its keep-alive refresh is at Zoom, and
// while the database refuses to store rotated tokens (refused until a second into the stop).
func TestSIGTERMWithAKeepAliveRefreshOrAFailedWriteInFlightLosesNothing(t *testing.T) {
	c := newCluster(t, 1, 5) // replica 0 keeps the default keep-alive: a week
	publicURL := c.replicas[0].url
	admin, err := sql.Open("pgx", c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// Refuses any change of a stored refresh token: the write after a refresh fails, the
	// refresh itself (its claim) does not.
	if _, err := admin.Exec(`CREATE FUNCTION refuse_new_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.refresh_token IS DISTINCT FROM OLD.refresh_token THEN RAISE EXCEPTION 'writes refused for the test'; END IF;
			RETURN NEW;
		END $$`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("keep-alive/%d", round), func(t *testing.T) {
			victim := c.start(t, freePort(t), publicURL, []string{"SHUTDOWN_TIMEOUT=10s", "CONNECTION_KEEPALIVE=1s"})
			asked := c.emu.Calls(zoomemu.EndpointToken)
			// The victim's keep-alive refreshes each connection within a second; the next one
			// takes Zoom two, and the stop comes while it is there.
			c.emu.Script(zoomemu.EndpointToken, zoomemu.Slow(2*time.Second))
			for deadline := time.Now().Add(30 * time.Second); c.emu.Calls(zoomemu.EndpointToken) == asked; {
				if time.Now().After(deadline) {
					t.Fatalf("the keep-alive did not refresh within 30 s\n%s", victim.out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			victim.cmd.Process.Signal(syscall.SIGTERM)
			if err := victim.cmd.Wait(); err != nil {
				t.Fatalf("the replica did not stop cleanly: %v\n%s", err, victim.out.String())
			}
			c.nobodyLost(t, victim, "after a stop during a keep-alive refresh")
		})
		t.Run(fmt.Sprintf("failed-write/%d", round), func(t *testing.T) {
			victim := c.start(t, freePort(t), publicURL, []string{"SHUTDOWN_TIMEOUT=10s"})
			if _, err := admin.Exec(`CREATE TRIGGER refuse_new_tokens BEFORE UPDATE ON connections
				FOR EACH ROW EXECUTE FUNCTION refuse_new_tokens()`); err != nil {
				t.Fatal(err)
			}
			for _, u := range c.users {
				c.emu.ExpireUserTokens(u)
			}
			asked := c.emu.Calls(zoomemu.EndpointToken)
			for _, u := range c.users {
				get(client, victim.url+c.link(map[string]string{"ref": u})) // refreshed; not stored
			}
			if c.emu.Calls(zoomemu.EndpointToken)-asked != len(c.users) {
				t.Fatalf("%d refreshes, want one per connection", c.emu.Calls(zoomemu.EndpointToken)-asked)
			}
			failedWrites := func() int { return strings.Count(victim.out.String(), "refreshed tokens could not be stored") }
			for deadline := time.Now().Add(5 * time.Second); failedWrites() < len(c.users) && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond) // the last line may still be on its way
			}
			if n := failedWrites(); n != len(c.users) {
				t.Fatalf("%d writes failed, want one per connection\n%s", n, victim.out.String())
			}
			victim.cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(time.Second) // the stop retries the writes meanwhile
			if _, err := admin.Exec(`DROP TRIGGER refuse_new_tokens ON connections`); err != nil {
				t.Fatal(err)
			}
			if err := victim.cmd.Wait(); err != nil {
				t.Fatalf("the replica did not stop cleanly: %v\n%s", err, victim.out.String())
			}
			c.nobodyLost(t, victim, "after a stop with rotated tokens unstored")
		})
	}
}
