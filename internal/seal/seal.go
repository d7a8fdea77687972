// Package seal encrypts tokens for storage: AES-256-GCM under a keyring whose first key seals and
// whose every key opens, so keys can be rotated without losing a row.
//
// A sealed value is
//
//	version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes) | ciphertext and tag
//
// The key id is derived from the key (never the key itself), so a value names the key that
// opens it and a value sealed with a key that is gone is reported as such rather than as
// tampering. The caller's associated data binds a value to where it is stored: opened with other
// associated data (another row, another column), it does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of every key, in bytes (AES-256).
const KeySize = 32

const (
	version    = 1
	keyIDSize  = 4
	headerSize = 1 + keyIDSize
	nonceSize  = 12
	tagSize    = 16
)

// Errors Open returns; a caller tells them apart with errors.Is.
var (
	// ErrUnknownKey means the value was sealed with a key that is not in the keyring.
	ErrUnknownKey = errors.New("sealed with a key that is not configured")
	// ErrCorrupt means the value is not a sealed value, or it was altered or moved: it fails
	// authentication under the key it names.
	ErrCorrupt = errors.New("sealed value is corrupt, altered, or belongs to another row")
)

// KeyID identifies a key without revealing it.
type KeyID uint32

// String formats the id as 8 hex digits, as logs and rekey reports show it.
func (id KeyID) String() string { return fmt.Sprintf("%08x", uint32(id)) }

// Keyring seals with its first key and opens with any of them. It is safe for concurrent use.
type Keyring struct {
	keys []keyEntry // keys[0] seals
	byID map[KeyID]cipher.AEAD
}

type keyEntry struct {
	id   KeyID
	aead cipher.AEAD
}

// NewKeyring builds a keyring from raw keys, the sealing key first. Every key must be KeySize
// bytes and no two may be equal.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	k := &Keyring{byID: make(map[KeyID]cipher.AEAD, len(keys))}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d", i+1, len(key), KeySize)
		}
		id := keyIDOf(key)
		if _, dup := k.byID[id]; dup {
			return nil, fmt.Errorf("seal: key %d repeats an earlier key", i+1)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		k.keys = append(k.keys, keyEntry{id: id, aead: aead})
		k.byID[id] = aead
	}
	return k, nil
}

// ParseKeys decodes a comma-separated list of base64 keys (standard, URL-safe, padded or raw),
// as TOKEN_ENCRYPTION_KEYS holds them. Errors name a key by its position, never by its value.
func ParseKeys(list string) ([][]byte, error) {
	var keys [][]byte
	for i, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		key, ok := decodeBase64(field)
		if !ok {
			return nil, fmt.Errorf("key %d is not base64", i+1)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("key %d is %d bytes after base64 decoding, want %d (make one with: openssl rand -base64 32)", i+1, len(key), KeySize)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("lists no key")
	}
	return keys, nil
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// keyIDOf derives a key's id from a hash of the key under a fixed label, so the id says nothing
// useful about the key.
func keyIDOf(key []byte) KeyID {
	sum := sha256.Sum256(append([]byte("zoomtoken seal key id\x00"), key...))
	return KeyID(binary.BigEndian.Uint32(sum[:keyIDSize]))
}

// SealingKey returns the id of the key Seal uses.
func (k *Keyring) SealingKey() KeyID { return k.keys[0].id }

// Seal encrypts plaintext with the first key, bound to associatedData.
func (k *Keyring) Seal(plaintext, associatedData []byte) ([]byte, error) {
	key := k.keys[0]
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+tagSize)
	out[0] = version
	binary.BigEndian.PutUint32(out[1:headerSize], uint32(key.id))
	nonce := out[headerSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return key.aead.Seal(out, nonce, plaintext, associatedData), nil
}

// Open decrypts a value Seal made, with the key it names and the same associatedData. It returns
// ErrUnknownKey or ErrCorrupt (wrapped) when it cannot.
func (k *Keyring) Open(sealed, associatedData []byte) ([]byte, error) {
	id, err := KeyOf(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	plain, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], associatedData)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// KeyOf returns the id of the key that sealed a value, without opening it.
func KeyOf(sealed []byte) (KeyID, error) {
	if len(sealed) < headerSize+nonceSize+tagSize || sealed[0] != version {
		return 0, ErrCorrupt
	}
	return KeyID(binary.BigEndian.Uint32(sealed[1:headerSize])), nil
}

// SealedBySealingKey reports whether a value is already sealed with the keyring's first key, so a
// rekey can leave it alone.
func (k *Keyring) SealedBySealingKey(sealed []byte) bool {
	id, err := KeyOf(sealed)
	return err == nil && id == k.keys[0].id
}
