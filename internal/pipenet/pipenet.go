// Package pipenet is an in-memory network for HTTP tests that run inside a testing/synctest
// bubble. There, time moves only when every goroutine of the bubble waits on something the
// bubble controls, such as a channel or a timer; a goroutine reading a real socket never does,
// so a server on loopback would stop the fake clock. net.Pipe connections are made of channels,
// which the bubble controls: an emulated Zoom served here lets a test of retries, rate limits
// and timeouts run its minutes of backoff in no real time.
package pipenet

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
)

// Listener is a net.Listener whose connections come from its own Dial.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Listen returns a listener that nothing has dialled yet.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Dial.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr names the listener; it is the same for every one.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial connects to the listener, whatever the address; it has the shape of
// http.Transport.DialContext.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "pipenet" }

// Serve serves h on a new listener until the test ends, and returns the base URL to give the
// code under test and a transport that reaches it. Everything it starts has stopped when the
// test's cleanups have run, as a synctest bubble requires.
func Serve(tb testing.TB, h http.Handler) (baseURL string, transport *http.Transport) {
	tb.Helper()
	l := Listen()
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	transport = &http.Transport{DialContext: l.Dial}
	tb.Cleanup(func() {
		transport.CloseIdleConnections()
		srv.Close()
		<-served
	})
	return "http://zoom.pipenet", transport
}
