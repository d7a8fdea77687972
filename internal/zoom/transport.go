package zoom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Defaults for Config's zero values.
const (
	DefaultBudget         = 10 * time.Second
	DefaultAttemptTimeout = 5 * time.Second
	DefaultMaxAttempts    = 4
	// DefaultAPIBaseURL is Zoom's REST base when neither the operator nor the token names one.
	DefaultAPIBaseURL = "https://api.zoom.us"
)

// defaultTokenLifetime is assumed when a token response has no expires_in; Zoom's S2S tokens
// live one hour.
const defaultTokenLifetime = time.Hour

// maxAnswer caps how much of an answer is read: a token answer is a few hundred bytes.
const maxAnswer = 64 << 10

// maxListingAnswer caps a page of a meeting listing: up to 300 meetings, each with its
// join_url, times, topic and an agenda of up to 2,000 characters, is about a megabyte.
const maxListingAnswer = 8 << 20

// operation is one kind of call to Zoom, as the transport treats it: its name (Error.Op, the
// logs), the endpoint its metrics and Hooks count it under, and how much of its answer is read.
// Each call names its own, so a new one is never counted as another.
type operation struct {
	name     string
	endpoint string
	// maxAnswer caps the answer read; maxAnswer (the package's) when zero.
	maxAnswer int64
}

// answerLimit is how much of op's answer is read.
func (op operation) answerLimit() int64 {
	if op.maxAnswer > 0 {
		return op.maxAnswer
	}
	return maxAnswer
}

// Config configures a Client.
type Config struct {
	AccountID    string
	ClientID     string
	ClientSecret string
	// OAuthBaseURL is where /oauth/token lives, e.g. https://zoom.us.
	OAuthBaseURL string
	// APIBaseURL is the REST base. When empty, the token response's api_url is used, falling
	// back to DefaultAPIBaseURL.
	APIBaseURL string

	// HTTPClient makes every request; nil builds a dedicated one with timeouts.
	HTTPClient *http.Client
	// Now is the clock token expiry is computed with; nil means time.Now.
	Now func() time.Time
	// Budget bounds one call from start to end, retries and waits included.
	Budget time.Duration
	// AttemptTimeout bounds one HTTP request.
	AttemptTimeout time.Duration
	// MaxAttempts bounds the tries of one call on 5xx, network errors and per-second limits.
	MaxAttempts int
	// Hooks let the caller watch every request the client makes (for metrics).
	Hooks Hooks
	// RateLimit paces REST calls to this many a second (ZOOM_RATE_LIMIT); zero learns it from
	// Zoom's X-RateLimit-Limit, and paces nothing until Zoom has said.
	RateLimit float64
}

// OutcomeCanceled is the outcome Hooks.Request gets for a request its caller gave up on.
const OutcomeCanceled = "canceled"

// Endpoint names, as Hooks receive them.
const (
	EndpointToken     = "oauth_token"
	EndpointZAK       = "zak"
	EndpointJoinToken = "join_token"
)

// Hooks are told about the client's requests; a nil field is skipped. They run on the request's
// goroutine and must be quick.
type Hooks struct {
	// Request is called after every HTTP request to Zoom, retries included, with its endpoint,
	// its outcome ("ok" or a Kind) and how long it took.
	Request func(endpoint, outcome string, took time.Duration)
	// TokenFetched is called when a new access token arrives.
	TokenFetched func(expiresAt time.Time)
	// RateLimitRemaining is called with Zoom's X-RateLimit-Category and X-RateLimit-Remaining
	// whenever an answer carries them.
	RateLimitRemaining func(category string, remaining int)
	// Retrying is called when an attempt failed and the call will try again after wait; the
	// call's last failure is the caller's to report, so it never comes here.
	Retrying func(err *Error, attempt int, wait time.Duration)
}

// transport is what both clients share: the HTTP client, the call budget and attempt timeout,
// retries with backoff, the reading of Zoom's answers and errors, and the hooks.
type transport struct {
	cfg  Config
	http *http.Client
}

// newTransport fills in cfg's defaults and builds the HTTP client if cfg has none.
func newTransport(cfg Config) *transport {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	cfg.OAuthBaseURL = strings.TrimRight(cfg.OAuthBaseURL, "/")
	cfg.APIBaseURL = strings.TrimRight(cfg.APIBaseURL, "/")
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = NewHTTPClient(cfg.AttemptTimeout)
	}
	return &transport{cfg: cfg, http: httpClient}
}

