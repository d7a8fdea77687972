// Command zoombench load-tests the built zoomtoken binary on loopback with wrk, next to a bare
// net/http "floor" server answering a body of the same size, and prints a table: requests/s,
// p50, p99, CPU time per request (the server's utime+stime over the requests it answered, steadier
// than req/s on a shared machine) and the ratios to the floor for POST /, GET /zak and GET /join-token (against the
// Zoom emulator at zero latency), the emulator alone, resident memory after the load, and the
// time from process start to the first 200 on /healthz.
//
// Usage: zoombench [-bin bin] [-duration 8s] [-connections 64] [-rounds 2]
//
//	zoombench connections [-bin bin] [-sizes 100,10000,100000] [-storm 1000]
//
// measures connected accounts: /obf-token's own cost over the emulator on SQLite and PostgreSQL,
// lookup cost, memory and start-up as stored connections grow, and a refresh storm; and
//
//	zoombench flood [-bin bin] [-connections 10000]
//
// holds that many connections open and reports memory and /healthz meanwhile.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "floor" || os.Args[1] == "proxy") {
		serve := serveFloor
		if os.Args[1] == "proxy" {
			serve = serveProxy
		}
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "zoombench:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "connections" || os.Args[1] == "flood") {
		sub := runConnections
		if os.Args[1] == "flood" {
			sub = runFlood
		}
		if err := sub(context.Background(), os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "zoombench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "zoombench:", err)
		os.Exit(1)
	}
}

// serveFloor is the physical floor: net/http answering a fixed body, nothing else.
func serveFloor(args []string) error {
	flags := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:0", "listen address")
	size := flags.Int("size", 330, "body size")
	if err := flags.Parse(args); err != nil {
		return err
	}
	body := []byte(strings.Repeat("x", *size))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}))
}

// serveProxy is the floor for the bot routes: a bare httputil.ReverseProxy in front of the
// emulator, which pays for the same extra process hop the service does and nothing else.
func serveProxy(args []string) error {
	flags := flag.NewFlagSet("proxy", flag.ContinueOnError)
	target := flags.String("target", "", "URL to forward to")
	if err := flags.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, httputil.NewSingleHostReverseProxy(u))
}

// target is one URL wrk loads; pid is the server whose CPU time its requests cost (the
// service's own includes none of the emulator's, which runs in its own process).
type target struct {
	name, url, script string
	pid               int
}

