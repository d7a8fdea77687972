// Package connectlink makes and checks the signed, expiring links an operator gives a user to
// connect their Zoom account: PUBLIC_URL/connect?ref=R&expires=T&sig=S. A link can be opened
// more than once until it expires; changing any part of it breaks the signature.
package connectlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a link's lifetime and ref, as the contract sets them.
const (
	DefaultTTL   = 24 * time.Hour
	MaxTTL       = 30 * 24 * time.Hour
	MaxRefLength = 200
)

// CheckRef says what is wrong with a ref an operator gives a user (an empty ref is none): at most
// MaxRefLength characters of UTF-8 text, with no comma, since attendee's bot_metadata lists
// several refs in one comma-separated string.
func CheckRef(ref string) error {
	switch {
	case !utf8.ValidString(ref) || utf8.RuneCountInString(ref) > MaxRefLength:
		return errors.New("ref must be text of at most 200 characters")
	case strings.Contains(ref, ","):
		return errors.New("ref must not contain a comma: attendee's bot_metadata separates several refs with commas")
	case strings.ContainsFunc(ref, unicode.IsControl):
		return errors.New("ref must not contain control characters")
	}
	return nil
}

// Errors Verify returns.
var (
	ErrInvalid = errors.New("the link is not one this service made, or it was changed")
	ErrExpired = errors.New("the link has expired")
)

// Signer signs and verifies links. The signing keys are derived from the token encryption keys
// (the first signs, every one verifies), so rotating those keys rotates these too.
type Signer struct {
	keys      [][]byte
	publicURL string
	now       func() time.Time
}

// NewSigner returns a Signer for links under publicURL. secrets are the raw token encryption
// keys, the current one first.
func NewSigner(publicURL string, secrets [][]byte, now func() time.Time) *Signer {
	s := &Signer{publicURL: publicURL, now: now}
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("zoomtoken connect-link key v1"))
		s.keys = append(s.keys, mac.Sum(nil))
	}
	return s
}

func sign(key []byte, ref string, expires int64) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("connect\x00" + ref + "\x00" + strconv.FormatInt(expires, 10)))
	return mac.Sum(nil)
}

// Mint returns a link for ref (empty for none) that works for ttl, and when it expires.
func (s *Signer) Mint(ref string, ttl time.Duration) (string, time.Time) {
	expires := s.now().Add(ttl).Truncate(time.Second)
	q := url.Values{}
	if ref != "" {
		q.Set("ref", ref)
	}
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	q.Set("sig", base64.RawURLEncoding.EncodeToString(sign(s.keys[0], ref, expires.Unix())))
	return s.publicURL + "/connect?" + q.Encode(), expires.UTC()
}

// Verify checks a link's query and returns its ref.
func (s *Signer) Verify(q url.Values) (string, error) {
	ref := q.Get("ref")
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	// Strictly base64url without padding: Go's decoder skips line breaks, so the text must also
	// be what encoding the bytes gives back.
	sig, sigErr := base64.RawURLEncoding.Strict().DecodeString(q.Get("sig"))
	if sigErr == nil && base64.RawURLEncoding.EncodeToString(sig) != q.Get("sig") {
		sigErr = ErrInvalid
	}
	if err != nil || sigErr != nil || len(q["ref"]) > 1 || len(q["expires"]) > 1 || len(q["sig"]) > 1 {
		return "", ErrInvalid
	}
	valid := false
	for _, key := range s.keys {
		if hmac.Equal(sig, sign(key, ref, expires)) {
			valid = true
		}
	}
	switch {
	case !valid:
		return "", ErrInvalid
	case !s.now().Before(time.Unix(expires, 0)):
		return "", ErrExpired
	}
	return ref, nil
}