// NewHTTPClient returns the dedicated client Zoom calls use: bounded dials, handshakes and
// requests, and no redirects (Zoom's API does not redirect; following one would be a surprise).
func NewHTTPClient(timeout time.Duration) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.TLSHandshakeTimeout = 5 * time.Second
	transport.ResponseHeaderTimeout = timeout
	// Bots arrive in bursts; keeping enough idle connections avoids a new TCP (and TLS) handshake
	// per join token under load.
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 128
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// tokenAs GETs an endpoint that answers {"token": "..."} with the given access token.
func (tr *transport) tokenAs(ctx context.Context, op operation, at accessToken, path string, query url.Values) (string, error) {
	var answer struct {
		Token string `json:"token"`
	}
	err := tr.callAs(ctx, op, at, path, query, func(body []byte) error {
		if err := json.Unmarshal(body, &answer); err != nil {
			return err
		}
		if answer.Token == "" {
			return errEmptyToken
		}
		return nil
	})
	return answer.Token, err
}

var errEmptyToken = errors.New("answer has an empty token")

// callAs GETs a Zoom endpoint with an access token and hands the 200 body to decode. It retries
// within the budget with backoff after 5xx answers, network errors and per-second rate limits;
// daily limits and refusals (a 401 included) are final and returned as *Error.
func (tr *transport) callAs(ctx context.Context, op operation, at accessToken, path string, query url.Values, decode func([]byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, tr.cfg.Budget)
	defer cancel()
	gate := at.gate
	for attempt := 1; ; attempt++ {
		probe, tooLong := gate.pass(ctx)
		if tooLong > 0 {
			// Waiting for the account's rate limit would overrun this call's budget.
			return &Error{Kind: KindUnavailable, Op: op.name, Status: http.StatusTooManyRequests, RateLimitType: rateLimitQPS,
				RetryAfter: tooLong, Message: "Zoom's per-second rate limit for this account is reached"}
		}
		began := time.Now()
		body, zerr := tr.get(ctx, op, at, path, query)
		if zerr == nil {
			if err := decode(body.data); err != nil {
				zerr = &Error{Kind: KindRefused, Op: op.name, Status: http.StatusOK, TrackingID: body.trackingID,
					Message: "answer is not the JSON Zoom documents"}
				if errors.Is(err, errEmptyToken) {
					zerr.Message = errEmptyToken.Error()
				}
			}
		}
		perSecond := zerr != nil && zerr.Status == http.StatusTooManyRequests && zerr.RateLimitType != rateLimitDaily
		if perSecond {
			gate.limited(zerr.RetryAfter)
		}
		if probe {
			gate.report()
		}
		tr.observe(op, zerr, time.Since(began))
		switch {
		case zerr == nil:
			return nil
		case perSecond && attempt < tr.cfg.MaxAttempts && fits(ctx, zerr.RetryAfter):
			tr.retrying(zerr, attempt, zerr.RetryAfter)
			continue // the gate makes the wait, shared with every other call of the account
		case !tr.retryAfter(ctx, zerr, attempt):
			return zerr
		}
	}
}

// Zoom error codes the client acts on.
const (
	codeInvalidAccessToken = 124
	codeInvalidMeetingID   = 300
	codeUserNotFound       = 1001
	// CodeMeetingNotFound: no such meeting, or (for live meetings) it is not in progress.
	CodeMeetingNotFound   = 3001
	codeNotAllowed        = 3000
	codeHostingNotAllowed = 3161
	codeMissingScope      = 4711
)

// answer is a 200 body and the tracking id that came with it.
type answer struct {
	data       []byte
	trackingID string
}

// get makes one GET with the access token and returns the 200 body, or the error Zoom answered.
func (tr *transport) get(ctx context.Context, op operation, at accessToken, path string, query url.Values) (answer, *Error) {
	return tr.send(ctx, op, at, http.MethodGet, path, query, nil)
}

