package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/logging/logtest"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// instance is one run of the service inside the test process.
type instance struct {
	url    string
	stdout *logtest.Buffer
	cancel context.CancelFunc
	done   chan error
}

// start calls run on 127.0.0.1:0 with env as the whole environment and waits until it listens.
func start(tb testing.TB, env map[string]string) *instance {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{stdout: &logtest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() {
		inst.done <- run(ctx, []string{"zoomtoken", "-addr", "127.0.0.1:0"}, getenv, inst.stdout, io.Discard)
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-inst.done:
		case <-time.After(10 * time.Second):
			tb.Error("run did not return after cancel")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(inst.stdout.String(), "\n") {
			var entry struct{ Message, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "zoomtoken listening" {
				inst.url = "http://" + entry.Addr
				return inst
			}
		}
		select {
		case err := <-inst.done:
			tb.Fatalf("run returned before listening: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	tb.Fatalf("no listening line in %q", inst.stdout.String())
	return nil
}

func sdkEnv() map[string]string {
	return map[string]string{"ZOOM_MEETING_SDK_KEY": "testKey", "ZOOM_MEETING_SDK_SECRET": "testSecretXyz", "SHUTDOWN_TIMEOUT": "5s"}
}

func TestRunServesAndStopsOnCancel(t *testing.T) {
	inst := start(t, sdkEnv())
	resp, err := http.Post(inst.url+"/", "application/json", strings.NewReader(`{"meetingNumber":"1","role":0}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"sdkKey":"testKey"`) {
		t.Fatalf("POST /: got %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(inst.stdout.String(), `"features":["signature"]`) {
		t.Errorf("startup line does not list the features: %s", inst.stdout.String())
	}
	inst.cancel()
	if err := <-inst.done; err != nil {
		t.Errorf("run: got %v, want nil after a clean shutdown", err)
	}
	inst.done <- nil // for the cleanup
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	env := map[string]string{"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": "very-secret-value"}
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"zoomtoken"}, func(k string) string { return env[k] }, &stdout, io.Discard)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("got %v, want a configuration error", err)
	}
	if !strings.Contains(err.Error(), "CALLBACK_SECRETS") || strings.Contains(err.Error(), "very-secret-value") {
		t.Errorf("error: %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("a refused start logged %q", stdout.String())
	}
}

func TestRunReturnsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := sdkEnv()
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"zoomtoken", "-addr", ln.Addr().String()},
			func(k string) string { return env[k] }, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("got %v, want address already in use", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return on a taken port")
	}
}

func TestRunHelpListsVariables(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"zoomtoken", "-h"}, func(string) string { return "" }, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, name := range config.Variables() {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("help lacks %s", name)
		}
	}
}

// A request in flight when SIGTERM arrives is served to the end; then run returns nil.
func TestRunDrainsInFlightRequestOnSIGTERM(t *testing.T) {
	inst := start(t, sdkEnv())
	conn, err := net.Dial("tcp", strings.TrimPrefix(inst.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"meetingNumber":"123","role":1}`
	// With Expect: 100-continue the server says "100 Continue" only once the handler reads the
	// body, so reading it proves the request is in flight inside the handler.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	reader := bufio.NewReader(conn)
	interim, err := reader.ReadString('\n')
	if err != nil || !strings.Contains(interim, "100 Continue") {
		t.Fatalf("interim answer: %q %v", interim, err)
	}
	reader.ReadString('\n') // the blank line that ends it

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(inst.stdout.String(), "shutting down") })
	io.WriteString(conn, body)

	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(answer), "signature") {
		t.Fatalf("in-flight request: got %d %q, want 200 with a signature", resp.StatusCode, answer)
	}
	select {
	case err := <-inst.done:
		if err != nil {
			t.Errorf("run: got %v, want nil", err)
		}
		inst.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after draining")
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDotenvIsOverriddenByEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("PORT=5000\nLOG_LEVEL=debug\n# comment\nZOOM_MEETING_SDK_KEY=\"from file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORT": "6000"}
	getenv, err := withDotenv(func(k string) string { return env[k] }, path)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"PORT": "6000", "LOG_LEVEL": "debug", "ZOOM_MEETING_SDK_KEY": "from file", "LOG_FORMAT": ""} {
		if got := getenv(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if _, err := withDotenv(getenv, filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("a missing .env: got %v, want nil", err)
	}
}

func TestDoctorCommand(t *testing.T) {
	emu := zoomemu.New(zoomemu.Config{
		Apps:  []zoomemu.App{{AccountID: e2eAccount, ClientID: e2eClientID, ClientSecret: e2eClientSec}},
		Users: []zoomemu.User{{ID: "u-1", Email: e2eZAKUser}},
	})
	upstream := httptest.NewServer(emu)
	defer upstream.Close()
	env := map[string]string{
		"ZOOM_ACCOUNT_ID": e2eAccount, "ZOOM_CLIENT_ID": e2eClientID, "ZOOM_CLIENT_SECRET": e2eClientSec,
		"CALLBACK_SECRETS": firstSecret, "ZOOM_ZAK_USER": e2eZAKUser,
		"ZOOM_OAUTH_BASE_URL": upstream.URL, "ZOOM_API_BASE_URL": upstream.URL,
	}
	doctorRun := func() (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"zoomtoken", "doctor"}, func(k string) string { return env[k] }, &out, io.Discard)
		return out.String(), err
	}
	out, err := doctorRun()
	if err != nil || !strings.Contains(out, "0 failed") {
		t.Errorf("healthy setup: got %v\n%s", err, out)
	}
	env["ZOOM_ZAK_USER"] = "ghost@example.com"
	out, err = doctorRun()
	if err == nil || !strings.Contains(out, "[FAIL] ZAK user: Zoom has no user ghost@example.com") {
		t.Errorf("unknown user: got %v\n%s", err, out)
	}
	delete(env, "CALLBACK_SECRETS")
	out, err = doctorRun()
	if err == nil || !strings.Contains(out, "[FAIL] configuration: CALLBACK_SECRETS") {
		t.Errorf("bad configuration: got %v\n%s", err, out)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	inst := start(t, sdkEnv())
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(inst.url, "http://"))
	check := func(port string) error {
		return run(context.Background(), []string{"zoomtoken", "healthcheck"}, func(k string) string {
			return map[string]string{"PORT": port}[k]
		}, io.Discard, io.Discard)
	}
	if err := check(port); err != nil {
		t.Errorf("a serving instance: got %v, want nil", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closed, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	if err := check(closed); err == nil {
		t.Error("nothing listening: got nil, want an error")
	}
}

// With SHUTDOWN_DELAY, SIGTERM first makes /readyz fail while the service still serves: a
// connection opened during the delay gets its answer; then the drain runs and run returns.
func TestShutdownDelayKeepsServingWhileNotReady(t *testing.T) {
	env := sdkEnv()
	env["SHUTDOWN_DELAY"] = "1s"
	inst := start(t, env)
	if resp, err := http.Get(inst.url + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz before SIGTERM: %v %v", resp, err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(inst.stdout.String(), "not ready, still serving") })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // a new connection each time
	resp, err := client.Get(inst.url + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the delay: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = client.Post(inst.url+"/", "application/json", strings.NewReader(`{"meetingNumber":"1","role":0}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a new connection during the delay was not served: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err := client.Get(inst.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz during the delay: %v %v", resp, err)
	}
	select {
	case err := <-inst.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		inst.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the delay and the drain")
	}
}

func TestMetricsAddrOnTheServicesOwnPortRefusesToStart(t *testing.T) {
	for _, metricsAddr := range []string{":4567", "127.0.0.1:4567", "0.0.0.0:4567"} {
		env := sdkEnv()
		env["METRICS_ADDR"] = metricsAddr
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"zoomtoken", "-addr", "127.0.0.1:4567"}, func(k string) string { return env[k] }, &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") || strings.Contains(stdout.String(), "listening") {
			t.Errorf("METRICS_ADDR %s on the service's address: %v\n%s", metricsAddr, err, stdout.String())
		}
	}
	if !sameListenAddress(":9090", "[::]:9090") || sameListenAddress("127.0.0.1:9090", "127.0.0.2:9090") || sameListenAddress(":9090", ":9091") {
		t.Errorf("sameListenAddress")
	}
}

