package zoomemu

import (
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault is one scripted misbehaviour of an endpoint. Build them with the functions below.
type Fault struct {
	status int
	header http.Header
	body   string
	hang   bool
	reset  bool
	// slow delays a request that is then answered as usual.
	slow time.Duration
}

// ServerError answers 500 with Zoom's error body.
func ServerError() Fault {
	return Fault{status: http.StatusInternalServerError, body: `{"code":500,"message":"Internal server error."}`}
}

// Status answers with any status and raw body.
func Status(status int, body string) Fault { return Fault{status: status, body: body} }

// RateLimitedPerSecond answers 429 for the per-second (QPS) limit, with retryAfter as the
// Retry-After header (empty: no header).
func RateLimitedPerSecond(retryAfter string) Fault {
	return rateLimited("QPS", retryAfter,
		`{"code":429,"message":"You have reached the maximum per-second rate limit for this API. Try again later."}`)
}

// RateLimitedDaily answers 429 for the daily limit, with retryAfter as the Retry-After header
// (empty: no header; Zoom sends an ISO-8601 instant).
func RateLimitedDaily(retryAfter string) Fault {
	return rateLimited("Daily-limit", retryAfter,
		`{"code":429,"message":"You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."}`)
}

func rateLimited(limitType, retryAfter, body string) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Category", "Light")
	h.Set("X-RateLimit-Type", limitType)
	h.Set("X-RateLimit-Limit", "30")
	h.Set("X-RateLimit-Remaining", "0")
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return Fault{status: http.StatusTooManyRequests, header: h, body: body}
}

// MalformedJSON answers 200 with a body that is not JSON.
func MalformedJSON() Fault { return Fault{status: http.StatusOK, body: `{"token": "trunc`} }

// EmptyToken answers 200 with an empty token (and an empty access_token on the token endpoint).
func EmptyToken() Fault {
	return Fault{status: http.StatusOK, body: `{"token":"","access_token":"","expire_in":120,"expires_in":3600,"token_type":"bearer"}`}
}

// InvalidAccessToken answers 401 with code 124, as Zoom does for an expired or revoked token.
func InvalidAccessToken() Fault {
	return Fault{status: http.StatusUnauthorized, body: `{"code":124,"message":"Invalid access token."}`}
}

// Hang holds the request without answering until the client gives up or the emulator closes.
func Hang() Fault { return Fault{hang: true} }

// Slow answers as usual, after d: a call still in flight when something else happens (a stop,
// a caller leaving).
func Slow(d time.Duration) Fault { return Fault{slow: d} }

// ConnectionReset drops the connection without answering.
func ConnectionReset() Fault { return Fault{reset: true} }

func (f *Fault) play(w http.ResponseWriter, r *http.Request, closed <-chan struct{}) {
	switch {
	case f.hang:
		select {
		case <-r.Context().Done():
		case <-closed:
		}
	case f.reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetLinger(0) // send RST rather than FIN
		}
		conn.Close()
	default:
		for k, vs := range f.header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(f.status)
		w.Write([]byte(f.body))
	}
}

// rateWindow counts calls in the current fixed window (a second, or a UTC day).
type rateWindow struct {
	start time.Time
	count int
}

// allow applies the account's per-second and daily limits and writes Zoom's rate-limit headers.
// It reports whether the call may proceed; when not, the 429 has been written.
func (e *Emulator) allow(w http.ResponseWriter) bool {
	if e.cfg.RateLimitPerSecond == 0 && e.cfg.DailyLimit == 0 {
		return true
	}
	now := e.cfg.Now()
	e.mu.Lock()
	second, day := now.Truncate(time.Second), now.UTC().Truncate(24*time.Hour)
	if !e.window.start.Equal(second) {
		e.window = rateWindow{start: second}
	}
	if !e.day.start.Equal(day) {
		e.day = rateWindow{start: day}
	}
	overDaily := e.cfg.DailyLimit > 0 && e.day.count >= e.cfg.DailyLimit
	overSecond := e.cfg.RateLimitPerSecond > 0 && e.window.count >= e.cfg.RateLimitPerSecond
	if !overDaily && !overSecond {
		e.window.count++
		e.day.count++
	}
	remaining := e.cfg.RateLimitPerSecond - e.window.count
	e.mu.Unlock()

	var f Fault
	switch {
	case overDaily:
		f = RateLimitedDaily(day.Add(24 * time.Hour).Format(time.RFC3339))
	case overSecond:
		f = RateLimitedPerSecond("1")
		f.header.Set("X-RateLimit-Limit", strconv.Itoa(e.cfg.RateLimitPerSecond))
	default:
		if e.cfg.RateLimitPerSecond > 0 {
			w.Header().Set("X-RateLimit-Category", "Light")
			w.Header().Set("X-RateLimit-Type", "QPS")
			w.Header().Set("X-RateLimit-Limit", strconv.Itoa(e.cfg.RateLimitPerSecond))
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		}
		return true
	}
	f.play(w, nil, nil)
	return false
}