// send makes one request with the access token (a JSON body when body is not nil) and returns a
// 2xx answer's body, or the error Zoom answered.
func (tr *transport) send(ctx context.Context, op operation, at accessToken, method, path string, query url.Values, body []byte) (answer, *Error) {
	actx, cancel := context.WithTimeout(ctx, tr.cfg.AttemptTimeout)
	defer cancel()
	target := at.apiBase + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, reader)
	if err != nil {
		return answer{}, &Error{Kind: KindRefused, Op: op.name, Message: "bad request URL", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+at.value)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tr.http.Do(req)
	if err != nil {
		return answer{}, &Error{Kind: KindUnavailable, Op: op.name, Message: transportProblem(err), Err: stripURL(err)}
	}
	defer resp.Body.Close()
	tr.observeRateLimit(resp.Header)
	at.gate.learn(resp.Header)
	limit := op.answerLimit()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	trackingID := resp.Header.Get("x-zm-trackingid")
	if err != nil {
		return answer{}, &Error{Kind: KindUnavailable, Op: op.name, Status: resp.StatusCode, TrackingID: trackingID,
			Message: "answer cut short", Err: stripURL(err)}
	}
	if int64(len(data)) > limit {
		// Cut short, it would be unreadable JSON; say what happened instead.
		return answer{}, &Error{Kind: KindRefused, Op: op.name, Status: resp.StatusCode, TrackingID: trackingID,
			Message: "answer larger than " + strconv.FormatInt(limit>>10, 10) + " KiB"}
	}
	if resp.StatusCode == http.StatusOK || method != http.MethodGet && resp.StatusCode/100 == 2 {
		return answer{data: data, trackingID: trackingID}, nil
	}
	return answer{}, tr.restError(op, resp, data)
}

// observe tells the Hooks how one attempt of op went.
func (tr *transport) observe(op operation, err *Error, took time.Duration) {
	if tr.cfg.Hooks.Request == nil {
		return
	}
	outcome := "ok"
	switch {
	case err != nil && errors.Is(err.Err, context.Canceled):
		// The caller went away: not Zoom's failure.
		outcome = OutcomeCanceled
	case err != nil:
		outcome = err.Kind.String()
	}
	tr.cfg.Hooks.Request(op.endpoint, outcome, took)
}

// retryAfter waits before the next attempt of a call whose attempt failed with err, and reports
// whether there is one: not when err is final, the attempts are spent or ctx ends first.
func (tr *transport) retryAfter(ctx context.Context, err *Error, attempt int) bool {
	if !retryable(err) || attempt >= tr.cfg.MaxAttempts {
		return false
	}
	wait := tr.delay(attempt, err)
	tr.retrying(err, attempt, wait)
	return sleep(ctx, wait)
}

func (tr *transport) retrying(err *Error, attempt int, wait time.Duration) {
	if tr.cfg.Hooks.Retrying != nil {
		tr.cfg.Hooks.Retrying(err, attempt, wait)
	}
}

func (tr *transport) observeRateLimit(h http.Header) {
	category, remaining := h.Get("X-RateLimit-Category"), h.Get("X-RateLimit-Remaining")
	if tr.cfg.Hooks.RateLimitRemaining == nil || category == "" || remaining == "" {
		return
	}
	if n, err := strconv.Atoi(remaining); err == nil {
		tr.cfg.Hooks.RateLimitRemaining(category, n)
	}
}

// restError classifies a non-200 REST answer.
func (tr *transport) restError(op operation, resp *http.Response, body []byte) *Error {
	var answer struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	json.Unmarshal(body, &answer) // a body that is not Zoom's shape leaves the status to speak
	e := &Error{Op: op.name, Status: resp.StatusCode, Code: answer.Code, Message: clip(answer.Message),
		TrackingID: resp.Header.Get("x-zm-trackingid")}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindUnavailable
		e.RateLimitType = resp.Header.Get("X-RateLimit-Type")
		if e.RateLimitType == "" && strings.Contains(strings.ToLower(answer.Message), "daily") {
			e.RateLimitType = rateLimitDaily
		}
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), tr.cfg.Now())
		if e.RetryAfter == 0 && e.RateLimitType == rateLimitDaily {
			e.RetryAfter = untilUTCMidnight(tr.cfg.Now())
		}
	case resp.StatusCode >= 500:
		e.Kind = KindUnavailable
	case resp.StatusCode == http.StatusNotFound,
		answer.Code == codeUserNotFound, answer.Code == CodeMeetingNotFound,
		answer.Code == codeNotAllowed, answer.Code == codeHostingNotAllowed, answer.Code == CodeRTMSNotInvited,
		answer.Code == codeInvalidMeetingID && op == opJoinToken:
		e.Kind = KindNotFound
	default:
		// 401 (after the one retry), missing scopes (4711, 4700), and anything else we did not
		// expect: an operator must look.
		e.Kind = KindRefused
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// Zoom's X-RateLimit-Type values.
const (
	rateLimitDaily = "Daily-limit"
	rateLimitQPS   = "QPS"
)

