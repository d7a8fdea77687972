package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
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
				writeTextFailure(w, r, badRequest("secret is given more than once"))
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
				writeTextFailure(w, r, errUnauthorized)
				return
			}
			// A parameter given twice is ambiguous: which one would Zoom be asked about?
			for _, name := range []string{"meeting_id", "type", "user", "ref", "bypass_waiting_room", "rtms_stream_id"} {
				if len(q[name]) > 1 {
					writeTextFailure(w, r, badRequest(name+" is given more than once"))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireAdmin answers 401 unless the request carries Authorization: Bearer T with T one of
// ADMIN_TOKENS (compared in constant time, every token visited).
func requireAdmin(tokens secretSet) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r)
			if !ok || !tokens.match(token) {
				writeJSONFailure(w, r, errUnauthorized, adminBody)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !equalFoldASCII(h[:7], "Bearer ") {
		return "", false
	}
	return h[7:], true
}
