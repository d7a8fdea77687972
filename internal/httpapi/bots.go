package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/sync/singleflight"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// secretSet checks a presented secret (a bot's ?secret=, an admin bearer token) against every
// configured one.
type secretSet struct {
	digests [][sha256.Size]byte
}

func newSecretSet(secrets []string) secretSet {
	cs := secretSet{digests: make([][sha256.Size]byte, len(secrets))}
	for i, s := range secrets {
		cs.digests[i] = sha256.Sum256([]byte(s))
	}
	return cs
}

// match compares digests rather than the secrets themselves, so the time taken depends neither
// on how much of a guess is right nor on its length, and it visits every secret without an early
// exit, so it does not tell which one came close.
func (cs secretSet) match(got string) bool {
	if got == "" {
		return false
	}
	// A + in a secret that a bot URL did not percent-encode arrives as a space (query decoding,
	// as with base64 secrets a platform generated); the secret is still the secret.
	if strings.Contains(got, " ") && cs.matchExactly(strings.ReplaceAll(got, " ", "+")) {
		return true
	}
	return cs.matchExactly(got)
}

func (cs secretSet) matchExactly(got string) bool {
	digest := sha256.Sum256([]byte(got))
	matched := 0
	for i := range cs.digests {
		matched |= subtle.ConstantTimeCompare(digest[:], cs.digests[i][:])
	}
	return matched == 1
}

// noStore marks every answer of the bot routes as not cacheable: tokens are fresh or useless.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Standard Webhooks headers, and the older Svix names of the same headers.
var (
	signatureHeaders = [3]string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}
	svixHeaders      = [3]string{"Svix-Id", "Svix-Timestamp", "Svix-Signature"}
)

// signedCallback verifies a bot request signed the Standard Webhooks way (as Recall.ai signs its
// callbacks) against any of the configured whsec_ secrets. The scheme's checks (the 5-minute
// window, any one of several "v1," signatures, a constant-time compare) are the Standard
// Webhooks library's own.
type signedCallback []*standardwebhooks.Webhook

// verify reports whether the request carries a valid signature. A GET has no body, so the
// signed content ends with the timestamp's dot. The Svix names are read only when none of the
// webhook-* headers is present.
func (sc signedCallback) verify(r *http.Request) bool {
	if len(sc) == 0 {
		return false
	}
	headers := r.Header
	if r.Header.Get(signatureHeaders[0]) == "" && r.Header.Get(signatureHeaders[1]) == "" && r.Header.Get(signatureHeaders[2]) == "" {
		headers = http.Header{}
		for i, name := range svixHeaders {
			headers.Set(signatureHeaders[i], r.Header.Get(name))
		}
	}
	verified := false
	for _, wh := range sc { // every secret is tried, so the time taken does not tell which matched
		if wh.Verify(nil, headers) == nil {
			verified = true
		}
	}
	return verified
}

// Ways a bot request can be let in, as the bot_auth metric counts them.
const (
	authSecret    = "secret"
	authSignature = "signature"
	authRefused   = "refused"
)

// requireCaller answers 401 unless ?secret= matches a configured secret or the request is
// signed with a configured signing secret. It runs before any other check so an
// unauthenticated caller learns nothing and never reaches Zoom.
func requireCaller(secrets secretSet, signed signedCallback, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if len(q["secret"]) > 1 {
				writeText(w, http.StatusBadRequest, "secret is given more than once")
				return
			}
			via := authRefused
			switch {
			case secrets.match(r.URL.Query().Get("secret")):
				via = authSecret
			case signed.verify(r):
				via = authSignature
			}
			m.ObserveBotAuth(via)
			if via == authRefused {
				writeText(w, http.StatusUnauthorized, "unauthorized")
				return
			}
			// A parameter given twice is ambiguous: which one would Zoom be asked about?
			for _, name := range []string{"meeting_id", "type", "user", "ref", "bypass_waiting_room"} {
				if len(q[name]) > 1 {
					writeText(w, http.StatusBadRequest, name+" is given more than once")
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// methodNotAllowed answers a bot route asked with another method than GET.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET")
	w.Header().Set("Cache-Control", "no-store")
	writeText(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here: use GET")
}

// featureOff answers 404 naming the variables that turn a route on.
func featureOff(variables string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusNotFound, "this endpoint is off: set "+variables+" to turn it on")
	}
}

// handleZAK serves GET /zak?secret=S: the ZAK of the configured user. Concurrent requests share
// one upstream call, since a ZAK is not single-use.
func handleZAK(tokens *zoom.Client, user string, ttl time.Duration) http.HandlerFunc {
	var flight singleflight.Group
	return func(w http.ResponseWriter, r *http.Request) {
		ch := flight.DoChan("zak", func() (any, error) {
			// The shared call must not end with the request that happened to start it.
			return tokens.ZAK(context.WithoutCancel(r.Context()), user, ttl)
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				writeZoomError(w, r, res.Err)
				return
			}
			writeToken(w, res.Val.(string))
		case <-r.Context().Done():
			// The caller went away; there is no one to answer.
		}
	}
}

// handleZAKRoute serves GET /zak: with user= or ref=, the ZAK of that connected user;
// without, the configured user's ZAK from the S2S app (s2s).
func handleZAKRoute(s2s http.HandlerFunc, cd *Connected, connectedOff http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, ref, problem := connectionName(r)
		switch {
		case problem != "":
			writeText(w, http.StatusBadRequest, problem)
		case user == "" && ref == "":
			s2s(w, r)
		case cd == nil:
			connectedOff(w, r)
		default:
			handleConnectedZAK(cd, user, ref)(w, r)
		}
	}
}

