package connectlink

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func signer(now time.Time, secrets ...[]byte) *Signer {
	return NewSigner("https://tokens.example.com", secrets, func() time.Time { return now })
}

func query(tb testing.TB, link string) url.Values {
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, "https://tokens.example.com/connect?") {
		tb.Fatalf("link %q", link)
	}
	return u.Query()
}

func TestMintVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s := signer(now, a)
	link, expires := s.Mint("customer 42/é", time.Hour)
	if !expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expires %v", expires)
	}
	q := query(t, link)
	if ref, err := s.Verify(q); err != nil || ref != "customer 42/é" {
		t.Fatalf("Verify: %q %v", ref, err)
	}
	if ref, err := signer(now.Add(59*time.Minute), b, a).Verify(q); err != nil || ref != "customer 42/é" {
		t.Errorf("after a key rotation (B first, A kept): %q %v", ref, err)
	}
	if _, err := signer(now, b).Verify(q); !errors.Is(err, ErrInvalid) {
		t.Errorf("without the signing key: %v", err)
	}
	if _, err := signer(now.Add(time.Hour), a).Verify(q); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	for name, change := range map[string]func(url.Values){
		"ref":            func(q url.Values) { q.Set("ref", "customer 43") },
		"ref removed":    func(q url.Values) { q.Del("ref") },
		"expires":        func(q url.Values) { q.Set("expires", "9999999999") },
		"signature":      func(q url.Values) { q.Set("sig", strings.Repeat("A", 43)) },
		"no signature":   func(q url.Values) { q.Del("sig") },
		"a second ref":   func(q url.Values) { q.Add("ref", "x") },
		"a second sig":   func(q url.Values) { q.Add("sig", q.Get("sig")) },
		"sig not base64": func(q url.Values) { q.Set("sig", "!!") },
		"a line break in sig": func(q url.Values) {
			sig := q.Get("sig")
			q.Set("sig", sig[:10]+"\n"+sig[10:])
		},
		"a carriage return in sig": func(q url.Values) { q.Set("sig", q.Get("sig")+"\r") },
		"padding in sig":           func(q url.Values) { q.Set("sig", q.Get("sig")+"=") },
	} {
		altered := url.Values{}
		for k, v := range q {
			altered[k] = append([]string(nil), v...)
		}
		change(altered)
		if _, err := s.Verify(altered); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if link, _ := s.Mint("", time.Hour); strings.Contains(link, "ref=") {
		t.Errorf("a link without ref names one: %s", link)
	}
}

// FuzzVerify: whatever query a browser brings to /connect, Verify never panics and accepts only
// what Mint made.
func FuzzVerify(f *testing.F) {
	s := signer(time.Unix(1_800_000_000, 0), bytes.Repeat([]byte{1}, 32))
	link, _ := s.Mint("r", time.Hour)
	u, _ := url.Parse(link)
	f.Add(u.RawQuery)
	f.Add("ref=r&expires=1800003600&sig=")
	f.Add("expires=-1&sig=%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		ref, err := s.Verify(q)
		if err != nil {
			return
		}
		expires, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		if minted, _ := s.Mint(ref, time.Unix(expires, 0).Sub(time.Unix(1_800_000_000, 0))); query(t, minted).Get("sig") != q.Get("sig") {
			t.Fatalf("accepted a link Mint would not make: %q", raw)
		}
	})
}