func TestHelpVersionAndHealthcheckAddr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"zoomtoken", "-h"}, func(string) string { return "" }, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "Usage: zoomtoken") || !strings.Contains(stdout.String(), "ZOOM_MEETING_SDK_KEY") || stderr.Len() != 0 {
		t.Errorf("-h: %v, stdout %d bytes, stderr %q", err, stdout.Len(), stderr.String())
	}
	for _, args := range [][]string{{"zoomtoken", "version"}, {"zoomtoken", "-version"}} {
		stdout.Reset()
		if err := run(context.Background(), args, func(string) string { return "" }, &stdout, io.Discard); err != nil ||
			strings.TrimSpace(stdout.String()) != "zoomtoken "+version {
			t.Errorf("%v: %v %q", args, err, stdout.String())
		}
	}
	inst := start(t, sdkEnv())
	addr := strings.TrimPrefix(inst.url, "http://")
	if err := run(context.Background(), []string{"zoomtoken", "-addr", addr, "healthcheck"}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck -addr %s: %v", addr, err)
	}
	if err := run(context.Background(), []string{"zoomtoken", "-addr", "127.0.0.1:1", "healthcheck"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Errorf("healthcheck of a port nothing listens on passed")
	}
}

func TestTuneGCSetsDefaultsTheEnvironmentLeavesOpen(t *testing.T) {
	gogc := debug.SetGCPercent(100)
	memLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(memLimit)
	})

	tuneGC(func(string) string { return "" }, 1<<30)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC unset: the GC percent is %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 3<<28 {
		t.Errorf("in a 1 GiB container: the soft memory limit is %d, want three quarters of it", got)
	}

	tuneGC(func(string) string { return "" }, 0)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with no container limit, a soft limit of %d was set", got)
	}
	debug.SetGCPercent(100)

	operator := map[string]string{"GOGC": "50", "GOMEMLIMIT": "100MiB"}
	tuneGC(func(k string) string { return operator[k] }, 1<<30)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("the operator's GOGC was overridden with %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("the operator's GOMEMLIMIT was overridden with %d", got)
	}
}

