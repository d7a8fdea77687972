package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/vend"
)

// While slow senders hold the budget for bodies read before their caller is known, another such
// request is answered 503 at once, its body unread; once they are done, it is served again.
func TestBodiesBeforeAuthenticationShareABudget(t *testing.T) {
	srv := newTestServer(t, Deps{BodyBudget: 4 << 10, App: vend.App{WebhookTokens: []string{webhookToken}}})
	// A stranger starts a 3 KiB webhook body and sends it slowly.
	body, sender := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/zoom", body)
	req.ContentLength = 3 << 10
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- nil
			return
		}
		slow <- resp
	}()
	sender.Write([]byte(strings.Repeat("x", 100)))
	// Until the server has reserved the budget, a second request may still get in: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	var resp *http.Response
	var got string
	for time.Now().Before(deadline) {
		resp, got = srv.do(t, http.MethodPost, "/webhooks/zoom", header("Content-Length", strconv.Itoa(3<<10)), strings.Repeat("y", 3<<10))
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(got, "too many request bodies") {
		t.Fatalf("with the budget taken: %d %q Retry-After %q", resp.StatusCode, got, resp.Header.Get("Retry-After"))
	}
	// POST / answers in its own shape.
	if resp, got := srv.do(t, http.MethodPost, "/", header("Content-Type", "application/json"), strings.Repeat(" ", 2<<10)+"{}"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(got, `"property":"server"`) {
		t.Errorf("POST / with the budget taken: %d %s", resp.StatusCode, got)
	}
	sender.Close() // the slow one ends (short): its reservation ends with it
	if r := <-slow; r != nil {
		r.Body.Close()
	}
	if resp, _ := srv.do(t, http.MethodPost, "/webhooks/zoom", nil, `{"event":"x"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the slow sender: %d, want 401 (unsigned, but read)", resp.StatusCode)
	}
}