type result struct {
	name     string
	rps      float64
	requests int64
	p50, p99 time.Duration
	// cpu is the server process's CPU time per request during the run (0 when not measured).
	cpu time.Duration
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("zoombench", flag.ContinueOnError)
	bin := flags.String("bin", "bin", "folder with the zoomtoken and zoomemu binaries")
	duration := flags.Duration("duration", 5*time.Second, "length of each wrk run")
	connections := flags.Int("connections", 64, "wrk connections")
	rounds := flags.Int("rounds", 3, "alternating rounds of every target")
	gogc := flags.String("gogc", "", "GOGC for zoomtoken (unset: the service's own default; 100 for Go's)")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (Debian: apt-get install wrk)")
	}
	work, err := os.MkdirTemp("", "zoombench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	emu, emuURL, err := startLine(ctx, filepath.Join(*bin, "zoomemu"), nil, regexp.MustCompile(`listening on (\S+)`),
		"-addr", "127.0.0.1:0", "-users", "u-1:bot@example.com", "-meetings", "123456789")
	if err != nil {
		return fmt.Errorf("zoomemu: %w", err)
	}
	defer stop(emu)

	env := []string{
		"ZOOM_MEETING_SDK_KEY=benchKey", "ZOOM_MEETING_SDK_SECRET=bench-sdk-secret",
		"ZOOM_VIDEO_SDK_KEY=benchVideoKey", "ZOOM_VIDEO_SDK_SECRET=bench-video-secret",
		"ZOOM_ACCOUNT_ID=emu-account", "ZOOM_CLIENT_ID=emu-client", "ZOOM_CLIENT_SECRET=emu-client-secret",
		"ZOOM_ZAK_USER=bot@example.com", "CALLBACK_SECRETS=bench-callback-secret",
		"ZOOM_OAUTH_BASE_URL=" + emuURL, "ZOOM_API_BASE_URL=" + emuURL,
	}
	if *gogc != "" {
		env = append(env, "GOGC="+*gogc)
	}
	addrLine := regexp.MustCompile(`"addr":"([^"]+)"`)
	svc, svcAddr, err := startLine(ctx, filepath.Join(*bin, "zoomtoken"), env, addrLine, "-addr", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("zoomtoken: %w", err)
	}
	defer stop(svc)
	svcURL := "http://" + svcAddr

	sigBody, err := post(svcURL+"/", `{"meetingNumber":"123456789","role":0}`)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	floor, floorAddr, err := startLine(ctx, self, nil, regexp.MustCompile(`^(\S+)$`), "floor", "-size", strconv.Itoa(len(sigBody)))
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	defer stop(floor)

	proxy, proxyAddr, err := startLine(ctx, self, nil, regexp.MustCompile(`^(\S+)$`), "proxy", "-target", emuURL)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer stop(proxy)

	accessToken, err := emulatorToken(emuURL)
	if err != nil {
		return err
	}
	postScript := filepath.Join(work, "post.lua")
	os.WriteFile(postScript, []byte("wrk.method = \"POST\"\n"+
		"wrk.body = '{\"meetingNumber\":\"123456789\",\"role\":0}'\n"+
		"wrk.headers[\"Content-Type\"] = \"application/json\"\n"), 0o600)
	videoScript := filepath.Join(work, "video.lua")
	os.WriteFile(videoScript, []byte("wrk.method = \"POST\"\n"+
		"wrk.body = '{\"role\":1,\"sessionName\":\"test-session\"}'\n"+
		"wrk.headers[\"Content-Type\"] = \"application/json\"\n"), 0o600)
	authScript := filepath.Join(work, "auth.lua")
	os.WriteFile(authScript, []byte("wrk.headers[\"Authorization\"] = \"Bearer "+accessToken+"\"\n"), 0o600)

	targets := []target{
		{"floor (bare net/http, same body size)", "http://" + floorAddr + "/", postScript, floor.Process.Pid},
		{"POST /", svcURL + "/", postScript, svc.Process.Pid},
		{"POST /video-sdk", svcURL + "/video-sdk", videoScript, svc.Process.Pid},
		{"GET /zak", svcURL + "/zak?secret=bench-callback-secret", "", svc.Process.Pid},
		{"emulator alone: ZAK", emuURL + "/v2/users/bot@example.com/token?type=zak", authScript, emu.Process.Pid},
		{"GET /join-token", svcURL + "/join-token?secret=bench-callback-secret&meeting_id=123456789", "", svc.Process.Pid},
		{"emulator alone: join token", emuURL + "/v2/meetings/123456789/jointoken/local_recording", authScript, emu.Process.Pid},
	}
	results := map[string][]result{}
	for round := range *rounds {
		for _, t := range targets {
			fmt.Fprintf(os.Stderr, "round %d: %s\n", round+1, t.name)
			before, err := cpuTime(t.pid)
			if err != nil {
				return err
			}
			r, err := wrk(ctx, t.url, t.script, *connections, *duration)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			after, err := cpuTime(t.pid)
			if err != nil {
				return err
			}
			if r.requests > 0 {
				r.cpu = (after - before) / time.Duration(r.requests)
			}
			r.name = t.name
			results[t.name] = append(results[t.name], r)
		}
	}
	// The service's own cost per call, without queueing: one connection, service vs emulator,
	// and a bare reverse proxy in front of the emulator for the cost of the hop itself.
	single := map[string]result{}
	for _, t := range append(targets[3:], target{"bare proxy: join token", "http://" + proxyAddr + "/v2/meetings/123456789/jointoken/local_recording", authScript, proxy.Process.Pid}) {
		r, err := wrk(ctx, t.url, t.script, 1, *duration/2)
		if err != nil {
			return fmt.Errorf("%s, one connection: %w", t.name, err)
		}
		single[t.name] = r
	}
	// The latency target is read at light load too: p99 with 8 connections.
	light := map[string]result{}
	for _, t := range targets[:2] {
		r, err := wrk(ctx, t.url, t.script, 8, *duration/2)
		if err != nil {
			return fmt.Errorf("%s, 8 connections: %w", t.name, err)
		}
		light[t.name] = r
	}
	rss, peak := memory(svc.Process.Pid)
	startup, err := startupTime(ctx, filepath.Join(*bin, "zoomtoken"), env, 10)
	if err != nil {
		return fmt.Errorf("startup: %w", err)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintf(stdout, "\nwrk -t2 -c%d -d%s, %d alternating rounds (best round shown; ratios are to the floor of the same round)\n\n",
		*connections, *duration, *rounds)
	fmt.Fprintln(tw, "target\treq/s\tp50\tp99\tCPU/req\treq/s ÷ floor\tp99 ÷ floor\tCPU/req ÷ floor\t")
	floorRounds := results[targets[0].name]
	for _, t := range targets {
		rs := results[t.name]
		best := 0
		for i := range rs {
			if rs[i].rps > rs[best].rps {
				best = i
			}
		}
		r, f := rs[best], floorRounds[best]
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t\n", t.name, r.rps, ms(r.p50), ms(r.p99), usf(r.cpu),
			r.rps/f.rps, float64(r.p99)/float64(f.p99), float64(r.cpu)/float64(f.cpu))
	}
	tw.Flush()
	// CPU per request of POST / over the floor's, round by round: the figure to hold at or
	// under 1.3 (the handler's own work over what net/http costs anyway).
	var cpuRatios []string
	var ratios []float64
	for i, r := range results["POST /"] {
		ratio := float64(r.cpu) / float64(floorRounds[i].cpu)
		ratios = append(ratios, ratio)
		cpuRatios = append(cpuRatios, fmt.Sprintf("%.2f (%s vs %s)", ratio, usf(r.cpu), usf(floorRounds[i].cpu)))
	}
	fmt.Fprintf(stdout, "\nPOST / CPU per request ÷ the floor's: median %.2f (target: at most 1.30); by round: %s\n",
		median(ratios), strings.Join(cpuRatios, ", "))
	var videoRatios []string
	for i, r := range results["POST /video-sdk"] {
		videoRatios = append(videoRatios, fmt.Sprintf("%.2f", r.rps/results["POST /"][i].rps))
	}
	fmt.Fprintf(stdout, "\nPOST /video-sdk ÷ POST / req/s, by round: %s (target: at least 0.90)\n", strings.Join(videoRatios, ", "))
	fmt.Fprintf(stdout, "8 connections, p99: POST / %s, floor %s\n", ms(light["POST /"].p99), ms(light[targets[0].name].p99))
	fmt.Fprintf(stdout, "one connection (no queueing), p50: /zak %s vs emulator %s; /join-token %s vs emulator %s\n",
		ms(single["GET /zak"].p50), ms(single["emulator alone: ZAK"].p50),
		ms(single["GET /join-token"].p50), ms(single["emulator alone: join token"].p50))
	fmt.Fprintf(stdout, "p50 added over the emulator call: /zak %s, /join-token %s; a bare reverse proxy adds %s\n",
		us(single["GET /zak"].p50-single["emulator alone: ZAK"].p50),
		us(single["GET /join-token"].p50-single["emulator alone: join token"].p50),
		us(single["bare proxy: join token"].p50-single["emulator alone: join token"].p50))
	fmt.Fprintf(stdout, "zoomtoken resident memory after the load: %d MB (peak %d MB)\n", rss>>20, peak>>20)
	fmt.Fprintf(stdout, "start to first 200 on /healthz, median of 10 starts: %s\n", ms(startup))
	return nil
}

