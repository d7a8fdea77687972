package sdkjwt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of the Video SDK fields, as Zoom's videosdk-auth-endpoint-sample and Zoom's Video SDK
// auth doc set them. Lengths are counted in UTF-16 code units, as the sample's JavaScript counts.
const (
	MaxSessionNameLength  = 200
	MaxUserIdentityLength = 35
	MaxSessionKeyLength   = 36
	MaxUserKeyLength      = 36
)

// GeoRegions lists the region codes a Video SDK token may name, as Zoom spells them.
var GeoRegions = []string{"AU", "BR", "CA", "CN", "DE", "HK", "IN", "JP", "MX", "NL", "SG", "US"}

// Video SDK property names, in the order errors are reported.
const (
	propertySessionName                    = "sessionName"
	propertyUserIdentity                   = "userIdentity"
	propertySessionKey                     = "sessionKey"
	propertyGeoRegions                     = "geoRegions"
	propertyCloudRecordingOption           = "cloudRecordingOption"
	propertyCloudRecordingElection         = "cloudRecordingElection"
	propertyTelemetryTrackingID            = "telemetryTrackingId"
	propertyAudioWebRTCMode                = "audioWebRtcMode"
	propertyAudioCompatibleMode            = "audioCompatibleMode"
	propertyUserKey                        = "userKey"
	propertyCloudRecordingTranscriptOption = "cloudRecordingTranscriptOption"
)

// Optional is a value that may be absent from a request.
type Optional[T any] struct {
	Value T
	Set   bool
}

func some[T any](v T) Optional[T] { return Optional[T]{Value: v, Set: true} }

// VideoRequest is a validated Video SDK signature request.
type VideoRequest struct {
	Role              int
	SessionName       string
	ExpirationSeconds int

	UserIdentity, SessionKey Optional[string]
	// GeoRegions is nil when absent; otherwise the codes, spaces removed.
	GeoRegions                                   []string
	CloudRecordingOption, CloudRecordingElection Optional[int]
	TelemetryTrackingID                          Optional[string]
	VideoWebRTCMode                              Optional[int]
	// AudioWebRTCMode is audioWebRtcMode, or else the deprecated audioCompatibleMode.
	AudioWebRTCMode Optional[int]

	// Zoom's newer fields, after the sample's.
	UserKey                        Optional[string]
	CloudRecordingTranscriptOption Optional[int]
}

// videoFields holds the raw JSON value of each property DecodeVideo reads; nil means absent.
type videoFields struct {
	role, sessionName, expirationSeconds, userIdentity, sessionKey, geoRegions,
	cloudRecordingOption, cloudRecordingElection, telemetryTrackingID, videoWebRTCMode,
	audioWebRTCMode, audioCompatibleMode, userKey, cloudRecordingTranscriptOption []byte
}

func (f *videoFields) set(name, value []byte) {
	switch string(name) {
	case propertyRole:
		f.role = value
	case propertySessionName:
		f.sessionName = value
	case propertyExpirationSeconds:
		f.expirationSeconds = value
	case propertyUserIdentity:
		f.userIdentity = value
	case propertySessionKey:
		f.sessionKey = value
	case propertyGeoRegions:
		f.geoRegions = value
	case propertyCloudRecordingOption:
		f.cloudRecordingOption = value
	case propertyCloudRecordingElection:
		f.cloudRecordingElection = value
	case propertyTelemetryTrackingID:
		f.telemetryTrackingID = value
	case propertyVideoWebRTCMode:
		f.videoWebRTCMode = value
	case propertyAudioWebRTCMode:
		f.audioWebRTCMode = value
	case propertyAudioCompatibleMode:
		f.audioCompatibleMode = value
	case propertyUserKey:
		f.userKey = value
	case propertyCloudRecordingTranscriptOption:
		f.cloudRecordingTranscriptOption = value
	}
}

