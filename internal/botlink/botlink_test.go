package botlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	keyA = []byte(strings.Repeat("a", 64))
	keyB = []byte(strings.Repeat("b", 64))
	now  = time.Unix(1_800_000_000, 0)
)

func clock() time.Time { return now }

func mint(tb testing.TB, k *Keys, route string, params map[string]string) (path, query string) {
	tb.Helper()
	link, _, err := k.Mint(route, params, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	path, query, _ = strings.Cut(link, "?")
	return path, query
}

// The recipe, written out by hand as the docs give it, signs what Mint signs.
func TestRecipe(t *testing.T) {
	k := New([][]byte{keyA}, clock)
	_, query := mint(t, k, "/obf-token", map[string]string{"ref": "customer 42/ü", "meeting_id": "85012345678"})
	expires := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	q := "expires=" + expires + "&meeting_id=85012345678&ref=customer%2042%2F%C3%BC"
	mac := hmac.New(sha256.New, keyA)
	mac.Write([]byte("zoomtoken bot-link v1\nGET\n/obf-token\n" + q))
	want := q + "&sig=" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if query != want {
		t.Fatalf("got  %s\nwant %s", query, want)
	}
}

// A link authorises its route with its parameters, and nothing it was not signed for.
func TestVerify(t *testing.T) {
	k := New([][]byte{keyA}, clock)
	path, query := mint(t, k, "/obf-token", map[string]string{"ref": "customer-42", "meeting_id": "85012345678"})
	link, err := k.Verify(path, query)
	if err != nil || link.Params.Get("ref") != "customer-42" || link.Params.Get("meeting_id") != "85012345678" ||
		link.Key != 0 || link.Params.Has("sig") || link.Params.Has("expires") || !link.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("the link as minted: %+v, %v", link, err)
	}
	malformedErr := errors.New("malformed") // stands for any *Malformed
	for name, tc := range map[string]struct {
		path, query string
		want        error
	}{
		"another ref":             {path, strings.Replace(query, "ref=customer-42", "ref=customer-43", 1), ErrInvalid},
		"another meeting":         {path, strings.Replace(query, "meeting_id=85012345678", "meeting_id=85012345679", 1), ErrInvalid},
		"another route":           {"/zak", strings.Replace(query, "&meeting_id=85012345678", "", 1), ErrInvalid},
		"a parameter removed":     {path, strings.Replace(query, "&meeting_id=85012345678", "", 1), ErrInvalid},
		"a parameter added":       {path, query + "&user=bob%40example.com", ErrInvalid},
		"a later expiry":          {path, strings.Replace(query, "expires=18000036", "expires=18000037", 1), ErrInvalid},
		"an unknown parameter":    {path, query + "&secret=x", malformedErr},
		"a repeated parameter":    {path, query + "&ref=customer-42", malformedErr},
		"a line break in sig":     {path, strings.Replace(query, "&sig=", "&sig=%0A", 1), malformedErr},
		"padding in sig":          {path, query + "%3D", malformedErr},
		"no sig":                  {path, query[:strings.Index(query, "&sig=")], malformedErr},
		"no expires":              {path, strings.Replace(query, "expires=", "x=", 1), malformedErr},
		"a route links cannot go": {"/admin/connections", query, malformedErr},
	} {
		_, err := k.Verify(tc.path, tc.query)
		var m *Malformed
		switch {
		case tc.want == malformedErr && !errors.As(err, &m):
			t.Errorf("%s: %v, want malformed", name, err)
		case tc.want != malformedErr && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestExpiryAndRotation(t *testing.T) {
	oldKeys := New([][]byte{keyA}, clock)
	path, query := mint(t, oldKeys, "/zak", map[string]string{"ref": "r"})
	rotated := New([][]byte{keyB, keyA}, clock)
	if link, err := rotated.Verify(path, query); err != nil || link.Key != 1 {
		t.Errorf("a link of the old key after rotation: %+v %v, want key 1", link, err)
	}
	if _, err := New([][]byte{keyB}, clock).Verify(path, query); !errors.Is(err, ErrInvalid) {
		t.Errorf("once the old key is dropped: %v", err)
	}
	later := New([][]byte{keyA}, func() time.Time { return now.Add(time.Hour) })
	if _, err := later.Verify(path, query); !errors.Is(err, ErrExpired) {
		t.Errorf("at expires: %v, want ErrExpired", err)
	}
	justBefore := New([][]byte{keyA}, func() time.Time { return now.Add(time.Hour - time.Nanosecond) })
	if _, err := justBefore.Verify(path, query); err != nil {
		t.Errorf("a tick before expires: %v", err)
	}
	// A link that claims to last longer than any this service mints is refused unread.
	far := strconv.FormatInt(now.Add(MaxTTL+time.Hour).Unix(), 10)
	q := "expires=" + far + "&ref=r"
	mac := hmac.New(sha256.New, keyA)
	mac.Write([]byte(prefix + "/zak\n" + q))
	var m *Malformed
	if _, err := oldKeys.Verify("/zak", q+"&sig="+base64.RawURLEncoding.EncodeToString(mac.Sum(nil))); !errors.As(err, &m) {
		t.Errorf("expires 30 days and an hour ahead: %v", err)
	}
}

func TestMintRefuses(t *testing.T) {
	k := New([][]byte{keyA}, clock)
	for name, call := range map[string]func() error{
		"an unknown route":   func() error { _, _, err := k.Mint("/admin", nil, time.Hour); return err },
		"a foreign param":    func() error { _, _, err := k.Mint("/zak", map[string]string{"meeting_id": "1"}, time.Hour); return err },
		"a 31-day lifetime":  func() error { _, _, err := k.Mint("/zak", nil, 31*24*time.Hour); return err },
		"a zero lifetime":    func() error { _, _, err := k.Mint("/zak", nil, 0); return err },
		"sig as a parameter": func() error { _, _, err := k.Mint("/zak", map[string]string{"sig": "x"}, time.Hour); return err },
	} {
		var m *Malformed
		if err := call(); !errors.As(err, &m) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Whatever Verify accepts is a link the keys minted: its canonical form and signature are what
// Mint gives for the same parameters and expiry.
func FuzzVerify(f *testing.F) {
	k := New([][]byte{keyA, keyB}, clock)
	_, q := mint(f, k, "/join-token", map[string]string{"meeting_id": "85012345678", "ref": "a b"})
	f.Add("/join-token", q)
	f.Add("/zak", "ref=x&expires=1&sig=AAAA")
	f.Add("/obf-token", "sig=%0A&&=&ref")
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		link, err := k.Verify(path, rawQuery)
		if err != nil {
			return
		}
		params := map[string]string{}
		for name := range link.Params {
			params[name] = link.Params.Get(name)
		}
		again := New([][]byte{keyA, keyB}[link.Key:], func() time.Time { return link.Expires.Add(-time.Hour) })
		minted, _, err := again.Mint(path, params, time.Hour)
		if err != nil {
			t.Fatalf("a verified link's parameters do not mint: %v", err)
		}
		if _, err := k.Verify(path, strings.SplitN(minted, "?", 2)[1]); err != nil {
			t.Fatalf("minted again, it does not verify: %v", err)
		}
	})
}

// BenchmarkVerify is what checking a link costs each bot request, with two keys in rotation.
func BenchmarkVerify(b *testing.B) {
	k := New([][]byte{keyA, keyB}, clock)
	path, query := mint(b, k, "/obf-token", map[string]string{"ref": "customer-42", "meeting_id": "85012345678"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Verify(path, query); err != nil {
			b.Fatal(err)
		}
	}
}
