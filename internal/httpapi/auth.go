package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/vend"
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

// match reports the index of the configured secret got is, or -1. It compares digests rather
// than the secrets themselves, so the time taken depends neither on how much of a guess is right
// nor on its length, and it visits every secret without an early exit, so it does not tell which
// one came close.
func (cs secretSet) match(got string) int {
	if got == "" {
		return -1
	}
	// A + in a secret that a bot URL did not percent-encode arrives as a space (query decoding,
	// as with base64 secrets a platform generated); the secret is still the secret.
	if strings.Contains(got, " ") {
		if i := cs.matchExactly(strings.ReplaceAll(got, " ", "+")); i >= 0 {
			return i
		}
	}
	return cs.matchExactly(got)
}

func (cs secretSet) matchExactly(got string) int {
	digest := sha256.Sum256([]byte(got))
	matched := -1
	for i := range cs.digests {
		if subtle.ConstantTimeCompare(digest[:], cs.digests[i][:]) == 1 && matched < 0 {
			matched = i
		}
	}
	return matched
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

// verify returns the index of the secret the request is signed with, and its webhook-id; -1 when
// it carries no valid signature. A GET has no body, so the signed content ends with the
// timestamp's dot. The Svix names are read only when none of the webhook-* headers is present.
func (sc signedCallback) verify(r *http.Request) (int, string) {
	if len(sc) == 0 {
		return -1, ""
	}
	headers := r.Header
	if r.Header.Get(signatureHeaders[0]) == "" && r.Header.Get(signatureHeaders[1]) == "" && r.Header.Get(signatureHeaders[2]) == "" {
		headers = http.Header{}
		for i, name := range svixHeaders {
			headers.Set(signatureHeaders[i], r.Header.Get(name))
		}
	}
	verified := -1
	for i, wh := range sc { // every secret is tried, so the time taken does not tell which matched
		if wh.Verify(nil, headers) == nil && verified < 0 {
			verified = i
		}
	}
	return verified, headers.Get(signatureHeaders[0])
}

// Kinds of bot-route caller, as the access log's caller field and the bot_auth metric name them.
const (
	callerLink      = "link"
	callerSecret    = "secret"
	callerSignature = "signature"
	callerAttendee  = "attendee"
	callerRefused   = "refused"
)

// caller is who a bot-route request comes from, as its credential says.
type caller struct {
	kind string
	// key is the index of the key or secret that matched (BOT_LINK_KEYS, CALLBACK_SECRETS,
	// CALLBACK_SIGNING_SECRETS), never the key.
	key   int
	reach vend.Reach
	// linkExpires is a link's expires, which with the route and its connection names the link
	// in the log.
	linkExpires int64
}

// OnceStore remembers one-time values (a signed request's webhook-id) across every replica.
type OnceStore interface {
	// FirstUse records key and reports whether this is its first use; it may forget key after
	// expiresAt.
	FirstUse(ctx context.Context, key string, expiresAt time.Time) (bool, error)
}

// replayWindow is how long a webhook-id is remembered: the Standard Webhooks window of 5 minutes
// each way around its timestamp, and a margin.
const replayWindow = 11 * time.Minute

// callerCheck decides who a bot-route request comes from: a bot link (sig in the query), a
// ?secret=, or a Standard Webhooks signature, each reaching what ACCESS.md says.
type callerCheck struct {
	links   *botlink.Keys // nil: bot links off
	secrets secretSet
	signed  signedCallback
	once    OnceStore
	// reach is what a secret or a signature reaches (CALLBACK_SECRETS_REACH).
	reach vend.Reach
	m     *metrics.Metrics
}

// errBotLinksOff answers a link sent to a service with no BOT_LINK_KEYS.
var errBotLinksOff = unauthorized("bot links are off here: set BOT_LINK_KEYS")

// errReplayed answers a signed request whose webhook-id was used before.
var errReplayed = unauthorized("this signed request was used before: sign each request anew")

// identify returns the request's caller, or the error that refuses it (400, 401, or 503 when a
// signature's webhook-id cannot be checked).
func (cc *callerCheck) identify(r *http.Request) (caller, error) {
	q := r.URL.Query()
	if botlink.HasSig(r.URL.RawQuery) {
		if cc.links == nil {
			return caller{}, errBotLinksOff
		}
		link, err := cc.links.Verify(r.URL.Path, r.URL.RawQuery)
		var bad *botlink.Malformed
		switch {
		case errors.As(err, &bad):
			return caller{}, badRequest(bad.Error())
		case err != nil:
			return caller{}, unauthorized(err.Error())
		}
		return caller{kind: callerLink, key: link.Key, reach: vend.ReachConnected, linkExpires: link.Expires.Unix()}, nil
	}
	if len(q["secret"]) > 1 {
		return caller{}, badRequest("secret is given more than once")
	}
	if i := cc.secrets.match(q.Get("secret")); i >= 0 {
		return caller{kind: callerSecret, key: i, reach: cc.reach}, nil
	}
	i, id := cc.signed.verify(r)
	switch {
	case i >= 0:
	case q.Has("secret"):
		return caller{}, unauthorized("secret matches none of CALLBACK_SECRETS")
	case r.Header.Get(signatureHeaders[2]) != "" || r.Header.Get(svixHeaders[2]) != "":
		return caller{}, unauthorized("the signature matches none of CALLBACK_SIGNING_SECRETS, or its webhook-timestamp is more than 5 minutes off")
	default:
		return caller{}, unauthorized("no credential: send a bot link (…&expires=…&sig=…), ?secret=, or a request signed the Standard Webhooks way")
	}
	first, err := cc.once.FirstUse(r.Context(), "webhook-id\x00"+id, time.Now().Add(replayWindow))
	switch {
	case err != nil:
		return caller{}, err
	case !first:
		return caller{}, errReplayed
	}
	return caller{kind: callerSignature, key: i, reach: cc.reach}, nil
}

// requireCaller answers 401 (or 400 for a malformed link) unless the request carries a bot link,
// a ?secret= or a signature this service accepts. It runs before any other check so an
// unauthenticated caller learns nothing and never reaches Zoom. The caller goes with the
// exchange, for the handler's reach and the access log.
func requireCaller(cc *callerCheck) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := cc.identify(r)
			if err != nil {
				cc.m.ObserveBotAuth(callerRefused)
				writeTextFailure(w, r, err)
				return
			}
			cc.m.ObserveBotAuth(c.kind)
			exchangeOf(w).caller = &c
			// A parameter given twice is ambiguous: which one would Zoom be asked about?
			q := r.URL.Query()
			for _, name := range []string{"meeting_id", "type", "user", "ref", "bypass_waiting_room", "rtms_stream_id", "min_valid"} {
				if len(q[name]) > 1 {
					writeTextFailure(w, r, badRequest(name+" is given more than once"))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// reachOf is what the request's caller reaches; outside requireCaller, the operator's own
// account only.
func reachOf(w http.ResponseWriter) vend.Reach {
	if c := exchangeOf(w).caller; c != nil {
		return c.reach
	}
	return vend.ReachOwnAccount
}

// memoryOnce is the OnceStore of a single process (no database): a map pruned as it is written.
type memoryOnce struct {
	mu       sync.Mutex
	seen     map[string]time.Time
	prunedAt time.Time
}

// FirstUse implements OnceStore.
func (o *memoryOnce) FirstUse(_ context.Context, key string, expiresAt time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.seen == nil {
		o.seen = map[string]time.Time{}
	}
	if now.Sub(o.prunedAt) > time.Minute { // at most once a minute: a prune visits every key
		o.prunedAt = now
		for k, until := range o.seen {
			if now.After(until) {
				delete(o.seen, k)
			}
		}
	}
	if until, ok := o.seen[key]; ok && now.Before(until) {
		return false, nil
	}
	o.seen[key] = expiresAt
	return true, nil
}

// requireAdmin answers 401 unless the request carries Authorization: Bearer T with T one of
// ADMIN_TOKENS (compared in constant time, every token visited).
func requireAdmin(tokens secretSet) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r)
			if !ok || tokens.match(token) < 0 {
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
