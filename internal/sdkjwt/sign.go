package sdkjwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is the payload of a Meeting SDK JWT. Its JSON is written by hand, key by key, in the
// order Zoom's Node sample produces them (appKey, sdkKey, mn, role, iat, exp, tokenExp,
// video_webrtc_mode) and with JavaScript's string escaping, so that for the same inputs and clock
// the token is byte-identical to the sample's.
type Claims struct {
	SDKKey        string
	MeetingNumber MeetingNumber // zero: no mn and no role (a native token)
	Role          int
	IssuedAt      int64
	ExpiresAt     int64
	// VideoWebRTCMode is written only when HasVideoWebRTCMode is true.
	VideoWebRTCMode    int
	HasVideoWebRTCMode bool
}

// MarshalJSON writes the payload in the contract's key order.
func (c Claims) MarshalJSON() ([]byte, error) {
	return c.appendJSON(make([]byte, 0, 160+2*len(c.SDKKey))), nil
}

// appendJSON appends the payload to b.
func (c Claims) appendJSON(b []byte) []byte {
	b = append(b, `{"appKey":`...)
	b = appendJSString(b, c.SDKKey)
	b = append(b, `,"sdkKey":`...)
	b = appendJSString(b, c.SDKKey)
	if !c.MeetingNumber.IsZero() {
		b = append(b, `,"mn":`...)
		if c.MeetingNumber.Quoted {
			b = append(b, '"')
			b = append(b, c.MeetingNumber.Digits...)
			b = append(b, '"')
		} else {
			b = append(b, c.MeetingNumber.Digits...)
		}
		b = append(b, `,"role":`...)
		b = strconv.AppendInt(b, int64(c.Role), 10)
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	b = append(b, `,"tokenExp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	if c.HasVideoWebRTCMode {
		b = append(b, `,"video_webrtc_mode":`...)
		b = strconv.AppendInt(b, int64(c.VideoWebRTCMode), 10)
	}
	return append(b, '}')
}

// appendJSString appends s as JavaScript's JSON.stringify writes it: only the quote, the
// backslash and control characters are escaped (encoding/json would also escape <, >, & and
// U+2028/U+2029, which would change the signed bytes).
func appendJSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// The jwt.Claims methods let golang-jwt sign and verify Claims.

// GetExpirationTime implements jwt.Claims.
func (c Claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}

// GetIssuedAt implements jwt.Claims.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}

// GetNotBefore implements jwt.Claims; Meeting SDK tokens have no nbf.
func (c Claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims; Meeting SDK tokens have no iss.
func (c Claims) GetIssuer() (string, error) { return "", nil }

// GetSubject implements jwt.Claims; Meeting SDK tokens have no sub.
func (c Claims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims; Meeting SDK tokens have no aud.
func (c Claims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

// hs256 signs JWTs with HMAC-SHA256 under one secret, used as raw bytes (never hex-decoded).
type hs256 struct {
	// macs recycles HMAC-SHA256s keyed with the secret: keying a new one hashes the secret and
	// allocates three objects, together about a third of the cost of a token.
	macs *sync.Pool
}

// keyedMAC is an HMAC-SHA256 keyed with the secret, and room for its sum (which, passed through
// the hash.Hash interface, would otherwise be allocated for every token).
type keyedMAC struct {
	hash.Hash
	sum [sha256.Size]byte
}

func newHS256(secret []byte) hs256 {
	return hs256{macs: &sync.Pool{New: func() any { return &keyedMAC{Hash: hmac.New(sha256.New, secret)} }}}
}

// headerSegment is the encoded header golang-jwt writes for HS256, {"alg":"HS256","typ":"JWT"}.
// It never changes, so it is encoded once rather than marshalled from a map for every token.
const headerSegment = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// appendToken appends the HS256 JWT of a JSON payload to dst: the same bytes as golang-jwt's
// Token.SignedString (a test holds it to that).
func (k hs256) appendToken(dst, payload []byte) []byte {
	enc := base64.RawURLEncoding
	const sigLen = 43 // base64url of a 32-byte HMAC-SHA256
	dst = slices.Grow(dst, len(headerSegment)+1+enc.EncodedLen(len(payload))+1+sigLen)
	start := len(dst)
	dst = append(dst, headerSegment...)
	dst = append(dst, '.')
	dst = enc.AppendEncode(dst, payload)
	mac := k.macs.Get().(*keyedMAC)
	defer k.macs.Put(mac)
	mac.Reset()
	mac.Write(dst[start:])
	dst = append(dst, '.')
	return enc.AppendEncode(dst, mac.Sum(mac.sum[:0]))
}

// Signer signs Meeting SDK JWTs with one app's key and secret.
type Signer struct {
	key string
	hs256
	now func() time.Time
}

// NewSigner returns a Signer for the SDK app. The secret is used as raw bytes, never
// hex-decoded. now is the clock the tokens' iat is read from.
func NewSigner(key string, secret []byte, now func() time.Time) *Signer {
	return &Signer{key: key, hs256: newHS256(secret), now: now}
}

// Key returns the SDK key the tokens are issued for.
func (s *Signer) Key() string { return s.key }

// Claims returns the claims a token for req carries at the signer's current time.
func (s *Signer) Claims(req Request) Claims {
	iat := s.now().Unix()
	return Claims{
		SDKKey:             s.key,
		MeetingNumber:      req.MeetingNumber,
		Role:               req.Role,
		IssuedAt:           iat,
		ExpiresAt:          iat + int64(req.ExpirationSeconds),
		VideoWebRTCMode:    req.VideoWebRTCMode,
		HasVideoWebRTCMode: req.HasVideoWebRTCMode,
	}
}

// Sign returns the HS256 JWT for req.
func (s *Signer) Sign(req Request) (string, error) {
	return string(s.AppendToken(nil, req)), nil
}

// AppendToken appends the HS256 JWT for req to dst, for a caller that writes it out with other
// bytes and so need not allocate it on its own.
func (s *Signer) AppendToken(dst []byte, req Request) []byte {
	var scratch [256]byte // the payload is about 170 bytes: no heap allocation for it
	return s.appendToken(dst, s.Claims(req).appendJSON(scratch[:0]))
}
