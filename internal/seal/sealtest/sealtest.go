// Package sealtest makes encryption keys for tests.
package sealtest

import (
	"crypto/rand"
	"testing"

	"github.com/zoomtoken/zoomtoken/internal/seal"
)

// Key returns a fresh random key and the keyring holding it alone.
func Key(tb testing.TB) ([]byte, *seal.Keyring) {
	tb.Helper()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	ring, err := seal.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	return key, ring
}
