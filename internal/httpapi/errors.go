package httpapi

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// This file is the one place an error becomes an answer. classify reads an error once into a
// failure (status, reason in our words, Retry-After, how it is logged), and three renderers write
// it: writeTextFailure for the bot routes and webhooks, writeJSONFailure for the admin API and
// the signature routes, writePageFailure for the connect flow's pages. An error nobody expected
// is a 500 whose detail goes to the log with the request id, never to the caller.

// failure is what an error means for the caller.
type failure struct {
	status int
	// reason is what the caller reads: our words, never Zoom's message (which can name a
	// person) nor anything secret.
	reason string
	// retryAfter, in seconds, is sent as Retry-After when not zero.
	retryAfter int64
	// level is how the error is logged; zerolog.NoLevel logs nothing.
	level zerolog.Level
	// logged is the log line's message.
	logged string
	// page is what a person sees in the connect flow, and pageStatus its status when it is
	// not status (Zoom failing during the flow is a 502 or 503 page, whatever the bot routes
	// would say).
	page       page
	pageStatus int
}

// requestError is a request that cannot be answered as it was asked: its status (400, 401, 404,
// 413) and the reason, in the caller's terms. Every parser of a request returns one.
type requestError struct {
	status int
	reason string
	// page is what a person sees when the request was a step of the connect flow, and logged,
	// when set, why the step was refused, for the log (at info).
	page   page
	logged string
	// retryAfter, in seconds, is sent as Retry-After when not zero.
	retryAfter int64
}

func (e *requestError) Error() string { return e.reason }

// badPage is the 400 of a connect-flow step that cannot go on, with the page that says why to the
// person and why, in the log, to the operator.
func badPage(p page, why string) error {
	return &requestError{status: http.StatusBadRequest, reason: p.Title, page: p, logged: "connect flow refused: " + why}
}

// errUnauthorized answers a caller who did not show a credential this route accepts.
var errUnauthorized = &requestError{status: http.StatusUnauthorized, reason: "unauthorized"}

// unauthorized is a 401 that says what was wrong with the credential and what to send: never
// the credential itself.
func unauthorized(why string) error {
	return &requestError{status: http.StatusUnauthorized, reason: "unauthorized: " + why}
}

// badRequest is the 400 of a request that is wrong as it stands.
func badRequest(reason string) error {
	return &requestError{status: http.StatusBadRequest, reason: reason}
}

// errEffectNotStored wraps a webhook's storage failure: Zoom retries a 500, so the event is not
// lost.
var errEffectNotStored = errors.New("could not store the event's effect; retry")

