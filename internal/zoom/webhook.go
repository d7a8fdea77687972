package zoom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// WebhookWindow is how far a webhook's timestamp may be from now. Zoom documents none; five
// minutes is the usual choice (and Standard Webhooks').
const WebhookWindow = 5 * time.Minute

// WebhookSignature returns the x-zm-signature Zoom sends for a body: v0= and the hex
// HMAC-SHA256, keyed with the subscription's secret token, of "v0:{timestamp}:{body}".
func WebhookSignature(secretToken, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretToken))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook reports whether a webhook's raw body and headers were signed with one of the
// secret tokens (each compared in constant time, every one tried) at a time within
// WebhookWindow of now.
func VerifyWebhook(secretTokens []string, timestamp, signature string, body []byte, now time.Time) bool {
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(seconds, 0)); d > WebhookWindow || d < -WebhookWindow {
		return false
	}
	valid := false
	for _, token := range secretTokens {
		if hmac.Equal([]byte(signature), []byte(WebhookSignature(token, timestamp, body))) {
			valid = true
		}
	}
	return valid
}

// URLValidation answers Zoom's endpoint.url_validation challenge: the hex HMAC-SHA256 of the
// plain token, keyed with the secret token.
func URLValidation(secretToken, plainToken string) string {
	mac := hmac.New(sha256.New, []byte(secretToken))
	mac.Write([]byte(plainToken))
	return hex.EncodeToString(mac.Sum(nil))
}
