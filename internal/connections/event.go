package connections

import (
	"encoding/json"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/outbox"
)

// EventType names a connection event.
type EventType string

// The connection events sent to EVENTS_URL.
const (
	EventCreated                 EventType = "connection.created"
	EventReconnected             EventType = "connection.reconnected"
	EventReauthorizationRequired EventType = "connection.reauthorization_required"
	EventDeleted                 EventType = "connection.deleted"
	// EventUpdated says a connection's refs changed: one was added by a reconnect under a new
	// ref, or removed by the admin API.
	EventUpdated EventType = "connection.updated"
)

// Fields are a connection's public fields, as the admin API and events show them: no token, no
// secret.
type Fields struct {
	ID            string    `json:"id"`
	ZoomUserID    string    `json:"zoom_user_id"`
	ZoomAccountID string    `json:"zoom_account_id"`
	Email         string    `json:"email"`
	Ref           *string   `json:"ref"`
	Refs          []string  `json:"refs"`
	Status        Status    `json:"status"`
	Scopes        []string  `json:"scopes"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	RefreshedAt   time.Time `json:"refreshed_at"`
	LastError     *string   `json:"last_error"`
}

// Fields returns the connection's public fields; times are UTC, and absent strings null.
func (c Connection) Fields() Fields {
	f := Fields{
		ID:            c.ID,
		ZoomUserID:    c.ZoomUserID,
		ZoomAccountID: c.ZoomAccountID,
		Email:         c.Email,
		Status:        c.Status,
		Scopes:        c.Scopes,
		Refs:          append([]string{}, c.Refs...), // [] rather than null when there is none
		CreatedAt:     c.CreatedAt.UTC(),
		UpdatedAt:     c.UpdatedAt.UTC(),
		RefreshedAt:   c.RefreshedAt.UTC(),
	}
	if f.Scopes == nil {
		f.Scopes = []string{}
	}
	if c.Ref != "" {
		f.Ref = &c.Ref
	}
	if c.LastError != "" {
		f.LastError = &c.LastError
	}
	return f
}

// NewEvent builds the outbox event of type t about c, as it stands after the change, at time at.
func NewEvent(t EventType, c Connection, at time.Time) (outbox.Event, error) {
	payload, err := json.Marshal(struct {
		Type      EventType `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      Fields    `json:"data"`
	}{t, at.UTC(), c.Fields()})
	if err != nil {
		return outbox.Event{}, err
	}
	return outbox.New(string(t), c.ID, payload, at), nil
}
