// Package connections is the domain of connected Zoom accounts: people who authorized the app
// once, whose rotating tokens zoomtoken keeps alive and vends from. It declares the Connection
// and the Store that keeps it (sqlstore implements it on SQLite and PostgreSQL), the Zoom calls
// it needs (Zoom, which zoom.UserClient satisfies), and the Manager: lookups by user or ref,
// access tokens refreshed once per expiry across replicas, the keep-alive, the meeting map
// (which connection hosts a meeting), and the connect, delete and webhook changes, each with
// the outbox event it causes. The Vault seals tokens before any store sees them. It knows no
// SQL, no HTTP and no Zoom client.
package connections

import (
	"time"

	"github.com/rs/xid"
)

// Status is a connection's state.
type Status string

// The statuses a connection can have.
const (
	// StatusActive: the tokens work, or can be refreshed.
	StatusActive Status = "active"
	// StatusReauthorizationRequired: Zoom refused the refresh token for good; the user must
	// connect again.
	StatusReauthorizationRequired Status = "reauthorization_required"
)

// Connection is one connected Zoom user.
type Connection struct {
	// ID is zoomtoken's own id: opaque, and stable across reconnects of the same Zoom user.
	ID            string
	ZoomUserID    string
	ZoomAccountID string
	Email         string
	// Ref is the operator's own id for the user, the one connected under last; empty when none
	// was given.
	Ref string
	// Refs are every ref the connection was connected under, oldest first; each resolves to it.
	Refs   []string
	Status Status
	Scopes []string
	// RefreshedAt is when the tokens were last obtained from Zoom (connect or refresh);
	// ConnectedAt when the user last connected (the consent).
	CreatedAt, UpdatedAt, RefreshedAt, ConnectedAt time.Time
	// LastError says why the connection needs re-authorization; empty otherwise.
	LastError string
	Tokens    SealedTokens
}

// SealedTokens are a connection's OAuth tokens as a store holds them: sealed by a Vault, so no
// store ever sees a token in plain text.
type SealedTokens struct {
	Access, Refresh []byte
	AccessExpiresAt time.Time
}

// Tokens are a connection's OAuth tokens in plain text, in memory only.
type Tokens struct {
	Access, Refresh string
	AccessExpiresAt time.Time
}

// Filter narrows a listing; zero fields match everything.
type Filter struct {
	Ref    string
	Status Status
	// Limit, when positive, keeps the first Limit connections of the listing.
	Limit int
}

// NewID returns a fresh connection id.
func NewID() string { return "conn_" + xid.New().String() }
