// Package botlink makes and checks bot links: bot-route URLs that are their own, narrow
// credential. A link's query carries expires and sig, and the signature covers the route's path
// and every other parameter, so a link authorises exactly that route with exactly those
// parameters until it expires. The recipe is public (docs/meeting-bots.md#bot-links), so an
// operator's backend can mint links without calling zoomtoken:
//
//	sig = base64url(HMAC-SHA256(key, "zoomtoken bot-link v1\nGET\n" + path + "\n" + Q))
//
// where Q is every parameter but sig as name=value, both percent-encoded per RFC 3986, sorted
// by name and joined by &.
package botlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits, as the contract sets them.
const (
	// MinKeyLength is the shortest BOT_LINK_KEYS entry accepted.
	MinKeyLength = 32
	DefaultTTL   = 24 * time.Hour
	MaxTTL       = 30 * 24 * time.Hour
)

// prefix starts every string to sign: the scheme's name and version, and the method.
const prefix = "zoomtoken bot-link v1\nGET\n"

// Routes are the bot routes a link may name, each with the parameters it reads.
var Routes = map[string][]string{
	"/zak":            {"user", "ref"},
	"/join-token":     {"meeting_id", "type", "bypass_waiting_room", "user", "ref"},
	"/obf-token":      {"user", "ref", "meeting_id"},
	"/access-token":   {"user", "ref", "min_valid"},
	"/rtms/stream":    {"rtms_stream_id"},
	"/rtms/signature": {"rtms_stream_id"},
}

// Errors Verify returns: Malformed is the caller's mistake (400), the others a link that does
// not authorise (401).
var (
	ErrInvalid = errors.New("the link's signature does not match: it was changed, or signed with another key")
	ErrExpired = errors.New("the link has expired: mint a new one")
)

// Malformed is a link that cannot be checked as it stands; Reason says why.
type Malformed struct{ Reason string }

func (e *Malformed) Error() string { return "malformed bot link: " + e.Reason }

func malformed(reason string) error { return &Malformed{Reason: reason} }

// Link is a verified link.
type Link struct {
	// Params are its parameters, expires and sig left out.
	Params url.Values
	// Key is the index in BOT_LINK_KEYS of the key that signed it.
	Key     int
	Expires time.Time
}

// Keys mints and checks links with BOT_LINK_KEYS: the first signs, every one verifies.
type Keys struct {
	keys [][]byte
	now  func() time.Time
}

// New returns the keys; now is the clock expiry is judged by.
func New(keys [][]byte, now func() time.Time) *Keys { return &Keys{keys: keys, now: now} }

// HasSig reports whether a raw query is meant as a bot link: it carries sig.
func HasSig(rawQuery string) bool {
	for part := range strings.SplitSeq(rawQuery, "&") {
		if name, _, _ := strings.Cut(part, "="); name == "sig" {
			return true
		}
	}
	return false
}

// Mint returns path?query of a link to route with params, working for ttl, and when it expires.
// The params are checked for names only: the route checks their values when the link is used.
func (k *Keys) Mint(route string, params map[string]string, ttl time.Duration) (string, time.Time, error) {
	allowed, ok := Routes[route]
	if !ok {
		return "", time.Time{}, malformed("route must be one of " + strings.Join(routeNames(), ", "))
	}
	if ttl < time.Second || ttl > MaxTTL {
		return "", time.Time{}, malformed("the lifetime must be from 1 second to 30 days")
	}
	q := url.Values{}
	for name, value := range params {
		if !slices.Contains(allowed, name) {
			return "", time.Time{}, malformed(route + " takes no parameter " + strconv.Quote(name) + " (it takes " + strings.Join(allowed, ", ") + ")")
		}
		q.Set(name, value)
	}
	expires := k.now().Add(ttl).Truncate(time.Second)
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	canonical := Canonical(q)
	sig := base64.RawURLEncoding.EncodeToString(sign(k.keys[0], route, canonical))
	return route + "?" + canonical + "&sig=" + sig, expires.UTC(), nil
}

// Verify checks the link a request to path with rawQuery carries. Malformed links are refused
// before any key is tried.
func (k *Keys) Verify(path, rawQuery string) (Link, error) {
	allowed, ok := Routes[path]
	if !ok {
		return Link{}, malformed("bot links are for " + strings.Join(routeNames(), ", "))
	}
	q := url.Values{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		switch {
		case err1 != nil || err2 != nil:
			return Link{}, malformed("a parameter is not percent-encoded")
		case q.Has(name):
			return Link{}, malformed(strconv.Quote(name) + " is given more than once")
		case name != "sig" && name != "expires" && !slices.Contains(allowed, name):
			return Link{}, malformed(path + " takes no parameter " + strconv.Quote(name) + " in a link (it takes " +
				strings.Join(allowed, ", ") + ", expires and sig)")
		}
		q.Set(name, value)
	}
	sig, ok := decodeSig(q.Get("sig"))
	if !ok {
		return Link{}, malformed("sig must be the HMAC-SHA256 in base64url without padding, whitespace or line breaks")
	}
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || strings.Trim(q.Get("expires"), "0123456789") != "" {
		return Link{}, malformed("expires must be Unix seconds")
	}
	if time.Unix(expires, 0).After(k.now().Add(MaxTTL + time.Minute)) {
		return Link{}, malformed("expires is more than 30 days ahead")
	}
	q.Del("sig")
	want := Canonical(q)
	key := -1
	for i := range k.keys { // every key is tried, so the time taken does not tell which matched
		if hmac.Equal(sig, sign(k.keys[i], path, want)) && key < 0 {
			key = i
		}
	}
	switch {
	case key < 0:
		return Link{}, ErrInvalid
	case !k.now().Before(time.Unix(expires, 0)):
		return Link{}, ErrExpired
	}
	q.Del("expires")
	return Link{Params: q, Key: key, Expires: time.Unix(expires, 0).UTC()}, nil
}

// Canonical is Q: every parameter as name=value, both percent-encoded per RFC 3986, sorted by
// name and joined by &. Each name appears once (Verify refuses repeats).
func Canonical(q url.Values) string {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(encode(name))
		b.WriteByte('=')
		b.WriteString(encode(q.Get(name)))
	}
	return b.String()
}

// sign is the link's HMAC under key.
func sign(key []byte, path, canonical string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(prefix + path + "\n" + canonical))
	return mac.Sum(nil)
}

// encode percent-encodes s per RFC 3986: unreserved bytes as they are, every other byte %XX in
// upper-case hex.
func encode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// decodeSig decodes a signature given as strict base64url without padding: Go's decoder skips
// line breaks, so the text must also be exactly what encoding the bytes gives back.
func decodeSig(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != sha256.Size || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// routeNames lists the routes a link may name, sorted.
func routeNames() []string {
	names := make([]string, 0, len(Routes))
	for name := range Routes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
