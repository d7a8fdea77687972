// Package connlimit caps how many client connections an HTTP server holds, so a flood of held
// connections cannot grow memory without bound (each costs about 20 KB: two buffers and a
// goroutine). Past the cap a new connection waits, except that idle keep-alive connections (and
// connections silent for a second since they opened) are closed to make room for it: a health
// probe or a real caller is served at once rather than queued behind idle ones.
package connlimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// silentGrace is how long a new connection may say nothing before it may be closed for another.
const silentGrace = time.Second

// Limiter counts a server's connections. Use its Listener and set its ConnState as the server's.
type Limiter struct {
	max int

	mu    sync.Mutex
	freed *sync.Cond
	conns map[net.Conn]*state
}

type state struct {
	idle     bool
	accepted time.Time
}

// New returns a limiter of max connections.
func New(max int) *Limiter {
	l := &Limiter{max: max, conns: map[net.Conn]*state{}}
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
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := ln.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.conns) >= l.max {
		if victim := l.evictable(); victim != nil {
			delete(l.conns, victim)
			victim.Close()
			break
		}
		// Woken when a connection closes or turns idle, or to look again: silent ones become
		// evictable with time alone.
		t := time.AfterFunc(100*time.Millisecond, l.freed.Broadcast)
		l.freed.Wait()
		t.Stop()
	}
	l.conns[c] = &state{accepted: time.Now()}
	return c, nil
}

// evictable returns an idle connection, or one that has been silent since it opened for longer
// than silentGrace; nil when every connection is busy.
func (l *Limiter) evictable() net.Conn {
	now := time.Now()
	var silent net.Conn
	for c, s := range l.conns {
		if s.idle {
			return c
		}
		if silent == nil && s.accepted.Before(now.Add(-silentGrace)) && !s.active() {
			silent = c
		}
	}
	return silent
}

// active is set once the connection has carried a request (StateActive clears accepted).
func (s *state) active() bool { return s.accepted.IsZero() }

// ConnState tracks each connection's state; set it as http.Server.ConnState.
func (l *Limiter) ConnState(c net.Conn, cs http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.conns[c]
	switch cs {
	case http.StateActive:
		if ok {
			s.idle, s.accepted = false, time.Time{}
		}
	case http.StateIdle:
		if ok {
			s.idle = true
		}
		l.freed.Broadcast()
	case http.StateClosed, http.StateHijacked:
		if ok {
			delete(l.conns, c)
		}
		l.freed.Broadcast()
	}
}
