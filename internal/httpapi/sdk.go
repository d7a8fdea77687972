package httpapi

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
)

// maxSignatureBody is the largest body POST / and POST /video-sdk read; a signature request is
// a few dozen bytes.
const maxSignatureBody = 100 << 10

// handleSignature serves POST /: it decodes the JSON body, validates it and answers with a
// Meeting SDK JWT.
func handleSignature(signer *sdkjwt.Signer) http.HandlerFunc {
	if signer == nil {
		return sdkFeatureOff("POST / is off: set ZOOM_MEETING_SDK_KEY and ZOOM_MEETING_SDK_SECRET to turn it on")
	}
	// The answer is {"signature":"<jwt>","sdkKey":<key>}, as Zoom's sample writes it. Only the
	// token changes, and it is base64url and dots, so the rest is encoded once.
	answerEnd := `","sdkKey":` + string(marshalNoHTMLEscape(signer.Key())) + `}`
	return handleJWTRequest(func(answer, body []byte) ([]byte, error) {
		req, err := sdkjwt.Decode(body)
		if err != nil {
			return nil, err
		}
		answer = signer.AppendToken(append(answer, answerStart...), req)
		return append(answer, answerEnd...), nil
	})
}

// handleVideoSignature serves POST /video-sdk: the same as POST /, for a Video SDK JWT, answered
// as {"signature":"<jwt>"} like Zoom's videosdk-auth-endpoint-sample.
func handleVideoSignature(signer *sdkjwt.VideoSigner) http.HandlerFunc {
	if signer == nil {
		return sdkFeatureOff("POST /video-sdk is off: set ZOOM_VIDEO_SDK_KEY and ZOOM_VIDEO_SDK_SECRET to turn it on")
	}
	return handleJWTRequest(func(answer, body []byte) ([]byte, error) {
		req, err := sdkjwt.DecodeVideo(body)
		if err != nil {
			return nil, err
		}
		answer = signer.AppendToken(append(answer, answerStart...), req)
		return append(answer, `"}`...), nil
	})
}

func sdkFeatureOff(reason string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeFieldErrors(w, http.StatusNotFound, sdkjwt.FieldError{Property: "server", Reason: reason})
	}
}

// answerStart begins both routes' answers, which carry the token in "signature".
const answerStart = `{"signature":"`

// issueFunc decodes a request body, signs a token for it and appends the JSON answer carrying
// the token to answer; a body it refuses gets a *sdkjwt.ValidationError.
type issueFunc func(answer, body []byte) ([]byte, error)

// jwtBuffers are the two buffers of one POST / or POST /video-sdk request, recycled together:
// net/http copies the answer before Write returns, so neither outlives the request.
type jwtBuffers struct {
	body   bytes.Buffer
	answer []byte
}

// handleJWTRequest is the body handling POST / and POST /video-sdk share: media types, the size
// limit, reading into a recycled buffer, the 400 list of field errors, and the answer.
func handleJWTRequest(issue issueFunc) http.HandlerFunc {
	buffers := &sync.Pool{New: func() any { return new(jwtBuffers) }}
	return func(w http.ResponseWriter, r *http.Request) {
		if !acceptedMediaType(r.Header.Get("Content-Type")) {
			writeFieldErrors(w, http.StatusUnsupportedMediaType, sdkjwt.FieldError{Property: "Content-Type",
				Reason: "send the body as UTF-8 application/json (text/plain or no Content-Type are read as JSON too)"})
			return
		}
		if !identityEncoding(r) {
			writeFieldErrors(w, http.StatusUnsupportedMediaType, sdkjwt.FieldError{Property: "Content-Encoding",
				Reason: "send the body uncompressed"})
			return
		}
		buf := buffers.Get().(*jwtBuffers)
		defer func() {
			buf.body.Reset()
			buffers.Put(buf)
		}()
		if err := readBodyInto(&buf.body, w, r, maxSignatureBody); err != nil {
			var rerr *requestError
			errors.As(err, &rerr)
			writeFieldErrors(w, rerr.status, sdkjwt.FieldError{Property: "body", Reason: strings.TrimPrefix(rerr.reason, "the body ")})
			return
		}
		answer, err := issue(buf.answer[:0], buf.body.Bytes())
		if err != nil {
			var verr *sdkjwt.ValidationError
			if errors.As(err, &verr) {
				writeFieldErrors(w, http.StatusBadRequest, verr.Errors...)
				return
			}
			writeJSONFailure(w, r, err, fieldErrorsBody)
			return
		}
		buf.answer = answer
		// Set directly: the key is canonical already, and this is every answer's one header.
		w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
		w.Write(answer)
	}
}

// acceptedMediaType reports whether POST / reads a body of this Content-Type: JSON, plain text
// (what a browser fetch with a string body and no headers sends) or none at all.
// Only UTF-8 is read: another charset would be decoded as the wrong text.
func acceptedMediaType(contentType string) bool {
	switch contentType {
	case "", "application/json", "text/plain;charset=UTF-8", "application/json; charset=utf-8":
		return true
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || (mediaType != "application/json" && mediaType != "text/plain") {
		return false
	}
	charset, ok := params["charset"]
	return !ok || strings.EqualFold(charset, "utf-8")
}

// identityEncoding reports whether the body comes as it is: a compressed body would be read as
// broken JSON.
func identityEncoding(r *http.Request) bool {
	ce := r.Header.Values("Content-Encoding")
	return len(ce) == 0 || (len(ce) == 1 && strings.EqualFold(strings.TrimSpace(ce[0]), "identity"))
}
