package httpapi

import (
	"net/http"

	"github.com/go-chi/cors"

	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
)

// handlePreflight answers OPTIONS / once the CORS middleware has set its headers.
func handlePreflight() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// corsFor returns the CORS middleware of POST /. With no allow-list any origin may call; with
// one, a request from another origin is refused with 403 before it reaches the handler. A request
// without an Origin header is no browser's cross-origin call (curl, a server), so CORS has nothing
// to say to it and it goes straight to the handler: this is also the path of every request the
// benchmark sends. (The Vary: Origin go-chi/cors adds would only matter to a cache, and nothing
// caches these POST answers.)
func corsFor(allowed []string) func(http.Handler) http.Handler {
	opts := cors.Options{
		AllowedMethods:     []string{http.MethodPost},
		AllowedHeaders:     []string{"*"},
		ExposedHeaders:     []string{requestIDHeader},
		MaxAge:             600,
		OptionsPassthrough: true, // so OPTIONS / answers 204 rather than the middleware's 200
	}
	originAllowed := func(string) bool { return true }
	if allowed == nil {
		opts.AllowedOrigins = []string{"*"}
	} else {
		originAllowed = func(origin string) bool {
			for _, a := range allowed {
				if equalFoldASCII(origin, a) {
					return true
				}
			}
			return false
		}
		opts.AllowOriginFunc = func(_ *http.Request, origin string) bool { return originAllowed(origin) }
	}
	withCORS := cors.Handler(opts)
	return func(next http.Handler) http.Handler {
		inner := withCORS(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin, sent := r.Header["Origin"]
			switch {
			case !sent:
				next.ServeHTTP(w, r)
			case !originAllowed(origin[0]):
				writeFieldErrors(w, http.StatusForbidden, sdkjwt.FieldError{Property: "Origin",
					Reason: "this origin is not in CORS_ALLOWED_ORIGINS"})
			default:
				inner.ServeHTTP(w, r)
			}
		})
	}
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
