package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Connected holds what the connected-account routes need; nil in Deps turns them off.
type Connected struct {
	Manager *connections.Manager
	Zoom    *zoom.UserClient
	// ZAKTTL is the lifetime asked of Zoom for a connected user's ZAK; zero for Zoom's default.
	ZAKTTL time.Duration
}

// connectionName reads user= or ref=, one of which a connected-account request must give.
// required says the route has no other meaning without them.
func connectionName(r *http.Request) (user, ref, problem string) {
	q := r.URL.Query()
	user, ref = q.Get("user"), q.Get("ref")
	if user != "" && ref != "" {
		return "", "", "give user or ref, not both"
	}
	return user, ref, ""
}

// connectedToken looks the connection up and runs call with a fresh access token of it.
func connectedToken(w http.ResponseWriter, r *http.Request, cd *Connected, user, ref string,
	call func(ctx context.Context, t zoom.UserToken) (string, error)) {
	c, err := cd.Manager.Lookup(r.Context(), user, ref)
	if err != nil {
		writeConnectionError(w, r, err)
		return
	}
	token, err := cd.Manager.Call(r.Context(), c, func(ctx context.Context, accessToken string) (string, error) {
		return call(ctx, zoom.UserToken{Value: accessToken, Account: c.ZoomAccountID})
	})
	if err != nil {
		writeConnectionError(w, r, err)
		return
	}
	requestLogger(w).Debug().Str("connection", c.ID).Msg("token vended from a connection")
	writeToken(w, token)
}

// handleOBF serves GET /obf-token?secret=S&(user=U|ref=R)[&meeting_id=N]: an on-behalf-of
// token of that connected user, fresh each time (never cached or shared).
func handleOBF(cd *Connected) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, ref, problem := connectionName(r)
		if problem == "" && user == "" && ref == "" {
			problem = "name the connected user: user=<Zoom user id or email> or ref=<your id for them>"
		}
		var meetingID int64
		if raw := r.URL.Query().Get("meeting_id"); problem == "" && raw != "" {
			meetingID, problem = parseMeetingID(raw)
		}
		if problem != "" {
			writeText(w, http.StatusBadRequest, problem)
			return
		}
		connectedToken(w, r, cd, user, ref, func(ctx context.Context, t zoom.UserToken) (string, error) {
			return cd.Zoom.OBF(ctx, t, meetingID)
		})
	}
}

// handleConnectedZAK serves GET /zak?secret=S&(user=U|ref=R): the ZAK of a connected user.
func handleConnectedZAK(cd *Connected, user, ref string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		connectedToken(w, r, cd, user, ref, func(ctx context.Context, t zoom.UserToken) (string, error) {
			return cd.Zoom.ZAK(ctx, t, cd.ZAKTTL)
		})
	}
}

// writeConnectionError maps what the Manager says to the bot routes' status table; Zoom's own
// failures go on to writeZoomError.
func writeConnectionError(w http.ResponseWriter, r *http.Request, err error) {
	if callerGone(w, r) {
		return
	}
	switch {
	case errors.Is(err, connections.ErrNotFound):
		writeText(w, http.StatusNotFound, "no connected Zoom account matches that user or ref")
	case errors.Is(err, connections.ErrReauthorizationRequired):
		writeText(w, http.StatusNotFound, "this user's Zoom connection has ended: they must connect their Zoom account again")
	case errors.Is(err, connections.ErrUnavailable):
		requestLogger(w).Warn().Err(err).Msg("connections database unavailable")
		w.Header().Set("Retry-After", "5")
		writeText(w, http.StatusServiceUnavailable, "the connections database is unavailable; try again shortly")
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		requestLogger(w).Error().Err(err).Msg("stored tokens cannot be decrypted")
		writeText(w, http.StatusBadGateway, "this connection's stored tokens cannot be decrypted with TOKEN_ENCRYPTION_KEYS; the operator must look")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeText(w, http.StatusServiceUnavailable, "timed out; try again shortly")
	default:
		writeZoomError(w, r, err)
	}
}
