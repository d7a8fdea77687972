package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoomtoken/zoomtoken/internal/connections"
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

	r.Group(func(r chi.Router) {
		r.Use(corsFor(d.CORSAllowedOrigins))
		r.Post("/", handleSignature(d.Signer))
		r.Get("/", handleAbout())
		r.Options("/", handlePreflight())
		r.Post("/video-sdk", handleVideoSignature(d.VideoSigner))
		r.Options("/video-sdk", handlePreflight())
	})

	// Bot routes. One that no configured feature serves answers 404 before the caller check;
	// otherwise the caller check (secret or signature) comes before anything else.
	r.Group(func(r chi.Router) {
		r.Use(noStore)
		for _, path := range []string{"/zak", "/join-token", "/obf-token"} {
			r.HandleFunc(path, methodNotAllowed) // every method but the GET registered below
		}
		guard := requireCaller(newSecretSet(d.CallbackSecrets), d.CallbackSigners, d.Metrics)
		s2sOff := featureOff(s2sVariables)

		s2sZAK := s2sOff
		switch {
		case d.Zoom != nil && d.ZAKUser == "":
			s2sZAK = featureOff("ZOOM_ZAK_USER")
		case d.Zoom != nil:
			s2sZAK = handleZAK(d.Zoom, d.ZAKUser, d.ZAKTTL)
		}
		if d.Zoom == nil && d.Connected == nil {
			r.Get("/zak", s2sOff)
			r.Get("/join-token", s2sOff)
		} else {
			r.With(guard).Get("/zak", handleZAKRoute(s2sZAK, d.Connected))
			r.With(guard).Get("/join-token", handleJoinToken(d.Zoom, d.Connected))
		}
		if d.Connected == nil {
			r.Get("/obf-token", connectedOff)
		} else {
			r.With(guard).Get("/obf-token", handleOBF(d.Connected))
		}

		// Realtime Media Streams: what a worker needs to join a stream, without the Client Secret.
		for _, path := range []string{"/rtms/stream", "/rtms/signature"} {
			r.HandleFunc(path, methodNotAllowed)
		}
		if d.RTMS == nil {
			r.Get("/rtms/stream", featureOff(rtmsVariables))
			r.Get("/rtms/signature", featureOff(rtmsVariables))
		} else {
			r.With(guard).Get("/rtms/stream", handleRTMSStream(d.RTMS))
			r.With(guard).Get("/rtms/signature", handleRTMSSignature(d.RTMS))
		}
	})

	// attendee's bots ask here for their Zoom tokens right before joining.
	r.Group(func(r chi.Router) {
		r.Use(noStore)
		r.HandleFunc("/callbacks/attendee", onlyMethod(http.MethodPost))
		if d.Attendee == nil {
			r.Post("/callbacks/attendee", featureOff("ATTENDEE_WEBHOOK_SECRETS"))
		} else {
			r.Post("/callbacks/attendee", handleAttendee(d.Attendee, d.Zoom, d.ZAKUser, d.ZAKTTL, d.Connected, d.Metrics))
		}
	})

	// Zoom's event notifications keep the meeting map and the connections current.
	if len(d.ZoomWebhookTokens) > 0 {
		var m *connections.Manager
		if d.Connected != nil {
			m = d.Connected.Manager
		}
		r.Post("/webhooks/zoom", handleZoomWebhook(d.ZoomWebhookTokens, m, d.RTMS, d.Metrics, time.Now))
	} else {
		r.Post("/webhooks/zoom", featureOff("ZOOM_WEBHOOK_SECRET_TOKENS"))
	}

	// Connecting an account: a link from the operator, Zoom's consent, and back.
	if d.Connected != nil && d.ConnectFlow != nil {
		r.Get("/connect", handleConnect(d.Connected, d.ConnectFlow))
		r.Get("/oauth/callback", handleCallback(d.Connected, d.ConnectFlow))
	} else {
		r.Get("/connect", connectedOff)
		r.Get("/oauth/callback", connectedOff)
	}

	// The admin API, for the operator's backend.
	r.Route("/admin", func(r chi.Router) {
		r.Use(noStore)
		if len(d.AdminTokens) == 0 || d.Connected == nil {
			r.HandleFunc("/*", func(w http.ResponseWriter, r *http.Request) {
				writeAdminError(w, http.StatusNotFound, "the admin API is off: set ADMIN_TOKENS (with connected accounts on)")
			})
			return
		}
		r.Use(requireAdmin(newSecretSet(d.AdminTokens)))
		r.Get("/connections", handleListConnections(d.Connected.Manager))
		r.Get("/connections/{id}", handleGetConnection(d.Connected.Manager))
		r.Delete("/connections/{id}", handleDeleteConnection(d.Connected.Manager))
		r.Delete("/connections/{id}/refs/{ref}", handleRemoveRef(d.Connected.Manager))
		r.Post("/connect-links", handleCreateConnectLink(d.ConnectFlow.Links))
		if d.RTMS != nil {
			r.Post("/rtms/start", handleRTMSControl(zoom.RTMSStart, d.RTMS, d.Connected, d.Zoom))
			r.Post("/rtms/stop", handleRTMSControl(zoom.RTMSStop, d.RTMS, d.Connected, d.Zoom))
		} else {
			r.Post("/rtms/*", func(w http.ResponseWriter, r *http.Request) {
				writeAdminError(w, http.StatusNotFound, "RTMS is off: set "+rtmsVariables)
			})
		}
	})
}
