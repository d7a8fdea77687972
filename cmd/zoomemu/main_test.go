package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// startEmu runs the command on a free loopback port and returns its base URL.
func startEmu(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"zoomemu", "-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, w, io.Discard)
		w.Close()
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run: %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("no banner: %v", err)
	}
	go io.Copy(io.Discard, out)
	_, base, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok {
		tb.Fatalf("banner: %q", line)
	}
	return base
}

func post(tb testing.TB, url, contentType, body string, basicAuth ...string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if len(basicAuth) == 2 {
		req.SetBasicAuth(basicAuth[0], basicAuth[1])
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEmulatorCommandServesAndTakesFaults(t *testing.T) {
	base := startEmu(t, "-client-id", "cid", "-client-secret", "csecret", "-account-id", "acc")
	form := "grant_type=account_credentials&account_id=acc"
	if status, body := post(t, base+"/oauth/token", "application/x-www-form-urlencoded", form, "cid", "csecret"); status != 200 ||
		!strings.Contains(body, `"api_url":"`+base+`"`) {
		t.Fatalf("token: %d %s", status, body)
	}
	if status, body := post(t, base+"/_emu/fault?endpoint=oauth_token&fault=server_error&count=1", "", ""); status != 200 {
		t.Fatalf("fault: %d %s", status, body)
	}
	if status, _ := post(t, base+"/oauth/token", "application/x-www-form-urlencoded", form, "cid", "csecret"); status != 500 {
		t.Errorf("scripted fault: got %d, want 500", status)
	}
	if status, _ := post(t, base+"/oauth/token", "application/x-www-form-urlencoded", form, "cid", "csecret"); status != 200 {
		t.Errorf("after the fault: got %d, want 200", status)
	}
	if status, _ := post(t, base+"/_emu/fault?endpoint=nowhere&fault=hang", "", ""); status != 400 {
		t.Errorf("unknown endpoint: got %d, want 400", status)
	}
	resp, err := http.Get(base + "/_emu/calls")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "oauth_token 3") {
		t.Errorf("calls: %s", b)
	}
}

func TestEmulatorCommandRejectsBadMeetings(t *testing.T) {
	err := run(context.Background(), []string{"zoomemu", "-addr", "127.0.0.1:0", "-meetings", "12,abc"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "abc") {
		t.Errorf("got %v, want an error naming abc", err)
	}
}

func TestEmulatorCommandRejectsBadUsersAndListsEveryEndpoint(t *testing.T) {
	for _, users := range []string{"bad", "u-1:", ":a@b.c", "u 1:a@b.c"} {
		if err := run(context.Background(), []string{"zoomemu", "-addr", "127.0.0.1:0", "-users", users},
			func(string) string { return "" }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-users") {
			t.Errorf("-users %q: %v", users, err)
		}
	}
	var help strings.Builder
	run(context.Background(), []string{"zoomemu", "-h"}, func(string) string { return "" }, io.Discard, &help)
	for _, ep := range strings.Split(endpointNames(), "|") {
		if !strings.Contains(help.String(), ep) {
			t.Errorf("zoomemu -h does not list the fault endpoint %s", ep)
		}
	}
}

func TestEmulatorCommandConnectsUsers(t *testing.T) {
	base := startEmu(t, "-users", "u-1:a@example.com", "-hosts", "u-1:111+222", "-auto-approve", "u-1")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// challenge of the verifier "v" * 43
	const verifier = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
	const challenge = "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM"
	resp, err := noFollow.Get(base + "/oauth/authorize?response_type=code&client_id=emu-oauth-client&redirect_uri=http://app/cb&state=s&code_challenge=" +
		challenge + "&code_challenge_method=S256")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	_, code, ok := strings.Cut(loc, "code=")
	code, _, _ = strings.Cut(code, "&")
	if resp.StatusCode != http.StatusFound || !ok {
		t.Fatalf("authorize: %d %q", resp.StatusCode, loc)
	}
	status, body := post(t, base+"/oauth/token", "application/x-www-form-urlencoded",
		"grant_type=authorization_code&code="+code+"&redirect_uri=http://app/cb&code_verifier="+verifier, "emu-oauth-client", "emu-oauth-client-secret")
	if status != 200 || !strings.Contains(body, `"refresh_token":"emu_rt_`) {
		t.Fatalf("exchange: %d %s", status, body)
	}
	if status, body := post(t, base+"/_emu/users/u-1/kill-refresh", "text/plain", ""); status != 200 || !strings.Contains(body, "killed") {
		t.Errorf("kill-refresh: %d %s", status, body)
	}
	resp, err = http.Get(base + "/_emu/calls")
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(calls), "oauth_authorize 1") || !strings.Contains(string(calls), "stale_refreshes 0") {
		t.Errorf("calls: %s", calls)
	}
}

// /_emu/approve approves one consent: the next person to open a connect link sees the page.
func TestApproveIsOneShot(t *testing.T) {
	base := startEmu(t, "-users", "u-1:bot@example.com")
	if status, body := post(t, base+"/_emu/approve?user=u-1", "", ""); status != 200 || !strings.Contains(body, "the one after shows the page") {
		t.Fatalf("%d %q", status, body)
	}
	authorize := base + "/oauth/authorize?response_type=code&client_id=emu-oauth-client&redirect_uri=http://127.0.0.1:1/cb&state=s&code_challenge=c&code_challenge_method=S256"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []int{http.StatusFound, http.StatusOK} {
		resp, err := noFollow.Get(authorize)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("consent %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// A meeting.created webhook sent through the control changes the emulator's Zoom too: the
// meeting then exists, and meeting.deleted takes it away.
func TestWebhookControlSchedulesTheMeeting(t *testing.T) {
	hook := make(chan string, 2)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hook <- string(b)
	}))
	defer receiver.Close()
	base := startEmu(t, "-users", "u-1:bot@example.com", "-meetings", "123456789")
	joinToken := func() int {
		status, body := post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=account_credentials&account_id=emu-account", "emu-client", "emu-client-secret")
		if status != 200 {
			t.Fatalf("token: %d %s", status, body)
		}
		token := body[strings.Index(body, `"access_token":"`)+16:]
		token = token[:strings.Index(token, `"`)]
		req, _ := http.NewRequest(http.MethodGet, base+"/v2/meetings/555000111/jointoken/local_recording", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := joinToken(); got != 404 {
		t.Fatalf("before the webhook: %d", got)
	}
	if status, body := post(t, base+"/_emu/webhook?event=meeting.created&meeting=555000111&host=u-1&url="+receiver.URL, "", ""); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if body := <-hook; !strings.Contains(body, `"id":555000111`) || !strings.Contains(body, `"host_id":"u-1"`) {
		t.Errorf("webhook body %s", body)
	}
	if got := joinToken(); got != 200 {
		t.Errorf("after meeting.created: %d", got)
	}
	post(t, base+"/_emu/webhook?event=meeting.deleted&meeting=555000111&host=u-1&url="+receiver.URL, "", "")
	<-hook
	if got := joinToken(); got != 404 {
		t.Errorf("after meeting.deleted: %d", got)
	}
}

// Every /_emu/ control the command registers is documented in its -h and in docs/deployment.md.
func TestEveryControlIsDocumented(t *testing.T) {
	source, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	controls := regexp.MustCompile(`HandleFunc\("(?:GET|POST) (/_emu/[^"]+)"`).FindAllSubmatch(source, -1)
	if len(controls) < 10 {
		t.Fatalf("found %d controls", len(controls))
	}
	for _, m := range controls {
		// A path parameter is written U (a user) in -h and u-1 in the docs.
		path := string(m[1])
		usage := strings.ReplaceAll(path, "{user}", "U")
		doc := strings.ReplaceAll(path, "{user}", "u-1")
		if !strings.Contains(usageHeader, usage) {
			t.Errorf("zoomemu -h does not document %s", path)
		}
		if !strings.Contains(string(docs), doc) {
			t.Errorf("docs/deployment.md does not document %s", path)
		}
	}
}

// With -rtms-tls-addr the RTMS sockets are served over wss:// with TLS 1.2 or newer only, and the
// stream's server_urls say so; the controls start a session, fail it over, interrupt and stop it.
func TestRTMSOverTLSAndControls(t *testing.T) {
	webhooks := make(chan map[string]any, 8)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		json.NewDecoder(r.Body).Decode(&ev)
		webhooks <- ev
	}))
	defer receiver.Close()
	base := startEmu(t, "-rtms-tls-addr", "127.0.0.1:0", "-rtms-webhook-url", receiver.URL)
	status, stream := post(t, base+"/_emu/rtms/start?kind=session&id=session-1", "text/plain", "")
	stream = strings.TrimSpace(stream)
	if status != http.StatusOK || len(stream) != 32 {
		t.Fatalf("start: %d %q", status, stream)
	}
	ev := <-webhooks
	payload := ev["payload"].(map[string]any)
	signaling, _ := payload["server_urls"].(string)
	if ev["event"] != "session.rtms_started" || !strings.HasPrefix(signaling, "wss://127.0.0.1:") {
		t.Fatalf("the webhook: %v", ev)
	}
	dial := func(maxVersion uint16) (*websocket.Conn, error) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, signaling, &websocket.DialOptions{HTTPClient: client})
		return c, err
	}
	if c, err := dial(tls.VersionTLS11); err == nil {
		c.CloseNow()
		t.Errorf("a TLS 1.1 client was served")
	}
	c, err := dial(tls.VersionTLS12)
	if err != nil {
		t.Fatalf("a TLS 1.2 client: %v", err)
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mac := hmac.New(sha256.New, []byte("emu-video-sdk-secret"))
	mac.Write([]byte("emu-video-sdk-key,session-1," + stream))
	wsjson.Write(ctx, c, map[string]any{"msg_type": 1, "protocol_version": 1, "session_id": "session-1", "rtms_stream_id": stream,
		"sequence": 1, "signature": hex.EncodeToString(mac.Sum(nil))})
	var answer map[string]any
	if err := wsjson.Read(ctx, c, &answer); err != nil || answer["status_code"] != float64(0) {
		t.Fatalf("the session's handshake over wss: %v %v", answer, err)
	}

	for _, tc := range []struct {
		path   string
		status int
		event  string
	}{
		{"/_emu/rtms/interrupt?stream=" + stream, http.StatusOK, "session.rtms_interrupted"},
		{"/_emu/rtms/failover?stream=" + stream, http.StatusOK, "session.rtms_started"},
		{"/_emu/rtms/stop?stream=" + stream + "&reason=24", http.StatusOK, "session.rtms_stopped"},
		{"/_emu/rtms/failover?stream=0123456789abcdef0123456789abcdef", http.StatusNotFound, ""},
		{"/_emu/rtms/stop?stream=" + stream + "&reason=x", http.StatusNotFound, ""},
		{"/_emu/rtms/start?kind=concert&id=1", http.StatusBadRequest, ""},
	} {
		if status, body := post(t, base+tc.path, "text/plain", ""); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.path, status, body, tc.status)
		}
		if tc.event == "" {
			continue
		}
		select {
		case ev := <-webhooks:
			if ev["event"] != tc.event {
				t.Errorf("%s sent %v, want %s", tc.path, ev["event"], tc.event)
			}
			if tc.event == "session.rtms_stopped" && ev["payload"].(map[string]any)["stop_reason"] != float64(24) {
				t.Errorf("the stop: %v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s sent no %s", tc.path, tc.event)
		}
	}
}