// retryable reports whether trying again inside the budget can help.
func retryable(e *Error) bool {
	return e.Kind == KindUnavailable && e.RateLimitType != rateLimitDaily
}

// delay is how long to wait before the next attempt: Zoom's Retry-After when it gave one,
// otherwise exponential backoff (100 ms, 200 ms, 400 ms, ...) with full jitter, capped at 2 s.
func (tr *transport) delay(attempt int, e *Error) time.Duration {
	if e.RetryAfter > 0 {
		return e.RetryAfter
	}
	ceiling := min(100*time.Millisecond<<(attempt-1), 2*time.Second)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// sleep waits d unless that would overrun ctx's deadline, in which case it returns false at
// once: a wait the budget cannot afford is not worth starting.
func sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfter parses Retry-After in the forms Zoom sends: delta-seconds, an HTTP date, or an
// ISO-8601 instant. It returns zero when the header is absent or unreadable.
func retryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 366*24*3600)) * time.Second
	}
	for _, parse := range []func(string) (time.Time, error){
		http.ParseTime,
		func(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) },
		func(s string) (time.Time, error) { return time.Parse("2006-01-02T15:04:05Z0700", s) },
		func(s string) (time.Time, error) { return time.Parse("2006-01-02T15:04:05", s) }, // no zone: UTC
	} {
		if t, err := parse(value); err == nil {
			if d := t.Sub(now); d > 0 {
				return d.Round(time.Second)
			}
			return 0
		}
	}
	return 0
}

func untilUTCMidnight(now time.Time) time.Duration {
	day := now.UTC().Truncate(24 * time.Hour)
	return day.Add(24 * time.Hour).Sub(now)
}

func (tr *transport) accessToken(tok *oauth2.Token, issued time.Time) accessToken {
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	apiBase := tr.cfg.APIBaseURL
	if apiBase == "" {
		apiBase = DefaultAPIBaseURL
		if u, ok := tok.Extra("api_url").(string); ok && validBaseURL(u) {
			apiBase = strings.TrimRight(u, "/")
		}
	}
	scope, _ := tok.Extra("scope").(string)
	expires := issued.Add(lifetime)
	return accessToken{value: tok.AccessToken, apiBase: apiBase, scopes: strings.Fields(scope),
		expiresAt: expires, refreshAt: expires.Add(-refreshMargin(lifetime))}
}

func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == ""
}

// tokenError classifies a failed token request. The oauth2 package's own error text can quote
// the answer's body, so only the fields are kept.
func (tr *transport) tokenError(err error) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Op: opAccessToken.name, OAuthError: re.ErrorCode}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
			e.TrackingID = re.Response.Header.Get("x-zm-trackingid")
		}
		var answer struct {
			Reason string `json:"reason"`
		}
		json.Unmarshal(re.Body, &answer)
		e.Message = clip(answer.Reason)
		switch {
		case e.Status == http.StatusTooManyRequests:
			e.Kind = KindUnavailable
			if re.Response != nil {
				e.RateLimitType = re.Response.Header.Get("X-RateLimit-Type")
				e.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"), tr.cfg.Now())
			}
		case e.Status >= 500:
			e.Kind = KindUnavailable
		default:
			e.Kind = KindRefused // invalid_client, unsupported_grant_type, invalid_request, ...
		}
		if e.Message == "" {
			e.Message = http.StatusText(e.Status)
		}
		return e
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Kind: KindUnavailable, Op: opAccessToken.name, Message: transportProblem(err), Err: stripURL(err)}
	}
	// A 200 whose body is not a token: unreadable JSON or no access_token.
	return &Error{Kind: KindRefused, Op: opAccessToken.name, Message: "answer is not an access token"}
}

// transportProblem describes a request that got no answer.
func transportProblem(err error) string {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return "timed out"
	}
	return "no answer"
}

// stripURL drops the URL from a transport error (it names the user or meeting, which the error's
// Op already says) and keeps the cause.
func stripURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}