func TestCommandLine(t *testing.T) {
	noEnv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"zoomtoken", "serv"}, noEnv, &stdout, &stderr)
	var shown quietError
	if !errors.As(err, &shown) || !strings.HasPrefix(stderr.String(), `zoomtoken: unknown command "serv"; the commands are serve, doctor`) ||
		strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("an unknown command: %v, stderr %q: want one line, said once", err, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), []string{"zoomtoken", "connect-link", "-h"}, noEnv, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "zoomtoken connect-link") || !strings.Contains(stdout.String(), "-ttl") || strings.Contains(stdout.String(), "doctor") {
		t.Errorf("connect-link -h: %v\n%s", err, stdout.String())
	}
	// serve is the default command, named or not: both get as far as the configuration.
	for _, args := range [][]string{{"zoomtoken"}, {"zoomtoken", "serve"}} {
		err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
		if err == nil || strings.Contains(err.Error(), "unknown command") {
			t.Errorf("%v: %v", args, err)
		}
	}
	for in, want := range map[string]time.Duration{"86400": 24 * time.Hour, "90m": 90 * time.Minute, "1": time.Second} {
		var d secondsOrDuration
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("-ttl %s: %v %v", in, time.Duration(d), err)
		}
	}
	var d secondsOrDuration
	if err := d.Set("soon"); err == nil {
		t.Error("-ttl soon accepted")
	}
}

// With nothing configured, start-up says where it looked and how to begin, with no variable
// name in front of the reason.
func TestNoConfigurationSaysWhereItLooked(t *testing.T) {
	t.Chdir(t.TempDir())
	err := run(context.Background(), []string{"zoomtoken"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "looked for ") || !strings.Contains(err.Error(), ".env (not found)") ||
		!strings.Contains(err.Error(), "cp .env.example .env") || strings.Contains(err.Error(), "ZOOM_MEETING_SDK_KEY: no feature") {
		t.Errorf("got %v", err)
	}
}

func TestBodyBudgetFollowsTheMemoryGiven(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)
	for limit, want := range map[int64]int64{0: httpapi.DefaultBodyBudget, 64 << 20: 16 << 20, 8 << 20: 4 << 20, 1 << 30: 256 << 20} {
		if got := bodyBudget(limit); got != want {
			t.Errorf("container limit %d MiB: %d MiB, want %d MiB", limit>>20, got>>20, want>>20)
		}
	}
	debug.SetMemoryLimit(48 << 20) // GOMEMLIMIT=48MiB, as the Kubernetes manifest sets it
	if got := bodyBudget(0); got != 16<<20 {
		t.Errorf("GOMEMLIMIT=48MiB and no container limit: %d MiB, want 16", got>>20)
	}
	if got := bodyBudget(24 << 30); got != 16<<20 {
		t.Errorf("GOMEMLIMIT=48MiB in a 24 GiB container: %d MiB, want 16 (the smaller)", got>>20)
	}
}
