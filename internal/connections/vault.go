package connections

import (
	"context"
	"errors"
	"fmt"

	"github.com/zoomtoken/zoomtoken/internal/seal"
)

// Vault seals a connection's tokens before they reach a store, and opens them after. Each token
// is bound to its connection's Zoom user id and to its column, so a sealed token copied into
// another row or column does not open.
type Vault struct {
	keys *seal.Keyring
}

// NewVault returns a vault over a keyring.
func NewVault(keys *seal.Keyring) *Vault { return &Vault{keys: keys} }

// Columns a token can be stored in; part of what a sealed token is bound to.
const (
	columnAccess  = "access_token"
	columnRefresh = "refresh_token"
)

func associatedData(zoomUserID, column string) []byte {
	return []byte("zoomtoken/connection/" + column + "/" + zoomUserID)
}

// Seal seals the tokens of the connection of this Zoom user id.
func (v *Vault) Seal(zoomUserID string, t Tokens) (SealedTokens, error) {
	access, err := v.keys.Seal([]byte(t.Access), associatedData(zoomUserID, columnAccess))
	if err != nil {
		return SealedTokens{}, err
	}
	refresh, err := v.keys.Seal([]byte(t.Refresh), associatedData(zoomUserID, columnRefresh))
	if err != nil {
		return SealedTokens{}, err
	}
	return SealedTokens{Access: access, Refresh: refresh, AccessExpiresAt: t.AccessExpiresAt}, nil
}

// Open returns a connection's tokens in plain text. The error names the connection by its id and
// wraps seal.ErrUnknownKey or seal.ErrCorrupt; it never holds a token.
func (v *Vault) Open(c Connection) (Tokens, error) {
	access, err := v.keys.Open(c.Tokens.Access, associatedData(c.ZoomUserID, columnAccess))
	if err != nil {
		return Tokens{}, fmt.Errorf("connection %s: access token: %w", c.ID, err)
	}
	refresh, err := v.keys.Open(c.Tokens.Refresh, associatedData(c.ZoomUserID, columnRefresh))
	if err != nil {
		return Tokens{}, fmt.Errorf("connection %s: refresh token: %w", c.ID, err)
	}
	return Tokens{Access: string(access), Refresh: string(refresh), AccessExpiresAt: c.Tokens.AccessExpiresAt}, nil
}

// current reports whether both tokens are sealed with the vault's sealing key.
func (v *Vault) current(t SealedTokens) bool {
	return v.keys.SealedBySealingKey(t.Access) && v.keys.SealedBySealingKey(t.Refresh)
}

// RekeyReport says what Rekey did.
type RekeyReport struct {
	// Total is the number of connections looked at; Resealed how many were sealed anew.
	Total, Resealed int
	// Unopenable lists the connections no configured key opens (their key is gone, or the row
	// was altered), with why. They are left as they are.
	Unopenable []RekeyFailure
}

// RekeyFailure is a connection Rekey could not open.
type RekeyFailure struct {
	ID  string
	Err error
}

// Rekey re-seals with the vault's sealing key every connection sealed with another key, each
// under its update lock so a concurrent refresh is not overwritten. A connection that no key
// opens is reported, not changed.
func Rekey(ctx context.Context, store Store, v *Vault) (RekeyReport, error) {
	all, err := store.List(ctx, Filter{})
	if err != nil {
		return RekeyReport{}, err
	}
	report := RekeyReport{Total: len(all)}
	for _, c := range all {
		resealed := false
		_, err := store.Update(ctx, c.ID, func(_ context.Context, current Connection) (Change, error) {
			if v.current(current.Tokens) {
				return Change{}, nil
			}
			plain, err := v.Open(current)
			if err != nil {
				return Change{}, err
			}
			sealed, err := v.Seal(current.ZoomUserID, plain)
			if err != nil {
				return Change{}, err
			}
			resealed = true
			return Change{Tokens: &sealed}, nil
		})
		switch {
		case err == nil:
			if resealed {
				report.Resealed++
			}
		case errors.Is(err, ErrNotFound): // deleted meanwhile
		case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
			report.Unopenable = append(report.Unopenable, RekeyFailure{ID: c.ID, Err: err})
		default:
			return report, err
		}
	}
	return report, nil
}

// SealingKey returns the id of the key Seal uses (never the key itself).
func (v *Vault) SealingKey() seal.KeyID { return v.keys.SealingKey() }