// classify reads an error into the failure it is. The order matters where an error matches
// several: a Zoom error wrapping a deadline is Zoom's failure, not ours.
func classify(err error) failure {
	var zerr *zoom.Error
	var rerr *requestError
	var off vend.Off
	switch {
	case errors.As(err, &rerr):
		f := failure{status: rerr.status, reason: rerr.reason, level: zerolog.NoLevel, page: rerr.page, retryAfter: rerr.retryAfter}
		if rerr.logged != "" {
			f.level, f.logged = zerolog.InfoLevel, rerr.logged
		}
		return f
	case errors.As(err, &off):
		return failure{status: http.StatusNotFound, reason: off.Error(), level: zerolog.NoLevel}
	case errors.Is(err, vend.ErrNotAToken):
		return failure{status: http.StatusBadGateway, reason: vend.ErrNotAToken.Error(), level: zerolog.WarnLevel,
			logged: "Zoom answered 200 without a token"}
	case errors.Is(err, errEffectNotStored):
		return failure{status: http.StatusInternalServerError, reason: errEffectNotStored.Error(), level: zerolog.ErrorLevel,
			logged: "webhook: storing its effect failed; Zoom will retry"}
	case errors.Is(err, vend.ErrNeedsLink):
		return failure{status: http.StatusForbidden, reason: vend.ErrNeedsLink.Error(), level: zerolog.NoLevel}
	case errors.Is(err, vend.ErrNoJoinTokenSource), errors.Is(err, vend.ErrNoRTMSSource):
		return failure{status: http.StatusNotFound, reason: err.Error(), level: zerolog.NoLevel}
	case errors.Is(err, rtms.ErrNotFound):
		return failure{status: http.StatusNotFound, reason: "no verified Zoom webhook announced this stream", level: zerolog.NoLevel}
	case errors.Is(err, rtms.ErrStopped):
		return failure{status: http.StatusGone, reason: err.Error(), level: zerolog.NoLevel}
	case errors.Is(err, rtms.ErrUnsigned):
		return failure{status: http.StatusNotFound, level: zerolog.NoLevel,
			reason: "this stream is a Video SDK session's, signed with the Video SDK app's credentials: set ZOOM_VIDEO_SDK_KEY and ZOOM_VIDEO_SDK_SECRET"}
	case errors.Is(err, vend.ErrStreamNotRunning):
		return failure{status: http.StatusNotFound, reason: vend.ErrStreamNotRunning.Error(), level: zerolog.WarnLevel,
			logged: "RTMS stop: Zoom says no stream is running"}
	case errors.Is(err, connections.ErrNotFound):
		return failure{status: http.StatusNotFound, reason: "no connected Zoom account matches", level: zerolog.NoLevel}
	case errors.Is(err, connections.ErrReauthorizationRequired):
		return failure{status: http.StatusNotFound, level: zerolog.NoLevel,
			reason: "this user's Zoom connection has ended: they must connect their Zoom account again"}
	case errors.Is(err, connections.ErrUnavailable):
		return failure{status: http.StatusServiceUnavailable, retryAfter: 5, level: zerolog.WarnLevel,
			reason: "the connections database is unavailable; try again shortly", logged: "connections database unavailable",
			page: pageUnavailable}
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return failure{status: http.StatusBadGateway, level: zerolog.ErrorLevel, logged: "stored tokens cannot be decrypted",
			reason: "this connection's stored tokens cannot be decrypted with TOKEN_ENCRYPTION_KEYS; the operator must look"}
	case errors.As(err, &zerr):
		return classifyZoom(zerr)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return failure{status: http.StatusServiceUnavailable, retryAfter: 1, reason: "timed out; try again shortly",
			level: zerolog.WarnLevel, logged: "timed out"}
	}
	return failure{status: http.StatusInternalServerError, reason: "internal error", level: zerolog.ErrorLevel,
		logged: "internal error"}
}

// classifyZoom maps a failed Zoom call to the bot routes' statuses: 404 when Zoom cannot make
// the token, 502 when it refused us (an operator must act), 503 when it is down or limiting us.
func classifyZoom(zerr *zoom.Error) failure {
	switch zerr.Kind {
	case zoom.KindNotFound:
		return failure{status: http.StatusNotFound, reason: notFoundReason(zerr), level: zerolog.WarnLevel,
			page: pageZoomRefused, pageStatus: http.StatusBadGateway}
	case zoom.KindUnavailable:
		f := failure{status: http.StatusServiceUnavailable, reason: "Zoom is unavailable; try again shortly",
			retryAfter: max(int64(math.Ceil(zerr.RetryAfter.Seconds())), 1), level: zerolog.WarnLevel, page: pageZoomDown}
		if zerr.Status == http.StatusTooManyRequests {
			f.reason = "Zoom's rate limit is reached; try again after Retry-After seconds"
		}
		return f
	}
	if zerr.Code == zoom.CodeRTMSNotEntitled {
		return failure{status: http.StatusBadGateway, level: zerolog.ErrorLevel, page: pageZoomRefused,
			reason: "the Zoom account has no Realtime Media Streams entitlement: its owner must have it turned on"}
	}
	return failure{status: http.StatusBadGateway, level: zerolog.ErrorLevel, page: pageZoomRefused,
		reason: "Zoom refused the request; the service's Zoom app needs attention (see its log)"}
}

// notFoundReason says, in our words, why Zoom cannot make a token: Zoom's own message can name
// a person (the user's email), so it goes to the log only.
func notFoundReason(zerr *zoom.Error) string {
	switch zerr.Code {
	case 1001:
		return "Zoom does not know this user"
	case 3001, 300:
		return "Zoom does not know this meeting"
	case 3000:
		return "Zoom does not allow this token for this meeting (a meeting setting, or the user does not host it)"
	case 3161:
		return "this user is not allowed to host meetings"
	case zoom.CodeRTMSNotInvited:
		return "this meeting is outside the user's account and they are not on its invite list, so they cannot start its stream"
	}
	return "Zoom cannot make this token (the log says why)"
}

// statusClientClosedRequest is what the access log and metrics record for a request whose caller
// hung up before the answer (nginx's 499); nobody reads it.
const statusClientClosedRequest = 499

