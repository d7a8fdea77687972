// Package vend decides which credential answers a request for a Zoom token, and gets it: the
// operator's Server-to-Server app, a named connected account, or the connected host of a
// meeting, in the one fall-back order written here. Each answer is a token or a typed reason;
// nothing here speaks HTTP or logs, so the HTTP layer parses, asks, and answers, and a caller
// that is not HTTP (the attendee callback's gathering, a command) gets the same choices.
package vend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// App is one Zoom app as zoomtoken vends from it: its clients and what it is configured with.
// A nil client turns its source off.
type App struct {
	// S2S is the Server-to-Server app's client; nil when ZOOM_ACCOUNT_ID and the rest are unset.
	S2S *zoom.Client
	// ZAKUser is whose ZAK the S2S app vends; empty turns that off. ZAKTTL is the lifetime
	// asked of Zoom, zero for Zoom's default.
	ZAKUser string
	ZAKTTL  time.Duration
	// Connected is the connected accounts; nil when they are off.
	Connected *Connected
	// RTMS records streams and signs for them; nil when Realtime Media Streams are off.
	// RTMSClientID is the RTMS app's: control calls name it, and a webhook naming another app
	// is ignored.
	RTMS         *rtms.Service
	RTMSClientID string
	// WebhookTokens are the event subscription's Secret Tokens (the first answers URL
	// validation); empty turns Zoom's webhooks off.
	WebhookTokens []string
}

// Connected is the connected accounts: the Manager that keeps them fresh and the user-level
// client that calls Zoom as one of them.
type Connected struct {
	Manager *connections.Manager
	Zoom    *zoom.UserClient
	// ClientID is the OAuth app's: a deauthorization naming another app changes nothing.
	ClientID string
	// ZAKTTL is the lifetime asked of Zoom for a connected user's ZAK; zero for Zoom's default.
	ZAKTTL time.Duration
}

// The variables that turn each source on, as an Off error names them.
const (
	S2SVariables       = "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and CALLBACK_SECRETS (or CALLBACK_SIGNING_SECRETS)"
	ConnectedVariables = "ZOOM_OAUTH_CLIENT_ID, ZOOM_OAUTH_CLIENT_SECRET, PUBLIC_URL, TOKEN_ENCRYPTION_KEYS and CALLBACK_SECRETS"
	RTMSVariables      = "ZOOM_WEBHOOK_SECRET_TOKENS with connected accounts (ZOOM_RTMS_CLIENT_ID and ZOOM_RTMS_CLIENT_SECRET for an RTMS app of its own)"
)

// Off says the source a request needs is not configured, and which variables turn it on.
type Off struct{ Variables string }

func (e Off) Error() string { return "this endpoint is off: set " + e.Variables + " to turn it on" }

// Errors that say no source can make a token.
var (
	// ErrNoJoinTokenSource: no connected host owns the meeting and no S2S app can make its
	// join token instead.
	ErrNoJoinTokenSource = errors.New("no connected host owns this meeting, and no Server-to-Server app is configured")
	// ErrNoRTMSSource: nobody's token can start or stop the meeting's stream.
	ErrNoRTMSSource = errors.New("no connected account hosts this meeting, and no Server-to-Server app is configured")
	// ErrNotAToken: Zoom answered 200 with something a bot cannot use as a token.
	ErrNotAToken = errors.New("Zoom answered with something that is not a token")
	// ErrStreamNotRunning: Zoom says the meeting has no stream of the RTMS app to stop.
	ErrStreamNotRunning = errors.New("Zoom says no stream of the RTMS app is running in this meeting (it may have stopped already)")
)

// Reach is what a caller's credential reaches.
type Reach int

const (
	// ReachOwnAccount is the operator's own account only: the S2S app's ZAK and join tokens.
	// A plain ?secret= or a signed request has it by default.
	ReachOwnAccount Reach = iota
	// ReachConnected reaches connected accounts too: a bot link (its parameters are what it
	// grants, and it was signed for exactly those), or any caller under
	// CALLBACK_SECRETS_REACH=connected.
	ReachConnected
)

