// Package connlimit caps how many client TCP connections (sockets, not the connected Zoom
// accounts of package connections) an HTTP server holds, so a flood of held
// connections cannot grow memory without bound (each costs about 28 KiB: two buffers and a
// goroutine). Past the cap a new connection waits, except that idle keep-alive connections,
// connections silent for a second since they opened, and connections whose request body has
// stalled for a second are closed to make room for it: a health probe or a real caller is served
// at once rather than queued behind idle or slow ones.
package connlimit

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// silentGrace is how long a new connection may say nothing before it may be closed for another.
const silentGrace = time.Second

// Limiter counts a server's connections. Use its Listener and set its ConnState as the server's.
type Limiter struct {
	max int

	mu    sync.Mutex
	freed *sync.Cond
	conns map[net.Conn]*conn
	// waiting counts Accept calls at the cap. A connection turning idle wakes them only when
	// there are any: the per-request state changes are otherwise two atomic stores, not a lock.
	waiting atomic.Int32
}

// conn is an accepted connection and what the limiter knows of it. The server hands it back to
// ConnState, which updates it without taking the limiter's lock.
type conn struct {
	net.Conn
	idle atomic.Bool
	// openedAt is when it was accepted (Unix nanoseconds), zero once it has carried a request.
	openedAt atomic.Int64
	// body says a handler is reading the request's body (ReadingBody), and lastRead is when the
	// connection last brought bytes (Unix nanoseconds).
	body     atomic.Bool
	lastRead atomic.Int64
}

// Read records when the connection last brought bytes, so a body that stalls can be told.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// connKey is the context key of the connection a request came on.
type connKey struct{}

// ConnContext puts the connection in its requests' context; set it as http.Server.ConnContext.
func (l *Limiter) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// ReadingBody marks the request's connection as reading the request body until the returned
// function is called: at the cap, one whose body has brought nothing for a second may be closed
// for a new connection. Outside a limiter's server it does nothing.
func ReadingBody(ctx context.Context) (done func()) {
	c, ok := ctx.Value(connKey{}).(*conn)
	if !ok {
		return func() {}
	}
	c.lastRead.Store(time.Now().UnixNano())
	c.body.Store(true)
	return func() { c.body.Store(false) }
}

// CloseWrite half-closes a TCP connection, which the server does before closing one whose
// request it refused, so the caller reads the answer rather than a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// New returns a limiter of max connections.
func New(max int) *Limiter {
	l := &Limiter{max: max, conns: map[net.Conn]*conn{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// Held returns how many connections are held now.
func (l *Limiter) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Listener wraps inner so Accept honours the cap.
func (l *Limiter) Listener(inner net.Listener) net.Listener { return &listener{Listener: inner, l: l} }

type listener struct {
	net.Listener
	l *Limiter
}

// Accept takes the next connection and makes room for it: at the cap it closes an idle (or
// long-silent) connection, or waits for one to close.
func (ln *listener) Accept() (net.Conn, error) {
	nc, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := ln.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		// Counted before looking, so a connection that turns idle meanwhile either is seen by
		// evictable or sees this waiter and wakes it.
		l.waiting.Add(1)
		defer l.waiting.Add(-1)
	}
	for len(l.conns) >= l.max {
		if victim := l.evictable(); victim != nil {
			delete(l.conns, victim.Conn)
			victim.Close()
			break
		}
		// Woken when a connection closes or turns idle, or to look again: silent ones become
		// evictable with time alone.
		t := time.AfterFunc(100*time.Millisecond, l.freed.Broadcast)
		l.freed.Wait()
		t.Stop()
	}
	c := &conn{Conn: nc}
	c.openedAt.Store(time.Now().UnixNano())
	l.conns[nc] = c
	return c, nil
}

// evictable returns an idle connection, or one that has been silent since it opened, or whose
// request body has brought nothing, for longer than silentGrace; nil when every connection is
// busy.
func (l *Limiter) evictable() *conn {
	silentSince := time.Now().Add(-silentGrace).UnixNano()
	var silent *conn
	for _, c := range l.conns {
		if c.idle.Load() {
			return c
		}
		opened := c.openedAt.Load()
		stalled := c.body.Load() && c.lastRead.Load() < silentSince
		if silent == nil && (opened != 0 && opened < silentSince || stalled) {
			silent = c
		}
	}
	return silent
}

// ConnState tracks each connection's state; set it as http.Server.ConnState.
func (l *Limiter) ConnState(nc net.Conn, cs http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return // not one of this limiter's
	}
	switch cs {
	case http.StateActive:
		c.idle.Store(false)
		c.openedAt.Store(0)
	case http.StateIdle:
		c.idle.Store(true)
		if l.waiting.Load() > 0 {
			l.wake()
		}
	case http.StateClosed, http.StateHijacked:
		l.mu.Lock()
		delete(l.conns, c.Conn)
		l.freed.Broadcast()
		l.mu.Unlock()
	}
}

func (l *Limiter) wake() {
	l.mu.Lock()
	l.freed.Broadcast()
	l.mu.Unlock()
}
