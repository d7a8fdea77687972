// Package httpapi is the service's HTTP surface: the chi router (every route is in routes.go),
// the handlers by route family (sdk.go, tokens.go, rtms.go, attendee.go, connect.go, admin.go,
// webhooks.go), the callers' checks (auth.go), the middleware, and errors.go, where every error
// becomes an answer. A handler parses, asks, and answers: which credential makes a token is the
// vend package's choice, and storage is reached only through the domain (no storage package is
// imported here).
package httpapi

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/vend"
)

// Deps are the handler's dependencies. A nil feature dependency turns that feature's routes
// into 404s that name the variables which turn it on.
type Deps struct {
	Logger zerolog.Logger

	// Signer signs POST / tokens; nil when the Meeting SDK credentials are not configured.
	Signer *sdkjwt.Signer
	// VideoSigner signs POST /video-sdk tokens; nil when the Video SDK credentials are not
	// configured.
	VideoSigner *sdkjwt.VideoSigner
	// CORSAllowedOrigins lists the origins allowed to call POST / and POST /video-sdk; nil
	// allows any.
	CORSAllowedOrigins []string

	// App is the Zoom app tokens are vended from: its S2S client, connected accounts, RTMS
	// streams and webhook tokens; each nil or empty part turns its routes off.
	App vend.App
	// BotLinks checks bot links (and mints them for POST /admin/bot-links); nil turns them off.
	BotLinks *botlink.Keys
	// CallbackReach is what ?secret= and signed requests reach (CALLBACK_SECRETS_REACH).
	CallbackReach vend.Reach
	// Once remembers signed requests' webhook-ids across replicas; nil remembers them in this
	// process.
	Once OnceStore
	// PublicURL, when set, makes minted bot links whole URLs.
	PublicURL string
	// CallbackSecrets are the secrets the bot routes accept in ?secret=.
	CallbackSecrets []string
	// CallbackSigners verify bot requests signed the Standard Webhooks way, which need no
	// ?secret=.
	CallbackSigners []*standardwebhooks.Webhook
	// ConnectFlow is the connect flow's part of connected accounts (links, cookies, pages).
	ConnectFlow *ConnectFlow
	// Attendee checks the signature of POST /callbacks/attendee, attendee's zoom_tokens
	// callback, which is served from the token sources above; nil turns the route off.
	// AttendeeDeadline is how long its tokens are gathered; 25 s when zero.
	Attendee         *attendee.Verifier
	AttendeeDeadline time.Duration
	// AdminTokens are the bearer tokens /admin/* accepts; empty turns the admin API off.
	AdminTokens []string
	// Events is the outbox of connection and stream events, which /admin/events lists and
	// replays; nil leaves those routes out.
	Events outbox.Store

	// BodyBudget is the memory, in bytes, for request bodies read before their caller is known
	// (POST /, POST /video-sdk, webhooks, attendee's callback): past it such a request is
	// answered 503 at once, its body unread. DefaultBodyBudget when zero.
	BodyBudget int64

	// Draining, when set and true, makes GET /readyz answer 503: the service is shutting down.
	Draining *atomic.Bool

	// Metrics records every request; nil records nothing. MetricsElsewhere says /metrics is
	// served on its own listener (METRICS_ADDR) rather than here.
	Metrics          *metrics.Metrics
	MetricsElsewhere bool
}

// NewHandler returns the service's HTTP handler.
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	addRoutes(r, d)
	return r
}