// DecodeVideo parses and validates a Video SDK signature request body, under the same body
// rules as Decode. Every problem is reported, in the contract's field order; every failure is a
// *ValidationError.
func DecodeVideo(body []byte) (VideoRequest, error) {
	var f videoFields
	if err := scanObject(body, f.set); err != nil {
		return VideoRequest{}, err
	}
	req := VideoRequest{ExpirationSeconds: DefaultExpirationSeconds}
	// Kept off the heap while the request is valid: the error is copied out only when it is not.
	var errs ValidationError
	verr := &errs

	if f.role == nil {
		verr.add(propertyRole, "is required: 0 (participant) or 1 (host)")
	} else {
		req.Role = choice(verr, propertyRole, f.role, 1)
	}
	if f.sessionName == nil {
		verr.add(propertySessionName, fmt.Sprintf("is required: the session's name, 1 to %d characters", MaxSessionNameLength))
	} else {
		req.SessionName = boundedString(verr, propertySessionName, f.sessionName, 1, MaxSessionNameLength)
	}
	if f.expirationSeconds != nil {
		req.ExpirationSeconds = expirationSeconds(verr, f.expirationSeconds)
	}
	req.UserIdentity = optionalString(verr, propertyUserIdentity, f.userIdentity, MaxUserIdentityLength)
	req.SessionKey = optionalString(verr, propertySessionKey, f.sessionKey, MaxSessionKeyLength)
	if f.geoRegions != nil {
		req.GeoRegions = geoRegions(verr, f.geoRegions)
	}
	req.CloudRecordingOption = optionalChoice(verr, propertyCloudRecordingOption, f.cloudRecordingOption, 1)
	req.CloudRecordingElection = optionalChoice(verr, propertyCloudRecordingElection, f.cloudRecordingElection, 1)
	req.TelemetryTrackingID = optionalString(verr, propertyTelemetryTrackingID, f.telemetryTrackingID, -1)
	req.VideoWebRTCMode = optionalChoice(verr, propertyVideoWebRTCMode, f.videoWebRTCMode, 1)
	req.AudioWebRTCMode = optionalChoice(verr, propertyAudioWebRTCMode, f.audioWebRTCMode, 1)
	if compatible := optionalChoice(verr, propertyAudioCompatibleMode, f.audioCompatibleMode, 1); !req.AudioWebRTCMode.Set {
		req.AudioWebRTCMode = compatible
	}
	req.UserKey = optionalString(verr, propertyUserKey, f.userKey, MaxUserKeyLength)
	req.CloudRecordingTranscriptOption = optionalChoice(verr, propertyCloudRecordingTranscriptOption, f.cloudRecordingTranscriptOption, 2)
	if len(verr.Errors) > 0 {
		refused := errs
		return VideoRequest{}, &refused
	}
	return req, nil
}

func optionalChoice(verr *ValidationError, property string, raw json.RawMessage, highest int) Optional[int] {
	if raw == nil {
		return Optional[int]{}
	}
	return some(choice(verr, property, raw, highest))
}

// optionalString reads a string of at most maxLength UTF-16 units (no limit when negative).
func optionalString(verr *ValidationError, property string, raw json.RawMessage, maxLength int) Optional[string] {
	if raw == nil {
		return Optional[string]{}
	}
	return some(boundedString(verr, property, raw, 0, maxLength))
}

// boundedString reads a JSON string whose length, in UTF-16 code units, is within [minLength,
// maxLength] (no upper bound when maxLength is negative).
func boundedString(verr *ValidationError, property string, raw json.RawMessage, minLength, maxLength int) string {
	s, ok := "", kind(raw) == kindString
	if ok {
		s, ok = unquote(raw)
	}
	if !ok {
		verr.add(property, "must be a string, got "+describe(raw))
		return ""
	}
	if !utf8.ValidString(s) {
		verr.add(property, "must be UTF-8 text")
		return ""
	}
	n := utf16Length(s)
	switch {
	case n < minLength:
		verr.add(property, "must not be empty")
	case maxLength >= 0 && n > maxLength:
		verr.add(property, fmt.Sprintf("must be at most %d characters, got %d", maxLength, n))
	}
	return s
}

// utf16Length counts s as JavaScript's String.length does.
func utf16Length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// geoRegions reads a comma-separated string or an array of strings, drops white space inside
// codes and empty entries, as the sample does, and checks each code against GeoRegions.
func geoRegions(verr *ValidationError, raw json.RawMessage) []string {
	shape := "must be a comma-separated string or an array of strings of region codes, got "
	var entries []string
	switch raw[0] {
	case '"':
		s, _ := unquote(raw)
		entries = strings.Split(s, ",")
	case '[':
		var items []json.RawMessage
		json.Unmarshal(raw, &items) // scanObject has checked the body is valid JSON
		for _, item := range items {
			s, ok := "", kind(item) == kindString
			if ok {
				s, ok = unquote(item)
			}
			if !ok {
				verr.add(propertyGeoRegions, shape+"an array holding "+describe(item))
				return nil
			}
			entries = append(entries, s)
		}
	default:
		verr.add(propertyGeoRegions, shape+describe(raw))
		return nil
	}
	var codes []string
	var unknown []string
	for _, e := range entries {
		code := strings.Map(func(r rune) rune {
			if isJSSpace(r) {
				return -1
			}
			return r
		}, e)
		switch {
		case code == "":
		case !containsString(GeoRegions, code):
			unknown = append(unknown, strconv.Quote(strings.ToValidUTF8(truncate(code, 12), "\uFFFD")))
			codes = append(codes, code)
		default:
			codes = append(codes, code)
		}
	}
	switch {
	case len(codes) == 0:
		verr.add(propertyGeoRegions, "lists no region: give one or more of "+strings.Join(GeoRegions, ", "))
		return nil
	case len(unknown) > 0:
		verr.add(propertyGeoRegions, "has codes that are not regions: "+strings.Join(truncateList(unknown, 5), ", ")+
			"; use "+strings.Join(GeoRegions, ", ")+" (upper case)")
		return nil
	}
	return codes
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func truncateList(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], "…")
	}
	return list
}

