package signature

import (
	"bytes"
	"encoding/json"
)

// knownFields holds the raw JSON values of the properties Decode reads; nil means absent.
type knownFields struct {
	meetingNumber, role, expirationSeconds, videoWebRTCMode []byte
}

// scanObject reads the top-level properties of a JSON object without building a map or copying
// values: the body is first checked whole by json.Valid, so the scan only has to find where each
// key and value starts and ends. A property given twice keeps its last value, as JSON.parse does;
// a key written with escapes ("\u0072ole") is unescaped before it is compared. An empty (or
// all-whitespace) body is the empty object.
func scanObject(body []byte) (knownFields, error) {
	var f knownFields
	i := skipSpace(body, 0)
	if i == len(body) {
		return f, nil
	}
	if !json.Valid(body) {
		return f, &ValidationError{Errors: []FieldError{{propertyBody, "is not valid JSON: " + jsonProblem(json.Unmarshal(body, new(any)))}}}
	}
	if body[i] != '{' {
		return f, &ValidationError{Errors: []FieldError{{propertyBody, "must be a JSON object"}}}
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		keyEnd := stringEnd(body, i)
		key := body[i:keyEnd]
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := valueEnd(body, i)
		f.set(key, body[i:valueEnd])
		i = skipSpace(body, valueEnd)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return f, nil
}

func (f *knownFields) set(quotedKey, value []byte) {
	name := quotedKey[1 : len(quotedKey)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var unescaped string
		if json.Unmarshal(quotedKey, &unescaped) != nil {
			return
		}
		name = []byte(unescaped)
	}
	switch string(name) {
	case propertyMeetingNumber:
		f.meetingNumber = value
	case propertyRole:
		f.role = value
	case propertyExpirationSeconds:
		f.expirationSeconds = value
	case propertyVideoWebRTCMode:
		f.videoWebRTCMode = value
	}
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that opens at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
