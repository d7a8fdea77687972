package httpapi

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connlimit"
	"golang.org/x/sync/semaphore"
)

// bodyReadDeadline bounds how long a caller may take to send a body that is read before it is
// known who the caller is: a slow sender otherwise holds its share of the budget below for as long
// as the server's read timeout allows.
const bodyReadDeadline = 5 * time.Second

// DefaultBodyBudget is the memory for request bodies read before their caller is known, when
// Deps.BodyBudget is zero.
const DefaultBodyBudget = 32 << 20

// errBodiesBusy answers a request whose body would take the pre-authentication budget over.
var errBodiesBusy = &requestError{status: http.StatusServiceUnavailable, retryAfter: 1,
	reason: "too many request bodies are being read at once; retry in a second"}

// bodyBudget bounds the memory of request bodies read before their caller is known (POST /, the
// signature of a webhook or a callback is checked only once its body is read): a stranger
// sending large bodies slowly on many connections can take this much and no more.
type bodyBudget struct {
	sem *semaphore.Weighted
}

func newBodyBudget(bytes int64) bodyBudget {
	if bytes <= 0 {
		bytes = DefaultBodyBudget
	}
	return bodyBudget{sem: semaphore.NewWeighted(bytes)}
}

// limit reserves, for the request's body, its Content-Length (at most max), or max when the
// length is not said, and gives the caller bodyReadDeadline to send it; a request the budget
// cannot take now is answered 503 with Retry-After at once, its body unread. The reservation ends
// with the handler.
// fail writes the 503 in the route's own shape.
func (b bodyBudget) limit(max int64, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			size := max
			if r.ContentLength >= 0 && r.ContentLength < max {
				size = r.ContentLength + 1 // +1: the read past the length that tells the body ended
			}
			if !b.sem.TryAcquire(size) {
				w.Header().Set("Connection", "close") // the unread body cannot be skipped cheaply
				fail(w, r, errBodiesBusy)
				return
			}
			defer b.sem.Release(size)
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(bodyReadDeadline))
			// Until the body is in, a stalled sender's connection may be closed for a new one.
			unmark := connlimit.ReadingBody(r.Context())
			r.Body = &bodyInFlight{ReadCloser: r.Body, done: func() {
				unmark()
				rc.SetReadDeadline(time.Time{}) // the body is in: the server's own timeouts again
			}}
			next.ServeHTTP(w, r)
		})
	}
}

// bodyInFlight tells the connection limiter when the body has been read (or has failed), so that
// a handler waiting on Zoom afterwards is never taken for a stalled sender.
type bodyInFlight struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (b *bodyInFlight) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *bodyInFlight) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}