// ErrNeedsLink says a token would come from a connected account, which the caller's credential
// does not reach.
var ErrNeedsLink = errors.New("a token from a connected account needs a bot link that names it (or, for /join-token, " +
	"the meeting): mint one with POST /admin/bot-links or zoomtoken bot-link, see docs/meeting-bots.md#bot-links")

// Via says which kind of credential made a token.
const (
	ViaS2S        = "s2s"
	ViaConnection = "connection"
)

// Token is a vended token and where it came from.
type Token struct {
	Value string
	// Via is ViaS2S or ViaConnection; ConnectionID names the connection when it is the latter.
	Via          string
	ConnectionID string
	// PassedOver, when set, is why a source before the one that answered was not used (the
	// meeting map was unavailable, or the meeting's host could not make the token): worth a
	// log line, not a failure.
	PassedOver error
}

// Name names a connected account: by Zoom user id or email, or by the operator's ref.
type Name struct{ User, Ref string }

// Given reports whether the name names anyone.
func (n Name) Given() bool { return n.User != "" || n.Ref != "" }

// Vendor answers requests for tokens from an App. It is safe for concurrent use.
type Vendor struct {
	app App
	// zak coalesces the S2S app's ZAK requests: a ZAK is not single-use, so concurrent
	// requests may share one call.
	zak singleflight.Group
}

// New returns a Vendor over app.
func New(app App) *Vendor { return &Vendor{app: app} }

