package httpapi

import (
	"github.com/go-chi/chi/v5"
)

// addRoutes lists every route the service answers.
func addRoutes(r chi.Router, d Deps) {
	r.Use(
		requestID,
		withLogger(d.Logger),
		accessLog,
		recoverPanic,
	)

	r.Get("/healthz", handleHealthz())

	r.Group(func(r chi.Router) {
		r.Use(corsFor(d.CORSAllowedOrigins))
		r.Post("/", handleSignature(d.Signer))
		r.Options("/", handlePreflight())
	})
}
