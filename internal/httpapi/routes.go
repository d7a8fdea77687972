package httpapi

import (
	"github.com/go-chi/chi/v5"
)

// addRoutes lists every route the service answers.
func addRoutes(r chi.Router, d Deps) {
	r.Use(
		requestContext(d.Logger),
		accessLog(d.Metrics),
		recoverPanic,
	)

	r.Get("/healthz", handleHealthz())
	if d.Metrics != nil && !d.MetricsElsewhere {
		r.Get("/metrics", d.Metrics.Handler().ServeHTTP)
	}

	r.Group(func(r chi.Router) {
		r.Use(corsFor(d.CORSAllowedOrigins))
		r.Post("/", handleSignature(d.Signer))
		r.Options("/", handlePreflight())
		r.Post("/video-sdk", handleVideoSignature(d.VideoSigner))
		r.Options("/video-sdk", handlePreflight())
	})

	r.Group(func(r chi.Router) {
		r.Use(noStore)
		if d.Zoom == nil {
			off := featureOff("ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and CALLBACK_SECRETS (or CALLBACK_SIGNING_SECRETS)")
			r.Get("/zak", off)
			r.Get("/join-token", off)
			return
		}
		r.Use(requireCaller(newCallbackSecrets(d.CallbackSecrets), d.CallbackSigners, d.Metrics))
		if d.ZAKUser == "" {
			r.Get("/zak", featureOff("ZOOM_ZAK_USER"))
		} else {
			r.Get("/zak", handleZAK(d.Zoom, d.ZAKUser, d.ZAKTTL))
		}
		r.Get("/join-token", handleJoinToken(d.Zoom))
	})
}
