package attendee

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// This file signs callbacks the way attendee does, written apart from the code under test: a
// value tree keeps Python's dict order, and pyDumps writes it either as requests sends it
// (json.dumps' defaults: ", " and ": ", ASCII escapes, insertion order) or as attendee signs it
// (sorted keys by code point, no spaces, raw Unicode).

type pyDict []pyItem
type pyItem struct {
	key   string
	value any
}

// pyNumber is a number as Python's repr writes it (int or float): the test states it.
type pyNumber string

func pyDumps(v any, signed bool) string {
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case nil:
			b.WriteString("null")
		case bool:
			b.WriteString(map[bool]string{true: "true", false: "false"}[v])
		case pyNumber:
			b.WriteString(string(v))
		case string:
			b.WriteString(pyQuote(v, !signed))
		case []any:
			b.WriteString("[")
			for i, e := range v {
				if i > 0 {
					b.WriteString(map[bool]string{true: ",", false: ", "}[signed])
				}
				write(e)
			}
			b.WriteString("]")
		case pyDict:
			items := slices.Clone(v)
			if signed {
				slices.SortFunc(items, func(a, b pyItem) int { return slices.Compare([]rune(a.key), []rune(b.key)) })
			}
			b.WriteString("{")
			for i, it := range items {
				if i > 0 {
					b.WriteString(map[bool]string{true: ",", false: ", "}[signed])
				}
				b.WriteString(pyQuote(it.key, !signed))
				b.WriteString(map[bool]string{true: ":", false: ": "}[signed])
				write(it.value)
			}
			b.WriteString("}")
		default:
			panic(fmt.Sprintf("pyDumps: %T", v))
		}
	}
	write(v)
	return b.String()
}

// pyQuote is Python's string encoder, with ensure_ascii or without.
func pyQuote(s string, ascii bool) string {
	short := map[rune]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}
	var b strings.Builder
	b.WriteString(`"`)
	for _, r := range s {
		switch {
		case short[r] != "":
			b.WriteString(short[r])
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		case ascii && r > 0x7e && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case ascii && r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"`)
	return b.String()
}

// attendeeSign is sign_payload: base64(HMAC-SHA256(key, canonical JSON)).
func attendeeSign(key []byte, payload any) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(pyDumps(payload, true)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func testCallback(metadata any) pyDict {
	return pyDict{
		{"bot_id", "bot_abc"},
		{"bot_metadata", metadata},
		{"callback_type", "zoom_tokens"},
		{"meeting_url", "https://zoom.us/j/85012345678?pwd=x"},
	}
}

var (
	keyOld = []byte("old-attendee-webhook-secret-0001")
	keyNew = []byte("new-attendee-webhook-secret-0002")
)

func TestVerifyAcceptsWhatAttendeeSigns(t *testing.T) {
	v := NewVerifier([][]byte{keyNew, keyOld})
	for name, meta := range map[string]any{
		"no metadata": nil,
		"nested":      pyDict{{"zoomtoken_ref", []any{"b", "a"}}, {"team", pyDict{{"z", []any{pyDict{{"y", true}, {"b", nil}}}}, {"a", pyDict{}}}}},
		"unicode":     pyDict{{"name", "Zoë 東京 🎉"}, {"É", "\u2028\u2029"}, {"e", "x"}, {"😀", "emoji key"}},
		"html":        pyDict{{"note", "<b>Tom & Jerry</b>"}, {"quote", `say "hi" \ bye`}},
		"control":     pyDict{{"text", "a\tb\nc\x01\x1f\x7f"}},
		"numbers": pyDict{{"ints", []any{pyNumber("0"), pyNumber("-7"), pyNumber("12345678901234567890")}},
			{"floats", []any{pyNumber("1.0"), pyNumber("0.1"), pyNumber("1e+16"), pyNumber("1e-05"), pyNumber("2.5"), pyNumber("-0.0")}}},
	} {
		t.Run(name, func(t *testing.T) {
			payload := testCallback(meta)
			wire := []byte(pyDumps(payload, false))
			for i, key := range [][]byte{keyNew, keyOld} { // rotation: either key verifies, and says which
				if got, err := v.Verify(wire, attendeeSign(key, payload)); err != nil || got != i {
					t.Errorf("%s signed with %.3s: key %d, %v; want key %d", wire, key, got, err, i)
				}
			}
			if _, err := v.Verify(wire, attendeeSign([]byte("unknown-attendee-secret-00000003"), payload)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("an unknown key: %v", err)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	v := NewVerifier([][]byte{keyOld})
	payload := testCallback(pyDict{{"zoomtoken_ref", "customer-42"}})
	wire := pyDumps(payload, false)
	good := attendeeSign(keyOld, payload)
	tampered := strings.Replace(wire, "customer-42", "customer-43", 1)
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for _, tc := range []struct {
		name, body, header string
		want               error
	}{
		{"missing", wire, "", ErrNoSignature},
		{"not base64", wire, "not base64!", ErrMalformedSignature},
		{"unpadded", wire, strings.TrimRight(good, "="), ErrMalformedSignature},
		{"31 bytes", wire, short, ErrMalformedSignature},
		{"hex instead", wire, fmt.Sprintf("%x", []byte(good)[:32]), ErrMalformedSignature},
		{"tampered body", tampered, good, ErrBadSignature},
		{"not JSON", "bot_id=1", good, ErrNotJSON},
	} {
		if _, err := v.Verify([]byte(tc.body), tc.header); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := v.Verify([]byte(wire), good); err != nil {
		t.Errorf("the good signature: %v", err)
	}
}

// BenchmarkVerify is the signature check of a typical callback: canonical JSON, then one HMAC
// per secret (two, as during a rotation).
func BenchmarkVerify(b *testing.B) {
	payload := testCallback(pyDict{{"zoomtoken_ref", []any{"b", "a"}}, {"team", pyDict{{"name", "Zoë 東京"}, {"n", pyNumber("2.5")}}}})
	wire := []byte(pyDumps(payload, false))
	signature := attendeeSign(keyOld, payload)
	v := NewVerifier([][]byte{keyNew, keyOld})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(wire, signature); err != nil {
			b.Fatal(err)
		}
	}
}
