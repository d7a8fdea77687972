// Package events delivers the outbox's events (connection and RTMS stream events) to the operator's
// EVENTS_URL, signed the Standard Webhooks way (webhook-id, webhook-timestamp,
// webhook-signature), so a receiver verifies them with any Standard Webhooks library. Delivery
// is at least once: an event leaves the outbox only after a 2xx; a failure is retried with
// exponential backoff for a day; one subject's events go out in order; a restart loses none,
// since the outbox is in the database.
package events

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// Delivery outcomes, as Config.Observe is told them.
const (
	Delivered = "delivered"
	Failed    = "failed"
	Dropped   = "dropped"
)

// Defaults for Config's zero values.
const (
	DefaultGiveUpAfter = 25 * time.Hour
	DefaultTimeout     = 10 * time.Second
	lease              = 30 * time.Second
	batch              = 20
	firstRetry         = 5 * time.Second
	maxRetry           = time.Hour
)

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
	// GiveUpAfter is how long an event is retried before it is dropped (logged).
	GiveUpAfter time.Duration
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
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
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
		d.deliver(ctx, s, e)
	}
	return len(due), nil
}

func (d *Deliverer) deliver(ctx context.Context, s outbox.Store, e outbox.Event) {
	log := d.cfg.Logger.With().Str("event_id", e.ID).Str("event", e.Type).Str("subject", e.Subject).Logger()
	if d.cfg.URL == "" {
		d.settle(ctx, s, e, Dropped)
		return
	}
	err := d.post(ctx, e)
	if err == nil {
		d.settle(ctx, s, e, Delivered)
		log.Debug().Int("attempt", e.Attempts).Msg("event delivered")
		return
	}
	if d.cfg.Now().Sub(e.CreatedAt) > d.cfg.GiveUpAfter {
		log.Error().Err(err).Int("attempts", e.Attempts).Msg("event dropped: EVENTS_URL kept failing")
		d.settle(ctx, s, e, Dropped)
		return
	}
	retryAt := d.cfg.Now().Add(backoff(e.Attempts))
	log.Warn().Err(err).Int("attempt", e.Attempts).Time("retry_at", retryAt).Msg("event not delivered; will retry")
	d.cfg.Observe(Failed)
	if err := s.EventFailed(ctx, e.ID, retryAt, err.Error()); err != nil {
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

// post sends one event. The webhook-id is the event's own, the same on every attempt, so the
// receiver can deduplicate.
func (d *Deliverer) post(ctx context.Context, e outbox.Event) error {
	now := time.Now() // the wall clock the receiver checks the timestamp against, not the scheduling clock
	body := e.Payload
	if d.cfg.Complete != nil {
		var err error
		if body, err = d.cfg.Complete(e); err != nil {
			return err
		}
	}
	signature, err := d.cfg.Signer.Sign(e.ID, now, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(standardwebhooks.HeaderWebhookID, e.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("no answer from EVENTS_URL")
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("EVENTS_URL answered %d", resp.StatusCode)
	}
	return nil
}

// backoff is the wait before attempt n+1: 5 s doubling to an hour, with jitter so a recovering
// receiver is not hit by every event at once.
func backoff(attempts int) time.Duration {
	d := firstRetry << min(max(attempts-1, 0), 20)
	d = min(d, maxRetry)
	return d - d/5 + rand.N(d/5*2+1)
}
