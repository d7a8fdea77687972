package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Connected holds what the connected-account routes need; nil in Deps turns them off.
type Connected struct {
	Manager *connections.Manager
	Zoom    *zoom.UserClient
	// ZAKTTL is the lifetime asked of Zoom for a connected user's ZAK; zero for Zoom's default.
	ZAKTTL time.Duration
}

// connectionName reads user= or ref=, which name a connected account; giving both is the
// problem it returns.
func connectionName(r *http.Request) (user, ref, problem string) {
	q := r.URL.Query()
	user, ref = q.Get("user"), q.Get("ref")
	if user != "" && ref != "" {
		return "", "", "give user or ref, not both"
	}
	return user, ref, ""
}

// asConnection runs call with a fresh access token of the connection c, as the user-level
// Zoom client takes it.
func (cd *Connected) asConnection(ctx context.Context, c connections.Connection,
	call func(ctx context.Context, t zoom.UserToken) (string, error)) (string, error) {
	return cd.Manager.Call(ctx, c, func(ctx context.Context, accessToken string) (string, error) {
		return call(ctx, zoom.UserToken{Value: accessToken, Account: c.ZoomAccountID})
	})
}

// hostCannotMake reports whether a connected host's failure lets the next token source try:
// the connection has ended, or Zoom says the user cannot make this meeting's token.
func hostCannotMake(err error) bool {
	return errors.Is(err, connections.ErrReauthorizationRequired) || zoom.KindOf(err) == zoom.KindNotFound
}

// connectedToken looks the connection up and runs call with a fresh access token of it.
func connectedToken(w http.ResponseWriter, r *http.Request, cd *Connected, user, ref string,
	call func(ctx context.Context, t zoom.UserToken) (string, error)) {
	c, err := cd.Manager.Lookup(r.Context(), user, ref)
	if err != nil {
		writeTextFailure(w, r, err)
		return
	}
	token, err := cd.asConnection(r.Context(), c, call)
	if err != nil {
		writeTextFailure(w, r, err)
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

// handleZAKRoute serves GET /zak: with user= or ref=, the ZAK of that connected user;
// without, the configured user's ZAK from the S2S app (s2s).
func handleZAKRoute(s2s http.HandlerFunc, cd *Connected) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, ref, problem := connectionName(r)
		switch {
		case problem != "":
			writeText(w, http.StatusBadRequest, problem)
		case user == "" && ref == "":
			s2s(w, r)
		case cd == nil:
			connectedOff(w, r)
		default:
			handleConnectedZAK(cd, user, ref)(w, r)
		}
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
