// Package attendee speaks attendee's zoom_tokens callback: it checks the request's signature
// over the canonical JSON attendee signs, and reads what the bot asks for. It knows nothing of
// HTTP, storage or Zoom's API.
package attendee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotJSON says a body is not one JSON value, so there is nothing to canonicalize.
var ErrNotJSON = errors.New("the body is not a JSON value")

// Canonical rewrites a JSON text the way attendee signs it: as Python's
// json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")) writes the value
// json.loads read from it. attendee sends its body with Python's default separators and ASCII
// escapes, so the bytes received are never the bytes signed; this is the one way back.
//
// What Python does and Go's encoder does not: keys sorted by code point at every level; no
// escape for <, >, &, U+2028 or U+2029 and none for any non-ASCII character; control
// characters as \n-style escapes or lowercase \u00XX; integers as written (any size, -0 as 0);
// floats as Python's repr (1.0, 1e+16, 1e-05, Infinity for an overflowing literal). A repeated
// key keeps its last value, as Python's dict does.
func Canonical(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: more follows the first value", ErrNotJSON)
	}
	var out bytes.Buffer
	out.Grow(len(body))
	if err := writeValue(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeValue(out *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case string:
		writeString(out, v)
	case json.Number:
		return writeNumber(out, string(v))
	case []any:
		out.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeValue(out, e); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// Go compares strings byte by byte; for valid UTF-8 (the decoder guarantees it) that
		// is the code-point order Python sorts str keys in.
		slices.Sort(keys)
		out.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, k)
			out.WriteByte(':')
			if err := writeValue(out, v[k]); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("%w: unexpected %T", ErrNotJSON, v)
	}
	return nil
}

// writeString quotes s as Python's encoder does with ensure_ascii=False.
func writeString(out *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	out.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			out.WriteString(s[i : i+size])
			i += size
			continue
		}
		switch c {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		default:
			if c < 0x20 {
				out.WriteString(`\u00`)
				out.WriteByte(hex[c>>4])
				out.WriteByte(hex[c&0xf])
			} else {
				out.WriteByte(c)
			}
		}
		i++
	}
	out.WriteByte('"')
}

// writeNumber writes a JSON number literal as Python prints what json.loads makes of it: an
// int when the literal has no fraction or exponent, a float otherwise.
func writeNumber(out *bytes.Buffer, literal string) error {
	if !strings.ContainsAny(literal, ".eE") {
		if literal == "-0" {
			literal = "0" // Python's int has no negative zero
		}
		out.WriteString(literal)
		return nil
	}
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range is ±Inf or 0, as in Python
		return fmt.Errorf("%w: bad number", ErrNotJSON)
	}
	out.WriteString(pythonFloatRepr(f))
	return nil
}

// pythonFloatRepr is Python's repr(float): the shortest digits that read back to f, in fixed
// notation when the decimal exponent is in [-4, 16) (with ".0" when no fraction is left) and
// otherwise as d.ddde±XX with at least two exponent digits.
func pythonFloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	// 'e' with precision -1 gives the shortest round-tripping digits, as Python's repr does:
	// [-]d[.ddd]e±XX.
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	sign := ""
	if sci[0] == '-' {
		sign, sci = "-", sci[1:]
	}
	mantissa, expText, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mantissa, ".", "", 1)

	if exp < -4 || exp >= 16 {
		expSign := "+"
		if exp < 0 {
			expSign, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, mantissa, expSign, exp)
	}
	point := exp + 1 // digits before the decimal point
	switch {
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		return sign + digits[:point] + "." + digits[point:]
	}
}
