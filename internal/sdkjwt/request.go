// Package sdkjwt makes Zoom SDK JWTs ("signatures") for the Meeting SDK and the Video SDK: it
// decodes and validates the JSON body of a signature request and signs the claims the SDK
// expects, byte for byte as Zoom's auth-endpoint samples do. It knows nothing of HTTP.
package sdkjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the token lifetime Zoom accepts, and the lifetime used when none is asked for.
const (
	MinExpirationSeconds     = 1800
	MaxExpirationSeconds     = 172800
	DefaultExpirationSeconds = 7200
)

// maxSafeInteger is the largest integer a JavaScript number holds exactly. A larger meeting
// number sent as a JSON number would be rounded by the SDK's own JavaScript, so it is refused and
// the caller is told to send it as a string.
const maxSafeInteger = 1<<53 - 1

// Property names, in the order errors are reported.
const (
	propertySchema            = "$schema"
	propertyMeetingNumber     = "meetingNumber"
	propertyRole              = "role"
	propertyExpirationSeconds = "expirationSeconds"
	propertyVideoWebRTCMode   = "videoWebRtcMode"
	propertyBody              = "body"
)

// MeetingNumber is the meeting number of a web token, kept with the JSON type it came in so the
// signed `mn` claim is what the caller sent. The zero value means "no meeting": a native token.
type MeetingNumber struct {
	// Digits is the number in decimal, without leading zeros when it came as a JSON number.
	Digits string
	// Quoted reports that it came as a JSON string.
	Quoted bool
}

// IsZero reports whether no meeting number was given.
func (m MeetingNumber) IsZero() bool { return m.Digits == "" }

// Request is a validated signature request.
type Request struct {
	// MeetingNumber and Role are both set (a web token) or both absent (a native token).
	MeetingNumber MeetingNumber
	Role          int
	// ExpirationSeconds is the token lifetime, DefaultExpirationSeconds unless asked.
	ExpirationSeconds int
	// VideoWebRTCMode is meaningful only when HasVideoWebRTCMode is true.
	VideoWebRTCMode    int
	HasVideoWebRTCMode bool
}

// FieldError is one problem with one property of the request.
type FieldError struct {
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

// ValidationError lists every problem found in a request, in the order the contract fixes:
// the both-or-neither rule, then meetingNumber, role, expirationSeconds, videoWebRtcMode.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Property + ": " + fe.Reason
	}
	return "invalid signature request: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(property, reason string) {
	e.Errors = append(e.Errors, FieldError{Property: property, Reason: reason})
}

// Decode parses and validates a request body. An empty body is the empty object (a native token
// with the default lifetime). Unknown properties are ignored; names match case-sensitively; a
// property that appears twice takes its last value, as in JavaScript. Every failure is a
// *ValidationError.
func Decode(body []byte) (Request, error) {
	var fields struct{ meetingNumber, role, expirationSeconds, videoWebRTCMode []byte }
	err := scanObject(body, func(name, value []byte) {
		switch string(name) {
		case propertyMeetingNumber:
			fields.meetingNumber = value
		case propertyRole:
			fields.role = value
		case propertyExpirationSeconds:
			fields.expirationSeconds = value
		case propertyVideoWebRTCMode:
			fields.videoWebRTCMode = value
		}
	})
	if err != nil {
		return Request{}, err
	}
	req := Request{ExpirationSeconds: DefaultExpirationSeconds}
	// Kept off the heap while the request is valid: the error is copied out only when it is not.
	var errs ValidationError
	verr := &errs

	hasMeeting, hasRole := fields.meetingNumber != nil, fields.role != nil
	if hasMeeting != hasRole {
		verr.add(propertySchema, "meetingNumber and role go together: send both for a web token, or neither for a native token")
	}
	if hasMeeting {
		req.MeetingNumber = meetingNumber(verr, fields.meetingNumber)
	}
	if hasRole {
		req.Role = choice(verr, propertyRole, fields.role, 1)
	}
	if fields.expirationSeconds != nil {
		req.ExpirationSeconds = expirationSeconds(verr, fields.expirationSeconds)
	}
	if fields.videoWebRTCMode != nil {
		req.VideoWebRTCMode, req.HasVideoWebRTCMode = choice(verr, propertyVideoWebRTCMode, fields.videoWebRTCMode, 1), true
	}
	if len(verr.Errors) > 0 {
		refused := errs
		return Request{}, &refused
	}
	return req, nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		if strings.Contains(syn.Error(), "max depth") {
			return fmt.Sprintf("nested deeper than JSON decoders allow (10000 levels), at byte %d", syn.Offset)
		}
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	return "unexpected end or structure"
}

