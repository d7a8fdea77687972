package sdkjwt

import (
	"bytes"
	"encoding/json"
)

// scanObject reads the top-level properties of a JSON object without building a map or copying
// values, calling set with each property's name and raw value: the body is first checked whole by
// json.Valid, so the scan only has to find where each key and value starts and ends. A property
// given twice is set twice, so the last value wins, as JSON.parse does; a key written with
// escapes ("\u0072ole") is unescaped before set sees it. An empty (or all-whitespace) body is the
// empty object; a leading UTF-8 byte-order mark is ignored.
func scanObject(body []byte, set func(name, value []byte)) error {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte-order mark, as Node's body parser drops it
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil
	}
	if !json.Valid(body) {
		return &ValidationError{Errors: []FieldError{{propertyBody, "is not valid JSON: " + jsonProblem(json.Unmarshal(body, new(any)))}}}
	}
	if body[i] != '{' {
		return &ValidationError{Errors: []FieldError{{propertyBody, "must be a JSON object"}}}
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		keyEnd := stringEnd(body, i)
		key := body[i:keyEnd]
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := valueEnd(body, i)
		if name, ok := propertyName(key); ok {
			set(name, body[i:valueEnd])
		}
		i = skipSpace(body, valueEnd)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return nil
}

// propertyName returns a quoted key's name, unescaped.
func propertyName(quotedKey []byte) ([]byte, bool) {
	name := quotedKey[1 : len(quotedKey)-1]
	if bytes.IndexByte(name, '\\') < 0 {
		return name, true
	}
	var unescaped string
	if json.Unmarshal(quotedKey, &unescaped) != nil {
		return nil, false
	}
	return []byte(unescaped), true
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
