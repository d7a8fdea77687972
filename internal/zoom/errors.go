package zoom

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says what a failure means for the caller, so the HTTP layer can map it to a status.
type Kind int

// The kinds of failure.
const (
	// KindUnavailable: Zoom is unreachable, timing out, failing with 5xx, or rate-limiting us.
	// Trying again later may work; RetryAfter says when, if known.
	KindUnavailable Kind = iota + 1
	// KindNotFound: Zoom cannot make this token: the meeting or user does not exist, or the
	// meeting does not allow it.
	KindNotFound
	// KindRefused: Zoom refused us: bad S2S credentials, a missing scope, an answer we cannot
	// read. An operator has to act; retrying will not help.
	KindRefused
)

func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindNotFound:
		return "not found"
	case KindRefused:
		return "refused"
	}
	return "unknown"
}

// Error is a failed call to Zoom. It carries what Zoom said, for logs, and never a token.
type Error struct {
	Kind Kind
	// Op is the call, such as "access token", "join token", "refresh" or "obf token" (the
	// op constants of s2s.go and user.go).
	Op string
	// Status is the HTTP status Zoom answered, zero when no answer came.
	Status int
	// Code is Zoom's numeric error code, zero when none; OAuthError is the token endpoint's
	// "error" field.
	Code       int
	OAuthError string
	// Message is Zoom's message, or our description when Zoom gave none.
	Message string
	// TrackingID is Zoom's x-zm-trackingid header, for Zoom support.
	TrackingID string
	// RateLimitType is Zoom's X-RateLimit-Type ("QPS" or "Daily-limit") on a 429.
	RateLimitType string
	// RetryAfter is how long until a retry may succeed, zero when unknown.
	RetryAfter time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zoom %s: %s", e.Op, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.OAuthError != "" {
		fmt.Fprintf(&b, " %s", e.OAuthError)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.TrackingID != "" {
		fmt.Fprintf(&b, " (tracking id %s)", e.TrackingID)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or zero if err is not an *Error.
func KindOf(err error) Kind {
	var zerr *Error
	if errors.As(err, &zerr) {
		return zerr.Kind
	}
	return 0
}

// maxMessage caps how much of Zoom's message an error keeps.
const maxMessage = 300

func clip(s string) string {
	if len(s) > maxMessage {
		return strings.ToValidUTF8(s[:maxMessage], "") + "…"
	}
	return s
}