// fail classifies err, logs it once, and sets Retry-After; it returns false when the caller hung
// up, which is recorded as 499 and answered with nothing: a bot that disconnects mid-call is not
// Zoom failing, and is not logged as such.
func fail(w http.ResponseWriter, r *http.Request, err error) (failure, bool) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		requestLogger(w).Debug().Msg("the caller hung up before the answer")
		w.WriteHeader(statusClientClosedRequest)
		return failure{}, false
	}
	f := classify(err)
	if f.level != zerolog.NoLevel {
		logFailure(requestLogger(w).WithLevel(f.level), err, f)
	}
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(f.retryAfter, 10))
	}
	return f, true
}

// logFailure writes the failure's log line: with what Zoom said, when Zoom said it.
func logFailure(event *zerolog.Event, err error, f failure) {
	var zerr *zoom.Error
	if errors.As(err, &zerr) {
		event.Str("zoom_op", zerr.Op).Str("zoom_kind", zerr.Kind.String()).Int("zoom_status", zerr.Status)
		// Only what Zoom said: an empty field is noise on every failure.
		for _, f := range [][2]string{{"zoom_error", zerr.OAuthError}, {"zoom_message", zerr.Message},
			{"zoom_tracking_id", zerr.TrackingID}, {"zoom_rate_limit_type", zerr.RateLimitType}} {
			if f[1] != "" {
				event.Str(f[0], f[1])
			}
		}
		if zerr.Code != 0 {
			event.Int("zoom_code", zerr.Code)
		}
		if zerr.RetryAfter > 0 {
			event.Dur("zoom_retry_after", zerr.RetryAfter)
		}
		event.AnErr("cause", zerr.Err).Msg("zoom call failed")
		return
	}
	event.Err(err).Msg(f.logged)
}

// writeTextFailure answers a bot route or a webhook with the failure's reason as plain text.
func writeTextFailure(w http.ResponseWriter, r *http.Request, err error) {
	if f, ok := fail(w, r, err); ok {
		writeText(w, f.status, f.reason)
	}
}

// writeJSONFailure answers the admin API ({"error": reason}) or a signature route ({"errors":
// [{"property": "server", "reason": reason}]}), as shape builds the body.
func writeJSONFailure(w http.ResponseWriter, r *http.Request, err error, shape func(reason string) any) {
	if f, ok := fail(w, r, err); ok {
		writeJSON(w, f.status, shape(f.reason))
	}
}

// writeSignatureFailure answers POST / and POST /video-sdk in their {"errors": [...]} shape.
func writeSignatureFailure(w http.ResponseWriter, r *http.Request, err error) {
	writeJSONFailure(w, r, err, fieldErrorsBody)
}

// adminBody is the admin API's error body.
func adminBody(reason string) any { return map[string]string{"error": reason} }

// fieldErrorsBody is the signature routes' error body for a failure of the server's own.
func fieldErrorsBody(reason string) any {
	return sdkjwt.ValidationError{Errors: []sdkjwt.FieldError{{Property: "server", Reason: reason}}}
}

// writePageFailure answers a step of the connect flow with a page a person understands.
func writePageFailure(w http.ResponseWriter, r *http.Request, b Branding, err error) {
	f, ok := fail(w, r, err)
	if !ok {
		return
	}
	status, p := f.status, f.page
	if f.pageStatus != 0 {
		status = f.pageStatus
	}
	if p == (page{}) {
		p = pageInternal
	}
	writePage(w, status, b, p)
}

// readBody reads a request's body of at most limit bytes. A body over it is a 413 that says the
// limit; one that cannot be read (the caller stopped sending) a 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := readBodyInto(&buf, w, r, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readBodyInto is readBody into a buffer the caller keeps (POST / reuses its buffers).
func readBodyInto(buf *bytes.Buffer, w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.ContentLength > 0 && r.ContentLength <= limit {
		// Room for the whole announced body at once: growing by doubling would allocate up to
		// twice what the body budget reserved for it.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &requestError{status: http.StatusRequestEntityTooLarge, reason: "the body is larger than " + byteSize(limit)}
	case err != nil:
		return badRequest("the body could not be read")
	}
	return nil
}

// byteSize writes a limit as people read it: 16 KiB, 1 MiB.
func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n>>10, 10) + " KiB"
}