// isJSSpace reports whether JavaScript's \s matches r (the sample removes those from region
// codes): the ASCII white space, and Unicode's space separators, line and paragraph separators,
// no-break spaces and the byte-order mark.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff':
		return true
	}
	return r >= '\u2000' && r <= '\u200a'
}

// VideoClaims is the payload of a Video SDK JWT, written key by key in the order Zoom's
// videosdk-auth-endpoint-sample produces (absent ones omitted), with Zoom's newer user_key and
// cloud_recording_transcript_option after the sample's, and with JavaScript's string escaping.
type VideoClaims struct {
	AppKey    string
	IssuedAt  int64
	ExpiresAt int64
	VideoRequest
}

// appendJSON appends the payload to b.
func (c VideoClaims) appendJSON(b []byte) []byte {
	b = append(b, `{"app_key":`...)
	b = appendJSString(b, c.AppKey)
	b = append(b, `,"role_type":`...)
	b = strconv.AppendInt(b, int64(c.Role), 10)
	b = append(b, `,"tpc":`...)
	b = appendJSString(b, c.SessionName)
	b = append(b, `,"version":1,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	b = appendOptionalString(b, `,"user_identity":`, c.UserIdentity)
	b = appendOptionalString(b, `,"session_key":`, c.SessionKey)
	if c.GeoRegions != nil {
		b = append(b, `,"geo_regions":`...)
		b = appendJSString(b, strings.Join(c.GeoRegions, ","))
	}
	b = appendOptionalInt(b, `,"cloud_recording_option":`, c.CloudRecordingOption)
	b = appendOptionalInt(b, `,"cloud_recording_election":`, c.CloudRecordingElection)
	b = appendOptionalString(b, `,"telemetry_tracking_id":`, c.TelemetryTrackingID)
	b = appendOptionalInt(b, `,"video_webrtc_mode":`, c.VideoWebRTCMode)
	b = appendOptionalInt(b, `,"audio_webrtc_mode":`, c.AudioWebRTCMode)
	b = appendOptionalString(b, `,"user_key":`, c.UserKey)
	b = appendOptionalInt(b, `,"cloud_recording_transcript_option":`, c.CloudRecordingTranscriptOption)
	return append(b, '}')
}

// MarshalJSON writes the payload in the sample's key order.
func (c VideoClaims) MarshalJSON() ([]byte, error) { return c.appendJSON(nil), nil }

func appendOptionalString(b []byte, key string, v Optional[string]) []byte {
	if !v.Set {
		return b
	}
	return appendJSString(append(b, key...), v.Value)
}

func appendOptionalInt(b []byte, key string, v Optional[int]) []byte {
	if !v.Set {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(v.Value), 10)
}

// VideoSigner signs Video SDK JWTs with one Video SDK app's key and secret.
type VideoSigner struct {
	key string
	hs256
	now func() time.Time
}

// NewVideoSigner returns a VideoSigner; the secret is used as raw bytes, never hex-decoded.
func NewVideoSigner(key string, secret []byte, now func() time.Time) *VideoSigner {
	return &VideoSigner{key: key, hs256: newHS256(secret), now: now}
}

// Claims returns the claims a token for req carries at the signer's current time.
func (s *VideoSigner) Claims(req VideoRequest) VideoClaims {
	iat := s.now().Unix()
	return VideoClaims{AppKey: s.key, IssuedAt: iat, ExpiresAt: iat + int64(req.ExpirationSeconds), VideoRequest: req}
}

// Sign returns the HS256 JWT for req.
func (s *VideoSigner) Sign(req VideoRequest) (string, error) {
	return string(s.AppendToken(nil, req)), nil
}

// AppendToken appends the HS256 JWT for req to dst, as Signer.AppendToken does.
func (s *VideoSigner) AppendToken(dst []byte, req VideoRequest) []byte {
	var scratch [512]byte
	return s.appendToken(dst, s.Claims(req).appendJSON(scratch[:0]))
}
