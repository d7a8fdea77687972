// Package events delivers the outbox's events (connection and RTMS stream events) to the operator's
// EVENTS_URL, signed the Standard Webhooks way (webhook-id, webhook-timestamp,
// webhook-signature), so a receiver verifies them with any Standard Webhooks library. Delivery
// is at least once: an event leaves the outbox only after a 2xx; a failure is retried on a
// schedule spanning about three days (sooner never than a 429's or 503's Retry-After asks),
// then kept as failed for an operator to replay; a 410 Gone pauses every delivery until an
// operator resumes it; one subject's pending events go out in order; a restart loses none,
// since the outbox is in the database.
package events

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// Delivery outcomes, as Config.Observe is told them.
const (
	Delivered = "delivered"
	Failed    = "failed"
	// Exhausted: the retries ran out and the event is kept as failed.
	Exhausted = "exhausted"
	// Paused: the receiver answered 410 Gone and delivery is paused.
	Paused = "paused"
	// Dropped: no EVENTS_URL is set, so the event leaves the outbox unsent.
	Dropped = "dropped"
)

// DefaultTimeout is how long one delivery may take when Config.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

const (
	lease = 30 * time.Second
	batch = 20
	// maxRetryAfter caps how long a receiver's Retry-After can hold an event back.
	maxRetryAfter = 24 * time.Hour
)

// retrySchedule is the wait before each retry of an event whose delivery failed: Standard
// Webhooks' and Svix's schedule, stretched to about three days (71 h 35 min in all) so a
// receiver down over a weekend loses nothing. Each wait gets ±20% jitter, so a recovering
// receiver is not hit by every event at once. After its last entry the event is kept as failed.
var retrySchedule = [...]time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 14 * time.Hour, 14 * time.Hour, 16 * time.Hour,
}

// MaxAttempts is how many deliveries of an event are tried before it is kept as failed.
const MaxAttempts = len(retrySchedule) + 1

// Config configures a Deliverer.
type Config struct {
	// Store holds the outbox; one whose database has not answered yet fails each claim, and
	// the next tick tries again.
	Store outbox.Store
	// URL is EVENTS_URL; empty drops events (they are recorded whether or not anyone listens).
	URL string
	// Signer signs each delivery with EVENTS_SIGNING_SECRET.
	Signer *standardwebhooks.Webhook
	// HTTPClient posts the events; one with a timeout when nil.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Complete, when set, returns the body to send for an event: what the outbox holds, with
	// anything not kept at rest added (an RTMS stream's signature). It must give the same bytes
	// on every attempt.
	Complete func(outbox.Event) ([]byte, error)
	// Observe, when set, is told each delivery's outcome.
	Observe func(outcome string)
	Logger  zerolog.Logger
}

// Deliverer sends the outbox's events. It is safe to run in several processes at once: each
// event is claimed by one at a time.
type Deliverer struct {
	cfg Config
}

// New returns a Deliverer.
func New(cfg Config) *Deliverer {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	return &Deliverer{cfg: cfg}
}

