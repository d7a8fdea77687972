package httpapi

import (
	"cmp"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// addRoutes lists every route the service answers.
func addRoutes(r chi.Router, d Deps) {
	r.Use(observe(d.Logger, d.Metrics))

	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(d.Draining))
	if d.Metrics != nil && !d.MetricsElsewhere {
		r.Get("/metrics", d.Metrics.Handler().ServeHTTP)
	}

	// Bodies read before their caller is known share one memory budget.
	budget := newBodyBudget(d.BodyBudget)
	r.Group(func(r chi.Router) {
		r.Use(corsFor(d.CORSAllowedOrigins))
		signatureBody := budget.limit(maxSignatureBody, writeSignatureFailure)
		r.With(signatureBody).Post("/", handleSignature(d.Signer))
		r.Get("/", handleAbout())
		r.Options("/", handlePreflight())
		r.With(signatureBody).Post("/video-sdk", handleVideoSignature(d.VideoSigner))
		r.Options("/video-sdk", handlePreflight())
	})

	// Bot routes. One that no configured feature serves answers 404 before the caller check;
	// otherwise the caller check (secret or signature) comes before anything else.
	app := d.App
	v := vend.New(app)
	r.Group(func(r chi.Router) {
		r.Use(noStore)
		for _, path := range []string{"/zak", "/join-token", "/obf-token", "/access-token", "/rtms/stream", "/rtms/signature"} {
			r.HandleFunc(path, methodNotAllowed) // every method but the GET registered below
		}
		once := d.Once
		if once == nil {
			once = &memoryOnce{}
		}
		guard := requireCaller(&callerCheck{links: d.BotLinks, secrets: newSecretSet(d.CallbackSecrets),
			signed: d.CallbackSigners, once: once, reach: d.CallbackReach, m: d.Metrics})
		if app.S2S == nil && app.Connected == nil {
			r.Get("/zak", featureOff(vend.S2SVariables))
			r.Get("/join-token", featureOff(vend.S2SVariables))
		} else {
			r.With(guard).Get("/zak", handleZAK(v))
			r.With(guard).Get("/join-token", handleJoinToken(v))
		}
		if app.Connected == nil {
			r.Get("/obf-token", connectedOff)
			r.Get("/access-token", connectedOff)
		} else {
			r.With(guard).Get("/obf-token", handleOBF(v))
			r.With(guard).Get("/access-token", handleAccessToken(v))
		}

		// Realtime Media Streams: what a worker needs to join a stream, without the Client Secret.
		if app.RTMS == nil {
			r.Get("/rtms/stream", featureOff(rtmsVariables))
			r.Get("/rtms/signature", featureOff(rtmsVariables))
		} else {
			r.With(guard).Get("/rtms/stream", handleRTMSStream(v))
			r.With(guard).Get("/rtms/signature", handleRTMSSignature(v))
		}
	})

	// attendee's bots ask here for their Zoom tokens right before joining.
	r.Group(func(r chi.Router) {
		r.Use(noStore)
		r.HandleFunc("/callbacks/attendee", onlyMethod(http.MethodPost))
		if d.Attendee == nil {
			r.Post("/callbacks/attendee", featureOff("ATTENDEE_WEBHOOK_SECRETS"))
		} else {
			r.With(budget.limit(maxAttendeeBody, writeTextFailure)).
				Post("/callbacks/attendee", handleAttendee(d.Attendee, v, d.Metrics, cmp.Or(d.AttendeeDeadline, attendeeDeadline)))
		}
	})

	// Zoom's event notifications keep the meeting map, the connections and the streams current.
	if len(app.WebhookTokens) > 0 {
		r.With(budget.limit(maxWebhookBody, writeTextFailure)).Post("/webhooks/zoom", handleZoomWebhook(app, d.Metrics, time.Now))
	} else {
		r.Post("/webhooks/zoom", featureOff("ZOOM_WEBHOOK_SECRET_TOKENS"))
	}

	// Connecting an account: a link from the operator, Zoom's consent, and back.
	// Link previews (chat apps) ask for a connect link with HEAD first.
	if app.Connected != nil && d.ConnectFlow != nil {
		r.Get("/connect", handleConnect(app.Connected, d.ConnectFlow))
		r.Head("/connect", handleConnect(app.Connected, d.ConnectFlow))
		r.Get("/oauth/callback", handleCallback(app.Connected, d.ConnectFlow))
	} else {
		r.Get("/connect", connectedOff)
		r.Head("/connect", connectedOff)
		r.Get("/oauth/callback", connectedOff)
	}

	// The admin API, for the operator's backend.
	r.Route("/admin", func(r chi.Router) {
		r.Use(noStore)
		if len(d.AdminTokens) == 0 || app.Connected == nil && d.BotLinks == nil {
			r.HandleFunc("/*", adminOff("the admin API is off: set ADMIN_TOKENS (with connected accounts or BOT_LINK_KEYS on)"))
			return
		}
		r.Use(requireAdmin(newSecretSet(d.AdminTokens)))
		if d.BotLinks != nil {
			r.Post("/bot-links", handleCreateBotLink(d.BotLinks, d.PublicURL))
		} else {
			r.Post("/bot-links", adminOff("bot links are off: set BOT_LINK_KEYS"))
		}
		if app.Connected == nil {
			r.HandleFunc("/*", adminOff("this admin route needs connected accounts: set "+vend.ConnectedVariables))
			return
		}
		m := app.Connected.Manager
		r.Get("/connections", handleListConnections(m))
		r.Get("/connections/{id}", handleGetConnection(m))
		r.Delete("/connections/{id}", handleDeleteConnection(m))
		r.Delete("/connections/{id}/refs/{ref}", handleRemoveRef(m))
		r.Post("/connect-links", handleCreateConnectLink(d.ConnectFlow.Links))
		if d.Events != nil {
			r.Get("/events", handleListEvents(d.Events))
			r.Post("/events/retry", handleRetryFailed(d.Events, time.Now))
			r.Post("/events/{id}/retry", handleRetryEvent(d.Events, time.Now))
		} else {
			r.HandleFunc("/events*", adminOff("events are kept in the connections database: set "+vend.ConnectedVariables))
		}
		if app.RTMS != nil {
			r.Post("/rtms/start", handleRTMSControl(zoom.RTMSStart, v))
			r.Post("/rtms/stop", handleRTMSControl(zoom.RTMSStop, v))
			r.Get("/rtms/streams", handleListStreams(app.RTMS))
			r.Get("/rtms/streams/{id}", handleGetStream(app.RTMS))
		} else {
			r.HandleFunc("/rtms/*", adminOff("RTMS is off: set "+rtmsVariables))
		}
	})
}