// usf prints microseconds with one decimal, for CPU time per request.
func usf(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// startLine starts a program and waits for the first output line matching re, returning the
// first group of the match.
func startLine(ctx context.Context, path string, env []string, re *regexp.Regexp, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, out) // keep draining: the service logs every request
			return cmd, m[1], nil
		}
	}
	stop(cmd)
	return nil, "", fmt.Errorf("%s exited before it listened", path)
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
	}
}

func post(url, body string) (string, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b), err
}

func emulatorToken(emuURL string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, emuURL+"/oauth/token", strings.NewReader("grant_type=account_credentials&account_id=emu-account"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("emu-client", "emu-client-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("emulator token: %v", err)
	}
	return tok.AccessToken, nil
}

var (
	rpsLine     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latencyLine = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)$`)
	non2xxLine  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	// requestsLine is wrk's "  123456 requests in 8.00s, 45.6MB read".
	requestsLine = regexp.MustCompile(`(\d+) requests in `)
)

// wrk runs the load generator and reads its summary.
func wrk(ctx context.Context, url, script string, connections int, d time.Duration) (result, error) {
	threads := min(2, connections)
	// wrk takes whole seconds, at least one.
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(connections), "-d" + strconv.Itoa(max(int(d.Seconds()), 1)) + "s", "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if m := non2xxLine.FindSubmatch(out); m != nil {
		return result{}, fmt.Errorf("%s non-2xx answers under load:\n%s", m[1], out)
	}
	var r result
	m := rpsLine.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := requestsLine.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	for _, l := range latencyLine.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(l[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[3])]
		if string(l[1]) == "50" {
			r.p50 = time.Duration(v * float64(unit))
		} else {
			r.p99 = time.Duration(v * float64(unit))
		}
	}
	return r, nil
}

// userHZ is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on every Linux
// architecture (the kernel scales its own tick to it for this interface).
const userHZ = 100

// cpuTime is a process's user plus system CPU time so far, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces and parentheses; the fields after its last
	// closing parenthesis start at field 3 (state), so utime (14) and stime (15) are the 12th and 13th.
	end := bytes.LastIndexByte(b, ')')
	fields := strings.Fields(string(b[end+1:]))
	if end < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("CPU time of process %d: unexpected /proc stat line", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// memory reads a process's resident set size and its peak, in bytes.
func memory(pid int) (rss, peak int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "VmRSS:":
				rss = kb << 10
			case "VmHWM:":
				peak = kb << 10
			}
		}
	}
	return rss, peak
}

// startupTime is the median, over n starts, of the time from exec to the first 200 on /healthz.
func startupTime(ctx context.Context, path string, env []string, n int) (time.Duration, error) {
	client := &http.Client{Timeout: 100 * time.Millisecond}
	var times []time.Duration
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.CommandContext(ctx, path, "-addr", addr)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		for {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(began) > 10*time.Second {
				stop(cmd)
				return 0, errors.New("no 200 on /healthz within 10s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		times = append(times, time.Since(began))
		stop(cmd)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// median is the middle of xs (the mean of the middle two for an even count): one round disturbed
// by a neighbour on a shared machine moves it less than it moves the mean.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
