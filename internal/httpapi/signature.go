package httpapi

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"sync"

	"github.com/zoomtoken/zoomtoken/internal/signature"
)

// maxSignatureBody is the largest POST / body read; a signature request is a few dozen bytes.
const maxSignatureBody = 100 << 10

// handleSignature serves POST /: it decodes the JSON body, validates it and answers with a
// Meeting SDK JWT.
func handleSignature(signer *signature.Signer) http.HandlerFunc {
	if signer == nil {
		return func(w http.ResponseWriter, r *http.Request) {
			writeFieldErrors(w, http.StatusNotFound, signature.FieldError{Property: "server",
				Reason: "POST / is off: set ZOOM_MEETING_SDK_KEY and ZOOM_MEETING_SDK_SECRET to turn it on"})
		}
	}
	// bodyBuffers recycles body buffers across requests.
	bodyBuffers := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	// The answer is {"signature":"<jwt>","sdkKey":<key>}, as Zoom's sample writes it. Only the
	// token changes, and it is base64url and dots, so the rest is encoded once.
	const answerStart = `{"signature":"`
	answerEnd := `","sdkKey":` + string(marshalNoHTMLEscape(signer.Key())) + `}`
	return func(w http.ResponseWriter, r *http.Request) {
		if !acceptedMediaType(r.Header.Get("Content-Type")) {
			writeFieldErrors(w, http.StatusUnsupportedMediaType, signature.FieldError{Property: "Content-Type",
				Reason: "send the body as application/json (text/plain or no Content-Type are read as JSON too)"})
			return
		}
		buf := bodyBuffers.Get().(*bytes.Buffer)
		defer func() {
			buf.Reset()
			bodyBuffers.Put(buf)
		}()
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxSignatureBody)); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeFieldErrors(w, http.StatusRequestEntityTooLarge, signature.FieldError{Property: "body",
					Reason: "is larger than 100 KiB"})
				return
			}
			writeFieldErrors(w, http.StatusBadRequest, signature.FieldError{Property: "body", Reason: "could not be read"})
			return
		}
		req, err := signature.Decode(buf.Bytes())
		if err != nil {
			var verr *signature.ValidationError
			if errors.As(err, &verr) {
				writeFieldErrors(w, http.StatusBadRequest, verr.Errors...)
				return
			}
			writeInternalError(w, r, err)
			return
		}
		token, err := signer.Sign(req)
		if err != nil {
			writeInternalError(w, r, err)
			return
		}
		answer := make([]byte, 0, len(answerStart)+len(token)+len(answerEnd))
		answer = append(append(append(answer, answerStart...), token...), answerEnd...)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(answer)
	}
}

// acceptedMediaType reports whether POST / reads a body of this Content-Type: JSON, plain text
// (what a browser fetch with a string body and no headers sends) or none at all.
func acceptedMediaType(contentType string) bool {
	switch contentType {
	case "", "application/json", "text/plain;charset=UTF-8", "application/json; charset=utf-8":
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mediaType == "application/json" || mediaType == "text/plain")
}