// handleJoinToken serves GET /join-token?secret=S&meeting_id=N[&type=T][&bypass_waiting_room=B]
// [&user=U|ref=R]: a fresh join token, never cached and never shared, since each is single-use.
// With user= or ref= it comes from that connected user (who must host the meeting); otherwise
// from the S2S app.
func handleJoinToken(s2s *zoom.Client, cd *Connected, s2sOff http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		meetingID, problem := parseMeetingID(q.Get("meeting_id"))
		if problem != "" {
			writeText(w, http.StatusBadRequest, problem)
			return
		}
		kind := zoom.LocalRecording
		if t := q.Get("type"); t != "" {
			var ok bool
			if kind, ok = zoom.ParseJoinTokenKind(t); !ok {
				writeText(w, http.StatusBadRequest, "type must be local_recording, live_streaming or local_archiving")
				return
			}
		}
		bypass := false
		switch q.Get("bypass_waiting_room") {
		case "", "false":
		case "true":
			bypass = true
		default:
			writeText(w, http.StatusBadRequest, "bypass_waiting_room must be true or false")
			return
		}
		user, ref, problem := connectionName(r)
		joinToken := func(ctx context.Context, t zoom.UserToken) (string, error) {
			return cd.Zoom.JoinToken(ctx, t, meetingID, kind, bypass)
		}
		switch {
		case problem != "":
			writeText(w, http.StatusBadRequest, problem)
		case user != "" || ref != "":
			if cd == nil {
				featureOff("ZOOM_OAUTH_CLIENT_ID, ZOOM_OAUTH_CLIENT_SECRET, PUBLIC_URL, TOKEN_ENCRYPTION_KEYS and CALLBACK_SECRETS")(w, r)
				return
			}
			connectedToken(w, r, cd, user, ref, joinToken)
		default:
			dbDown := false
			if cd != nil {
				var answered bool
				if answered, dbDown = hostJoinToken(w, r, cd, meetingID, joinToken); answered {
					return
				}
			}
			if s2s == nil && dbDown {
				writeConnectionError(w, r, connections.ErrUnavailable)
				return
			}
			if s2s == nil && cd != nil {
				writeText(w, http.StatusNotFound, "no connected host owns this meeting, and no Server-to-Server app is configured")
				return
			}
			if s2s == nil {
				s2sOff(w, r)
				return
			}
			token, err := s2s.JoinToken(r.Context(), meetingID, kind, bypass)
			if err != nil {
				writeZoomError(w, r, err)
				return
			}
			writeToken(w, token)
		}
	}
}

// hostJoinToken answers with a join token from the connected host of the meeting, and reports
// whether it answered. It does not when the meeting has no connected host, the host's connection
// has ended, Zoom says the user does not host it, or the database is down (dbDown): the caller
// falls back to the S2S app.
func hostJoinToken(w http.ResponseWriter, r *http.Request, cd *Connected, meetingID int64,
	joinToken func(context.Context, zoom.UserToken) (string, error)) (answered, dbDown bool) {
	host, err := cd.Manager.Host(r.Context(), meetingID)
	switch {
	case errors.Is(err, connections.ErrUnavailable):
		requestLogger(w).Warn().Err(err).Msg("join token: the meeting map is unavailable; falling back to the S2S app")
		return false, true
	case err != nil || host.Status != connections.StatusActive:
		return false, false
	}
	token, err := cd.Manager.Call(r.Context(), host, func(ctx context.Context, accessToken string) (string, error) {
		return joinToken(ctx, zoom.UserToken{Value: accessToken, Account: host.ZoomAccountID})
	})
	var zerr *zoom.Error
	switch {
	case err == nil:
		requestLogger(w).Debug().Str("connection", host.ID).Msg("join token from the meeting's connected host")
		writeToken(w, token)
		return true, false
	case errors.Is(err, connections.ErrReauthorizationRequired), errors.As(err, &zerr) && zerr.Kind == zoom.KindNotFound:
		requestLogger(w).Info().Str("connection", host.ID).Err(err).Msg("join token: the mapped host cannot make it; falling back")
		return false, false
	}
	writeConnectionError(w, r, err)
	return true, false
}

