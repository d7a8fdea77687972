package connlimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func serve(tb testing.TB, max int) (*Limiter, string) {
	tb.Helper()
	l := New(max)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/body":
			done := ReadingBody(r.Context())
			io.ReadAll(r.Body)
			done()
			time.Sleep(2 * time.Second) // then busy, as a handler waiting on Zoom: never evicted
		}
		io.WriteString(w, "ok")
	}), ConnState: l.ConnState, ConnContext: l.ConnContext, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l.Listener(ln))
	tb.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

// keepAlive opens a connection, makes one request on it, and leaves it open and idle.
func keepAlive(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	return c
}

func TestIdleConnectionsMakeRoom(t *testing.T) {
	l, addr := serve(t, 10)
	var held []net.Conn
	for range 10 {
		held = append(held, keepAlive(t, addr))
	}
	time.Sleep(50 * time.Millisecond)
	if got := l.Held(); got != 10 {
		t.Fatalf("%d held, want 10", got)
	}
	// At the cap, a new caller is served at once: an idle connection is closed for it.
	began := time.Now()
	resp, err := (&http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a new caller at the cap: %v %v", resp, err)
	}
	resp.Body.Close()
	if took := time.Since(began); took > time.Second {
		t.Errorf("served after %v", took)
	}
	if got := l.Held(); got > 10 {
		t.Errorf("%d held, over the cap of 10", got)
	}
	for _, c := range held {
		c.Close()
	}
}

func TestBusyConnectionsAreNeverClosed(t *testing.T) {
	l, addr := serve(t, 2)
	done := make(chan string, 2)
	for range 2 {
		go func() {
			resp, err := http.Get("http://" + addr + "/slow")
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- string(b)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	// A third caller waits for room rather than breaking a request in flight.
	resp, err := (&http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the third caller: %v %v", resp, err)
	}
	resp.Body.Close()
	for range 2 {
		if got := <-done; !strings.Contains(got, "ok") {
			t.Errorf("a request in flight was broken: %q", got)
		}
	}
	if l.Held() > 2 {
		t.Errorf("over the cap")
	}
}

func TestSilentConnectionsGiveWayAfterAGrace(t *testing.T) {
	_, addr := serve(t, 3)
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // says nothing
	}
	began := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("behind silent connections: %v %v", resp, err)
	}
	resp.Body.Close()
	if took := time.Since(began); took > 2500*time.Millisecond {
		t.Errorf("served after %v, want about the one-second grace", took)
	}
}

func TestAcceptedConnectionsCanHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	limited := New(4).Listener(ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := limited.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("an accepted connection cannot half-close")
	}
	io.WriteString(server, "answer")
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(client) // ends at the FIN, while the server can still read
	if err != nil || string(got) != "answer" {
		t.Fatalf("read %q, %v", got, err)
	}
	io.WriteString(client, "still open")
	buf := make([]byte, 10)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "still open" {
		t.Errorf("after the half-close the server read %q, %v", buf, err)
	}
}

// At the cap, a connection whose request body has brought nothing for a second is closed for a
// new one; a connection whose body is in and whose handler is busy is not.
func TestStalledBodiesGiveWay(t *testing.T) {
	l, addr := serve(t, 2)
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprint(stalled, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprint(busy, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
	// Real TCP (the server's own read deadlines decide), so a bounded wait rather than synctest.
	for deadline := time.Now().Add(10 * time.Second); l.Held() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections, want 2", l.Held())
		}
	}
	// A third caller gets in once the stalled body has given way.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a new caller at the cap: %v", err)
	}
	resp.Body.Close()
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := stalled.Read(make([]byte, 1)); err == nil {
		t.Error("the stalled connection is still open")
	}
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	if answer, err := http.ReadResponse(bufio.NewReader(busy), nil); err != nil || answer.StatusCode != 200 {
		t.Errorf("the busy connection: %v %v, want its answer", answer, err)
	}
}
