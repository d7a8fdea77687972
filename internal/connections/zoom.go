package connections

import (
	"context"
	"errors"
	"time"
)

// Zoom is what the domain asks of Zoom's user-managed OAuth app. The zoom package's UserClient
// is the one implementation; the domain names only what it needs, so it knows nothing of HTTP.
type Zoom interface {
	// RefreshTokens trades a refresh token for new tokens. Zoom rotates refresh tokens: the one
	// given is dead once this succeeds, and may be even when the answer is lost.
	RefreshTokens(ctx context.Context, refreshToken string) (access, refresh string, accessExpiresAt time.Time, err error)
	// ListMeetings lists the ids of the meetings an access token's user hosts.
	ListMeetings(ctx context.Context, accessToken string) ([]int64, error)
	// Revoke revokes a token (and with it the user's whole token set).
	Revoke(ctx context.Context, token string) error
}

// Zoom's failures that the domain acts on are told by methods of the error, found with
// errors.As, the way net.Error tells a timeout: the domain needs no Zoom error type.
type (
	// refreshTokenDead is an error of RefreshTokens that may say Zoom refused the refresh token
	// for good (used, revoked, expired): the connection must be authorized again.
	refreshTokenDead interface {
		error
		RefreshTokenDead() bool
	}
	// accessTokenRejected is an error of a call made with an access token that may say Zoom no
	// longer accepts that token (expired early, revoked), which a refresh cures.
	accessTokenRejected interface {
		error
		AccessTokenRejected() bool
	}
)

func isRefreshTokenDead(err error) bool {
	var e refreshTokenDead
	return errors.As(err, &e) && e.RefreshTokenDead()
}

func isAccessTokenRejected(err error) bool {
	var e accessTokenRejected
	return errors.As(err, &e) && e.AccessTokenRejected()
}
