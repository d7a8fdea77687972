package attendee

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"testing"
)

// pythonVectors are callbacks as CPython writes and signs them (testdata/vectors.py).
type pythonVectors struct {
	Secret  string
	Vectors []struct{ Wire, Canonical, Signature string }
	Floats  []struct{ Bits, Repr string }
}

func loadPythonVectors(tb testing.TB) pythonVectors {
	tb.Helper()
	raw, err := os.ReadFile("testdata/python_vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var v pythonVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Vectors) == 0 || len(v.Floats) == 0 {
		tb.Fatal("testdata/python_vectors.json holds no vectors")
	}
	return v
}

// What attendee sends (Python's default dumps) becomes, byte for byte, what it signed.
func TestCanonicalIsWhatCPythonSigns(t *testing.T) {
	pv := loadPythonVectors(t)
	key, _ := base64.StdEncoding.DecodeString(pv.Secret)
	v := NewVerifier([][]byte{key})
	for i, vec := range pv.Vectors {
		got, err := Canonical([]byte(vec.Wire))
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if string(got) != vec.Canonical {
			t.Errorf("vector %d:\n got %s\nwant %s", i, got, vec.Canonical)
		}
		if _, err := v.Verify([]byte(vec.Wire), vec.Signature); err != nil {
			t.Errorf("vector %d: CPython's signature refused: %v", i, err)
		}
		if _, err := NewVerifier([][]byte{[]byte("another-key-of-32-bytes-........")}).Verify([]byte(vec.Wire), vec.Signature); !errors.Is(err, ErrBadSignature) {
			t.Errorf("vector %d: accepted under another key (%v)", i, err)
		}
	}
}

func TestPythonFloatRepr(t *testing.T) {
	for _, f := range loadPythonVectors(t).Floats {
		bits, err := strconv.ParseUint(f.Bits, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := pythonFloatRepr(math.Float64frombits(bits)); got != f.Repr {
			t.Errorf("repr(%s) = %s, want %s", f.Bits, got, f.Repr)
		}
	}
	for _, tc := range []struct{ literal, want string }{
		{"1e400", "Infinity"}, {"-1e400", "-Infinity"}, {"1e-400", "0.0"}, {"1E2", "100.0"}, {"-0", "0"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
	} {
		got, err := Canonical([]byte(tc.literal))
		if err != nil || string(got) != tc.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", tc.literal, got, err, tc.want)
		}
	}
}

func TestCanonicalRefusesWhatIsNotOneJSONValue(t *testing.T) {
	for _, body := range []string{"", "{", `{"a":1} {"b":2}`, "NaN", `{"a":Infinity}`, "{'a':1}", "[1,]"} {
		if _, err := Canonical([]byte(body)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("Canonical(%q) = %v, want ErrNotJSON", body, err)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, vec := range loadPythonVectors(f).Vectors {
		f.Add([]byte(vec.Wire))
	}
	f.Add([]byte(`{"a":"\u0000\ud800","b":[1e999,-0,0.1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		once, err := Canonical(body)
		if err != nil {
			return
		}
		// The canonical form is valid JSON (but for Python's Infinity, where a literal
		// overflows), and canonical already.
		if !json.Valid(once) {
			if !bytes.Contains(once, []byte("Infinity")) {
				t.Fatalf("Canonical wrote invalid JSON: %q", once)
			}
			return
		}
		twice, err := Canonical(once)
		if err != nil || string(twice) != string(once) {
			t.Fatalf("not a fixed point:\n%q\n%q (%v)", once, twice, err)
		}
	})
}