// parseMeetingID reads a numeric meeting id, dropping the spaces and dashes people copy along
// with it ("123 456 789", "123-456-789"). Anything else that is not a digit is refused, so
// nothing but digits can reach Zoom's URL.
func parseMeetingID(raw string) (int64, string) {
	if raw == "" {
		return 0, "meeting_id is required"
	}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, raw)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, "meeting_id must be the numeric meeting id"
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, "meeting_id must be the numeric meeting id"
	}
	return id, ""
}

// writeToken answers 200 with the token as the whole body. An empty token is never a 200.
func writeToken(w http.ResponseWriter, token string) {
	if !plausibleToken(token) {
		writeText(w, http.StatusBadGateway, "Zoom answered with something that is not a token")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(token)))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, token)
}

// statusClientClosedRequest is what the access log and metrics record for a request whose caller
// hung up before the answer (nginx's 499); nobody reads it.
const statusClientClosedRequest = 499

// callerGone records a request whose caller hung up as 499 and reports whether it did: a bot
// that disconnects mid-call is not Zoom failing, and is not logged as such.
func callerGone(w http.ResponseWriter, r *http.Request) bool {
	if !errors.Is(r.Context().Err(), context.Canceled) {
		return false
	}
	requestLogger(w).Debug().Msg("the caller hung up before the answer")
	w.WriteHeader(statusClientClosedRequest)
	return true
}

// plausibleToken reports whether Zoom's answer looks like a token a bot can use: 16 to 8192
// characters of a token alphabet (base64, base64url, JWT dots). A 200 carrying blanks, HTML or a
// line break is Zoom misbehaving, not a token.
func plausibleToken(token string) bool {
	if len(token) < 16 || len(token) > 8192 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return false
		}
	}
	return true
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
	}
	return "Zoom cannot make this token (the log says why)"
}

// writeZoomError maps a failed Zoom call to the bot routes' status table and logs it once with
// what Zoom said. It is the only place that decides those statuses.
func writeZoomError(w http.ResponseWriter, r *http.Request, err error) {
	if callerGone(w, r) {
		return
	}
	var zerr *zoom.Error
	if !errors.As(err, &zerr) {
		writeBotInternalError(w, r, err)
		return
	}
	log := requestLogger(w)
	event := log.Warn()
	if zerr.Kind == zoom.KindRefused {
		event = log.Error()
	}
	event.Str("zoom_op", zerr.Op).Str("zoom_kind", zerr.Kind.String()).Int("zoom_status", zerr.Status).
		Int("zoom_code", zerr.Code).Str("zoom_error", zerr.OAuthError).Str("zoom_message", zerr.Message).
		Str("zoom_tracking_id", zerr.TrackingID).Str("zoom_rate_limit_type", zerr.RateLimitType).
		Dur("zoom_retry_after", zerr.RetryAfter).AnErr("cause", zerr.Err).Msg("zoom call failed")

	switch zerr.Kind {
	case zoom.KindNotFound:
		writeText(w, http.StatusNotFound, notFoundReason(zerr))
	case zoom.KindRefused:
		writeText(w, http.StatusBadGateway, "Zoom refused the request; the service's Zoom app needs attention (see its log)")
	default:
		seconds := int64(math.Ceil(zerr.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(seconds, 1), 10))
		reason := "Zoom is unavailable; try again shortly"
		if zerr.Status == http.StatusTooManyRequests {
			reason = "Zoom's rate limit is reached; try again after Retry-After seconds"
		}
		writeText(w, http.StatusServiceUnavailable, reason)
	}
}

// writeText answers with a short plain-text body, exactly the text (the contract names the
// bodies, such as "unauthorized", byte for byte).
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, text)
}

func writeBotInternalError(w http.ResponseWriter, r *http.Request, err error) {
	requestLogger(w).Error().Err(err).Msg("internal error")
	writeText(w, http.StatusInternalServerError, "internal error")
}