// Run delivers due events every interval until ctx ends.
func (d *Deliverer) Run(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		for {
			n, err := d.DeliverDue(ctx)
			if err != nil || n < batch {
				break // caught up (or the database is down): wait for the next tick
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// DeliverDue claims the events due now (at most one per subject, its oldest) and delivers
// them, and returns how many it claimed.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	s := d.cfg.Store
	now := d.cfg.Now()
	due, err := s.ClaimEvents(ctx, now, lease, batch)
	if err != nil {
		return 0, err
	}
	for _, e := range due {
		if paused := d.deliver(ctx, s, e); paused {
			// The rest of the batch is not sent to a receiver that is gone: their claims lapse
			// and they wait, like every other event, for delivery to resume.
			break
		}
	}
	return len(due), nil
}

// deliver sends one event and records what came of it; it reports whether the receiver
// paused delivery.
func (d *Deliverer) deliver(ctx context.Context, s outbox.Store, e outbox.Event) (paused bool) {
	log := d.cfg.Logger.With().Str("event_id", e.ID).Str("event", e.Type).Str("subject", e.Subject).Logger()
	if d.cfg.URL == "" {
		d.settle(ctx, s, e, Dropped)
		return false
	}
	answer := d.post(ctx, e)
	if answer.err == nil {
		d.settle(ctx, s, e, Delivered)
		log.Debug().Int("attempt", e.Attempts).Msg("event delivered")
		return false
	}
	now := d.cfg.Now()
	reason := answer.err.Error()
	switch {
	case answer.status == http.StatusGone:
		// The receiver says it is gone for good: retrying every event for three days would only
		// exhaust them all. Delivery waits, this event first in line, for an operator.
		d.cfg.Observe(Paused)
		log.Error().Int("attempt", e.Attempts).
			Msg("EVENTS_URL answered 410 Gone: event delivery paused; POST /admin/events/retry resumes it")
		if err := s.PauseDelivery(ctx, now, reason); err != nil {
			log.Warn().Err(err).Msg("recording the pause failed; the next delivery will ask the receiver again")
		}
		d.failed(ctx, s, e, now, reason, log)
		return true
	case e.Attempts >= MaxAttempts:
		d.cfg.Observe(Exhausted)
		log.Error().Str("reason", reason).Int("attempts", e.Attempts).
			Msg("event kept as failed: EVENTS_URL kept failing for about three days; POST /admin/events/retry replays it")
		if err := s.EventExhausted(ctx, e.ID, now, reason); err != nil {
			log.Warn().Err(err).Msg("recording the exhausted event failed; the claim's lease will expire instead")
		}
	default:
		d.cfg.Observe(Failed)
		retryAt := now.Add(max(jitter(retrySchedule[min(max(e.Attempts, 1), len(retrySchedule))-1]), answer.retryAfter))
		log.Warn().Str("reason", reason).Int("attempt", e.Attempts).Time("retry_at", retryAt).Msg("event not delivered; will retry")
		d.failed(ctx, s, e, retryAt, reason, log)
	}
	return false
}

// failed records a failed delivery, to be tried again at retryAt.
func (d *Deliverer) failed(ctx context.Context, s outbox.Store, e outbox.Event, retryAt time.Time, reason string, log zerolog.Logger) {
	if err := s.EventFailed(ctx, e.ID, retryAt, reason); err != nil {
		log.Warn().Err(err).Msg("recording the failed delivery failed; the claim's lease will expire instead")
	}
}

func (d *Deliverer) settle(ctx context.Context, s outbox.Store, e outbox.Event, outcome string) {
	if err := s.EventDelivered(ctx, e.ID); err != nil {
		// The claim's lease ends and the event is sent again: at least once.
		d.cfg.Logger.Warn().Str("event_id", e.ID).Err(err).Msg("removing a settled event from the outbox failed")
		return
	}
	d.cfg.Observe(outcome)
}

// answer is what came of one delivery: err is nil for a 2xx; status is the receiver's HTTP
// status (0 without one); retryAfter is how long a 429 or 503 asked to wait.
type answer struct {
	err        error
	status     int
	retryAfter time.Duration
}

// post sends one event. The webhook-id is the event's own, the same on every attempt, so the
// receiver can deduplicate.
func (d *Deliverer) post(ctx context.Context, e outbox.Event) answer {
	now := time.Now() // the wall clock the receiver checks the timestamp against, not the scheduling clock
	body := e.Payload
	if d.cfg.Complete != nil {
		var err error
		if body, err = d.cfg.Complete(e); err != nil {
			return answer{err: err}
		}
	}
	signature, err := d.cfg.Signer.Sign(e.ID, now, body)
	if err != nil {
		return answer{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(standardwebhooks.HeaderWebhookID, e.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return answer{err: fmt.Errorf("no answer from EVENTS_URL")}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return answer{status: resp.StatusCode}
	}
	a := answer{err: fmt.Errorf("EVENTS_URL answered %d", resp.StatusCode), status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		a.retryAfter = RetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return a
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date, as a wait from now,
// capped at a day; 0 when it is absent or unreadable.
func RetryAfter(header string, now time.Time) time.Duration {
	var wait time.Duration
	if seconds, err := strconv.ParseUint(header, 10, 32); err == nil {
		wait = time.Duration(seconds) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		wait = at.Sub(now)
	}
	return min(max(wait, 0), maxRetryAfter)
}

// jitter spreads a wait by ±20%.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + rand.N(d/5*2+1)
}