// ZAK returns the ZAK of the named connection, or without a name that of ZOOM_ZAK_USER from the
// S2S app (concurrent requests share one call to Zoom).
func (v *Vendor) ZAK(ctx context.Context, reach Reach, name Name) (Token, error) {
	if name.Given() {
		cd, err := v.connected(reach)
		if err != nil {
			return Token{}, err
		}
		return v.fromNamed(ctx, name, func(ctx context.Context, t zoom.UserToken) (string, error) {
			return cd.Zoom.ZAK(ctx, t, cd.ZAKTTL)
		})
	}
	switch {
	case v.app.S2S == nil:
		return Token{}, Off{S2SVariables}
	case v.app.ZAKUser == "":
		return Token{}, Off{"ZOOM_ZAK_USER"}
	}
	ch := v.zak.DoChan("zak", func() (any, error) {
		// The shared call must not end with the request that happened to start it.
		return v.app.S2S.ZAK(context.WithoutCancel(ctx), v.app.ZAKUser, v.app.ZAKTTL)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return Token{}, res.Err
		}
		return checked(Token{Value: res.Val.(string), Via: ViaS2S}, nil)
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// OBF returns an on-behalf-of token of the named connection, for meetingID when it is not zero.
// It is fresh each time: never cached or shared.
func (v *Vendor) OBF(ctx context.Context, reach Reach, name Name, meetingID int64) (Token, error) {
	cd, err := v.connected(reach)
	if err != nil {
		return Token{}, err
	}
	return v.fromNamed(ctx, name, func(ctx context.Context, t zoom.UserToken) (string, error) {
		return cd.Zoom.OBF(ctx, t, meetingID)
	})
}

// JoinTokenRequest is what a join token is asked for with.
type JoinTokenRequest struct {
	MeetingID int64
	// Kind is the token's type; the zero value is local_recording, the contract's default.
	Kind   zoom.JoinTokenKind
	Bypass bool
	// Name, when given, is the connection that must make it; otherwise the meeting's host or
	// the S2S app does.
	Name Name
}

// JoinToken returns a fresh join token (never cached or shared: each is single-use), from the
// named connection, else from the meeting's connected host, else from the S2S app. A caller that
// reaches the operator's own account only gets the S2S app's.
func (v *Vendor) JoinToken(ctx context.Context, reach Reach, req JoinTokenRequest) (Token, error) {
	req.Kind = cmp.Or(req.Kind, zoom.LocalRecording)
	asUser := func(ctx context.Context, t zoom.UserToken) (string, error) {
		return v.app.Connected.Zoom.JoinToken(ctx, t, req.MeetingID, req.Kind, req.Bypass)
	}
	if req.Name.Given() {
		if _, err := v.connected(reach); err != nil {
			return Token{}, err
		}
		return v.fromNamed(ctx, req.Name, asUser)
	}
	var asApp func(context.Context) (string, error)
	if v.app.S2S != nil {
		asApp = func(ctx context.Context) (string, error) {
			return v.app.S2S.JoinToken(ctx, req.MeetingID, req.Kind, req.Bypass)
		}
	}
	if reach != ReachConnected {
		if asApp == nil {
			return Token{}, ErrNeedsLink
		}
		value, err := asApp(ctx)
		return checked(Token{Value: value, Via: ViaS2S}, err)
	}
	return v.forMeeting(ctx, req.MeetingID, asUser, asApp)
}

// forMeeting makes a meeting's token: with its connected host's access token when the meeting
// map names an active host, passing on to the S2S app (asApp, nil without one) when the host's
// connection has ended or Zoom says the host cannot make it, or when the map cannot be read.
// This is the one place that order is written.
func (v *Vendor) forMeeting(ctx context.Context, meetingID int64,
	asHost func(context.Context, zoom.UserToken) (string, error), asApp func(context.Context) (string, error)) (Token, error) {
	var passedOver error
	if v.app.Connected != nil {
		host, err := v.app.Connected.Manager.Host(ctx, meetingID)
		switch {
		case errors.Is(err, connections.ErrUnavailable):
			passedOver = err
		case err == nil && host.Status == connections.StatusActive:
			token, err := v.asConnection(ctx, host, asHost)
			if err == nil || !hostCannotMake(err) {
				return checked(token, err)
			}
			passedOver = err
		}
	}
	if asApp == nil {
		if errors.Is(passedOver, connections.ErrUnavailable) {
			return Token{}, passedOver
		}
		return Token{}, ErrNoJoinTokenSource
	}
	value, err := asApp(ctx)
	if err != nil {
		return Token{}, err
	}
	return checked(Token{Value: value, Via: ViaS2S, PassedOver: passedOver}, nil)
}

// hostCannotMake reports whether a connected host's failure lets the next source try: the
// connection has ended, or Zoom says the user cannot make this meeting's token.
func hostCannotMake(err error) bool {
	return errors.Is(err, connections.ErrReauthorizationRequired) || zoom.KindOf(err) == zoom.KindNotFound
}

// AccessToken returns the named connection's access token itself, with at least minValid left
// (Recall.ai's customer-managed OAuth): only a caller that reaches connected accounts gets one.
func (v *Vendor) AccessToken(ctx context.Context, reach Reach, name Name, minValid time.Duration) (Token, error) {
	cd, err := v.connected(reach)
	if err != nil {
		return Token{}, err
	}
	c, err := cd.Manager.Lookup(ctx, name.User, name.Ref)
	if err != nil {
		return Token{}, err
	}
	value, err := cd.Manager.AccessToken(ctx, c, minValid)
	return checked(Token{Value: value, Via: ViaConnection, ConnectionID: c.ID}, err)
}

// RTMSControlRequest is what starting or stopping a meeting's stream is asked with.
type RTMSControlRequest struct {
	Action            zoom.RTMSAction
	MeetingID         int64
	Name              Name
	ParticipantUserID string
}

// ControlRTMS starts or stops a meeting's stream with the named connection's token, else the
// meeting's host connection's (the meeting map), else the S2S app's. The Token it returns has
// no value: it says whose credential made the call.
func (v *Vendor) ControlRTMS(ctx context.Context, req RTMSControlRequest) (Token, error) {
	if v.app.RTMS == nil {
		return Token{}, Off{RTMSVariables}
	}
	control := zoom.RTMSControl{MeetingID: req.MeetingID, Action: req.Action, ClientID: v.app.RTMSClientID,
		ParticipantUserID: req.ParticipantUserID}
	var conn connections.Connection
	if cd := v.app.Connected; cd != nil {
		var err error
		if req.Name.Given() {
			conn, err = cd.Manager.Lookup(ctx, req.Name.User, req.Name.Ref)
		} else {
			conn, err = cd.Manager.Host(ctx, req.MeetingID)
			if errors.Is(err, connections.ErrNotFound) || err == nil && conn.Status != connections.StatusActive {
				conn, err = connections.Connection{}, nil // nobody connected hosts it: the S2S app
			}
		}
		if err != nil {
			return Token{}, err
		}
	}
	switch {
	case conn.ID != "":
		t, err := v.asConnection(ctx, conn, func(ctx context.Context, t zoom.UserToken) (string, error) {
			return "", v.app.Connected.Zoom.ControlRTMS(ctx, t, control)
		})
		return Token{Via: t.Via, ConnectionID: t.ConnectionID}, notRunning(req.Action, err)
	case v.app.S2S != nil:
		return Token{Via: ViaS2S}, notRunning(req.Action, v.app.S2S.ControlRTMS(ctx, control))
	}
	return Token{}, ErrNoRTMSSource
}

// notRunning reads a refused stop that says there was no running stream to stop: no fault of
// the app's, so not the 502 other refusals are.
func notRunning(action zoom.RTMSAction, err error) error {
	if action == zoom.RTMSStop && zoom.NotRunning(err) {
		return fmt.Errorf("%w: %w", ErrStreamNotRunning, err)
	}
	return err
}

// StreamJoin returns what a worker needs to join an RTMS stream, its signature included.
func (v *Vendor) StreamJoin(ctx context.Context, streamID string) (rtms.Join, error) {
	if v.app.RTMS == nil {
		return rtms.Join{}, Off{RTMSVariables}
	}
	return v.app.RTMS.Join(ctx, streamID)
}

// connected returns the connected accounts for a caller that reaches them: Off when they are not
// configured, ErrNeedsLink for a caller that does not reach them.
func (v *Vendor) connected(reach Reach) (*Connected, error) {
	switch {
	case v.app.Connected == nil:
		return nil, Off{ConnectedVariables}
	case reach != ReachConnected:
		return nil, ErrNeedsLink
	}
	return v.app.Connected, nil
}

// fromNamed looks the named connection up and makes a token as it.
func (v *Vendor) fromNamed(ctx context.Context, name Name,
	make func(context.Context, zoom.UserToken) (string, error)) (Token, error) {
	c, err := v.app.Connected.Manager.Lookup(ctx, name.User, name.Ref)
	if err != nil {
		return Token{}, err
	}
	return checked(v.asConnection(ctx, c, make))
}

// asConnection calls Zoom as the connection c, with a fresh access token of it: the one way a
// token is made from a connected account.
func (v *Vendor) asConnection(ctx context.Context, c connections.Connection,
	call func(context.Context, zoom.UserToken) (string, error)) (Token, error) {
	value, err := v.app.Connected.Manager.Call(ctx, c, func(ctx context.Context, accessToken string) (string, error) {
		return call(ctx, zoom.UserToken{Value: accessToken, Account: c.ZoomAccountID})
	})
	return Token{Value: value, Via: ViaConnection, ConnectionID: c.ID}, err
}

// checked passes a token on only when it looks like one a bot can use.
func checked(t Token, err error) (Token, error) {
	if err != nil {
		return t, err
	}
	if !Plausible(t.Value) {
		return Token{}, ErrNotAToken
	}
	return t, nil
}

// Plausible reports whether Zoom's answer looks like a token a bot can use: 16 to 8192
// characters of a token alphabet (base64, base64url, JWT dots). A 200 carrying blanks, HTML or a
// line break is Zoom misbehaving, not a token.
func Plausible(token string) bool {
	if len(token) < 16 || len(token) > 8192 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return false
		}
	}
	return true
}
