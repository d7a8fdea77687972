package connections

import (
	"errors"
	"fmt"
)

// The errors the domain returns; the HTTP layer maps each to a status. Others are Zoom's (which
// the zoom package types) or sealing failures (the seal package's).
var (
	// ErrNotFound: no connection (or meeting) matches.
	ErrNotFound = errors.New("connection not found")
	// ErrUnavailable: the database cannot be reached (or a write failed); try again later.
	ErrUnavailable = errors.New("the connections database is unavailable")
	// ErrReauthorizationRequired: Zoom refused the connection's refresh token for good.
	ErrReauthorizationRequired = errors.New("the connection needs re-authorization: the user must connect again")
)

// storeError keeps ErrNotFound and ErrUnavailable and wraps any other store failure as
// ErrUnavailable, keeping its cause in the chain.
func storeError(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
