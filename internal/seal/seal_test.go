package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	ring, err := NewKeyring(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ring.Seal([]byte("refresh-token-value"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("refresh-token-value")) {
		t.Fatal("the sealed value holds the plaintext")
	}
	again, _ := ring.Seal([]byte("refresh-token-value"), []byte("row-1"))
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	if got, err := ring.Open(sealed, []byte("row-1")); err != nil || string(got) != "refresh-token-value" {
		t.Fatalf("Open: %q %v", got, err)
	}
	if _, err := ring.Open(sealed, []byte("row-2")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("opened with another row's associated data: %v", err)
	}
	for i := range sealed {
		flipped := bytes.Clone(sealed)
		flipped[i] ^= 0x40
		if _, err := ring.Open(flipped, []byte("row-1")); err == nil {
			t.Errorf("a value altered at byte %d opened", i)
		}
	}
	if _, err := ring.Open(sealed[:len(sealed)-1], []byte("row-1")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a truncated value: %v", err)
	}
}

func TestRotation(t *testing.T) {
	a, _ := NewKeyring(key(1))
	ba, _ := NewKeyring(key(2), key(1))
	b, _ := NewKeyring(key(2))
	sealedA, _ := a.Seal([]byte("t"), nil)
	if got, err := ba.Open(sealedA, nil); err != nil || string(got) != "t" {
		t.Errorf("B,A does not open what A sealed: %v", err)
	}
	if ba.SealedBySealingKey(sealedA) || !a.SealedBySealingKey(sealedA) {
		t.Error("SealedBySealingKey is wrong about a value sealed with A")
	}
	if _, err := b.Open(sealedA, nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("B alone on A's value: %v, want ErrUnknownKey", err)
	}
	sealedBA, _ := ba.Seal([]byte("t"), nil)
	if id, _ := KeyOf(sealedBA); id != b.SealingKey() || id == a.SealingKey() {
		t.Errorf("B,A sealed with key %s, want B's %s", id, b.SealingKey())
	}
	if strings.Contains(string(sealedBA), string(key(2)[:8])) {
		t.Error("the key id reveals the key")
	}
}

func TestNewKeyringRefuses(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"none":      nil,
		"short":     {key(1)[:31]},
		"long":      {append(key(1), 0)},
		"repeated":  {key(1), key(2), key(1)},
		"empty one": {key(1), {}},
	} {
		if _, err := NewKeyring(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseKeys(t *testing.T) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		keys, err := ParseKeys(" " + enc.EncodeToString(raw) + " ,")
		if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], raw) {
			t.Errorf("%v: %v", enc, err)
		}
	}
	secretLooking := base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	for _, bad := range []string{"", " , ", "not base64!", secretLooking, base64.StdEncoding.EncodeToString(raw) + ",%%%"} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), strings.TrimSpace(bad)) {
			t.Errorf("the error echoes the key: %v", err)
		}
	}
}

// FuzzOpen feeds Open what a tampered database could hold: it never panics, and nothing but a
// value sealed by the keyring with the same associated data opens.
func FuzzOpen(f *testing.F) {
	ring, _ := NewKeyring(key(1), key(2))
	valid, _ := ring.Seal([]byte("token"), []byte("ad"))
	f.Add(valid, []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add(valid[:headerSize+nonceSize], []byte("ad"))
	f.Add(append([]byte{2}, valid[1:]...), []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		plain, err := ring.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// The seeds are sealed anew in each fuzzing process (fresh nonces), so a value that opens
		// is checked by what it opens to.
		if !bytes.Equal(ad, []byte("ad")) || string(plain) != "token" {
			t.Fatalf("a value the keyring did not seal opened to %q", plain)
		}
	})
}

// FuzzParseKeys: any TOKEN_ENCRYPTION_KEYS value parses to keys of the right size or fails,
// without echoing it.
func FuzzParseKeys(f *testing.F) {
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Add("a,b,,c")
	f.Fuzz(func(t *testing.T, list string) {
		keys, err := ParseKeys(list)
		if err != nil {
			if len(list) > 8 && strings.Contains(err.Error(), list) {
				t.Fatalf("the error echoes the value: %v", err)
			}
			return
		}
		for _, k := range keys {
			if len(k) != KeySize {
				t.Fatalf("a %d-byte key passed", len(k))
			}
		}
	})
}