func meetingNumber(verr *ValidationError, raw json.RawMessage) MeetingNumber {
	const want = "must be a string of digits or a non-negative integer"
	switch kind(raw) {
	case kindString:
		s, ok := unquote(raw)
		if !ok || s == "" || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			verr.add(propertyMeetingNumber, want+", got "+describe(raw))
			return MeetingNumber{}
		}
		return MeetingNumber{Digits: s, Quoted: true}
	case kindNumber:
		n, problem := wholeNumber(string(raw))
		switch {
		case problem != "":
			verr.add(propertyMeetingNumber, want+", got "+describe(raw)+" ("+problem+")")
		case n > maxSafeInteger:
			verr.add(propertyMeetingNumber, fmt.Sprintf("%s is above %d, where JavaScript numbers lose digits; send it as a string", raw, uint64(maxSafeInteger)))
		default:
			return MeetingNumber{Digits: strconv.FormatUint(n, 10)}
		}
		return MeetingNumber{}
	default:
		verr.add(propertyMeetingNumber, want+", got "+describe(raw))
		return MeetingNumber{}
	}
}

// choice accepts a whole number from 0 to highest (at most 9), as a number or a one-digit
// string: 1, "1", and 1.0 or 1e0, which are the same number; not "1abc" or " 1".
func choice(verr *ValidationError, property string, raw json.RawMessage, highest int) int {
	switch kind(raw) {
	case kindString:
		if s, ok := unquote(raw); ok && len(s) == 1 && s[0] >= '0' && int(s[0]-'0') <= highest {
			return int(s[0] - '0')
		}
	case kindNumber:
		if n, problem := wholeNumber(string(raw)); problem == "" && n <= uint64(highest) {
			return int(n)
		}
	}
	options := "0 or 1"
	if highest == 2 {
		options = "0, 1 or 2"
	}
	verr.add(property, "must be "+options+" (a number or a string), got "+describe(raw))
	return 0
}

func expirationSeconds(verr *ValidationError, raw json.RawMessage) int {
	var n uint64
	ok := false
	switch kind(raw) {
	case kindString:
		// Digits only, leading zeros allowed ("00000003600" is 3600, as the sample's parseInt
		// reads it); more than 10 significant digits is out of range anyway.
		if s, unquoted := unquote(raw); unquoted && len(s) > 0 &&
			strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			if digits := strings.TrimLeft(s, "0"); len(digits) <= 10 {
				n, _ = strconv.ParseUint("0"+digits, 10, 64)
				ok = true
			}
		}
	case kindNumber:
		var problem string
		n, problem = wholeNumber(string(raw))
		ok = problem == ""
	}
	if !ok || n < MinExpirationSeconds || n > MaxExpirationSeconds {
		verr.add(propertyExpirationSeconds, fmt.Sprintf("must be a whole number of seconds from %d to %d, got %s",
			MinExpirationSeconds, MaxExpirationSeconds, describe(raw)))
		return 0
	}
	return int(n)
}

type jsonKind int

const (
	kindOther jsonKind = iota
	kindString
	kindNumber
)

// kind classifies a raw value that encoding/json has already checked is well formed.
func kind(raw json.RawMessage) jsonKind {
	switch c := raw[0]; {
	case c == '"':
		return kindString
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindOther
}

// unquote decodes a JSON string value; one without escapes is taken as it stands.
func unquote(raw json.RawMessage) (string, bool) {
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// describe renders a received value for an error reason, cut short so a huge value cannot
// bloat the response.
func describe(raw json.RawMessage) string {
	const limit = 40
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if len(raw) > limit {
		return strings.ToValidUTF8(string(raw[:limit]), "\uFFFD") + "…"
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

// wholeNumber returns the exact value of a JSON number literal when it is a non-negative whole
// number of at most 16 digits, or a short problem otherwise. It works on the decimal digits, so
// 1.0, 1e0 and 10e-1 are 1, while 1.0000000000000000001 is a fraction, and 1e400 is too large:
// nothing is rounded through a float.
func wholeNumber(lit string) (uint64, string) {
	negative := strings.HasPrefix(lit, "-")
	lit = strings.TrimPrefix(lit, "-")
	mantissa, exponent := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mantissa = lit[:i]
		e, err := strconv.Atoi(lit[i+1:])
		switch {
		case err == nil && e > -1<<20 && e < 1<<20:
			exponent = e
		case strings.HasPrefix(lit[i+1:], "-"):
			exponent = -1 << 20
		default:
			exponent = 1 << 20
		}
	}
	integer, fraction, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(integer+fraction, "0")
	exponent -= len(fraction)
	if digits == "" {
		return 0, "" // zero, -0 included
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exponent++
	}
	switch {
	case exponent < 0:
		return 0, "not a whole number"
	case negative:
		return 0, "negative"
	case len(digits)+exponent > 16:
		return 0, "too large"
	}
	n, _ := strconv.ParseUint(digits, 10, 64)
	for range exponent {
		n *= 10
	}
	return n, ""
}
