package attendee

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// Why a request's signature was refused. The reasons name what was wrong, never the signature.
var (
	ErrNoSignature        = errors.New("no X-Webhook-Signature header")
	ErrMalformedSignature = errors.New("X-Webhook-Signature is not the base64 of a 32-byte HMAC-SHA256")
	ErrBadSignature       = errors.New("X-Webhook-Signature matches none of ATTENDEE_WEBHOOK_SECRETS")
)

// Verifier checks attendee's X-Webhook-Signature: base64(HMAC-SHA256(key, canonical JSON)),
// where the key is a project's webhook secret as attendee's dashboard shows it, base64-decoded.
// It holds every key in rotation.
type Verifier struct {
	keys [][]byte
}

// NewVerifier returns a Verifier for the given keys (already base64-decoded).
func NewVerifier(keys [][]byte) *Verifier {
	return &Verifier{keys: keys}
}

// Verify checks header against body and returns the index of the key that signed it. Every key
// is tried, with no early exit, and the MACs are compared in constant time, so the time taken
// tells nothing of which key came close.
func (v *Verifier) Verify(body []byte, header string) (int, error) {
	if header == "" {
		return -1, ErrNoSignature
	}
	got, err := base64.StdEncoding.Strict().DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return -1, ErrMalformedSignature
	}
	canonical, err := Canonical(body)
	if err != nil {
		return -1, err
	}
	matched := -1
	for i, key := range v.keys {
		if subtle.ConstantTimeCompare(sign(key, canonical), got) == 1 && matched < 0 {
			matched = i
		}
	}
	if matched < 0 {
		return -1, ErrBadSignature
	}
	return matched, nil
}

// sign returns the raw HMAC-SHA256 of canonical under key, which base64 makes the header.
func sign(key, canonical []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(canonical)
	return mac.Sum(nil)
}
