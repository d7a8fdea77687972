package vend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// AttendeeTokens is the token set attendee's zoom_tokens callback asks for: each token the
// vendor could get, and why each other one is left out.
type AttendeeTokens struct {
	ZAK Token
	// AppPrivilege is the meeting's local-recording token, asked with bypass_waiting_room=true:
	// attendee's app_privilege_token.
	AppPrivilege Token
	// OnBehalf holds an OBF token per usable connection, in the order bot_metadata names them
	// (or the meeting's host's alone when it names none).
	OnBehalf []Token
	// LeftOut says, per token that could not be had, why.
	LeftOut []LeftOut
	// DatabaseDown says a lookup failed because the database is down, which a 503 reports when
	// nothing else could be had.
	DatabaseDown bool
}

// LeftOut is a token the set goes without, and why.
type LeftOut struct {
	// Token is the answer's field: zak_token, app_privilege_token or onbehalf_token; bot_metadata
	// for a value that could not be read.
	Token string
	// Named, when set, is where bot_metadata named the connection (bot_metadata.zoomtoken_ref[0]),
	// never the operator's ref itself.
	Named string
	// ConnectionID is the connection that could not make it, when one was tried.
	ConnectionID string
	Err          error
}

// Reason is why a token is left out when no error of Zoom's or the database's says it.
type Reason string

func (r Reason) Error() string { return string(r) }

// Attendee gets every token a zoom_tokens callback can have for meetingID at once (a bot waits on
// this before it joins, and ctx's deadline is when it stops waiting): an OBF token per named
// connection (the meeting's host's when none is named), the local-recording token asked with
// bypass_waiting_room=true (the host's, else the S2S app's), and, when asked, a ZAK: the first
// named connection's, or ZOOM_ZAK_USER's when none is named.
func (v *Vendor) Attendee(ctx context.Context, req attendee.Request, meetingID int64) AttendeeTokens {
	var set AttendeeTokens
	var mu sync.Mutex
	leave := func(l LeftOut) {
		mu.Lock()
		defer mu.Unlock()
		if errors.Is(l.Err, connections.ErrUnavailable) {
			set.DatabaseDown = true
		}
		set.LeftOut = append(set.LeftOut, l)
	}
	for _, problem := range req.Problems {
		leave(LeftOut{Token: "bot_metadata", Err: Reason(problem)})
	}
	named, firstFound := v.namedConnections(ctx, req, leave)
	onBehalf := named
	if !req.Named && v.app.Connected != nil {
		host, err := v.app.Connected.Manager.Host(ctx, meetingID)
		if errors.Is(err, connections.ErrUnavailable) {
			set.DatabaseDown = true
		}
		if err == nil && host.Status == connections.StatusActive {
			onBehalf = []connections.Connection{host}
		}
	}
	obf := make([]Token, len(onBehalf))
	var wg sync.WaitGroup
	for i, c := range onBehalf {
		wg.Go(func() {
			token, err := checked(v.asConnection(ctx, c, func(ctx context.Context, t zoom.UserToken) (string, error) {
				return v.app.Connected.Zoom.OBF(ctx, t, meetingID)
			}))
			if err != nil {
				leave(LeftOut{Token: "onbehalf_token", ConnectionID: c.ID, Err: err})
				return
			}
			obf[i] = token
		})
	}
	wg.Go(func() {
		token, err := v.JoinToken(ctx, ReachConnected, JoinTokenRequest{MeetingID: meetingID, Kind: zoom.LocalRecording, Bypass: true})
		if err != nil {
			leave(LeftOut{Token: "app_privilege_token", ConnectionID: token.ConnectionID, Err: err})
			return
		}
		set.AppPrivilege = token
	})
	if req.ZAK {
		wg.Go(func() {
			token, err := v.attendeeZAK(ctx, req, named, firstFound)
			if err != nil {
				leave(LeftOut{Token: "zak_token", ConnectionID: token.ConnectionID, Err: err})
				return
			}
			set.ZAK = token
		})
	}
	wg.Wait()
	for _, t := range obf {
		if t.Value != "" {
			set.OnBehalf = append(set.OnBehalf, t)
		}
	}
	return set
}

// OnBehalfList is the OBF tokens as attendee reads them: comma-separated.
func (s AttendeeTokens) OnBehalfList() string {
	values := make([]string, len(s.OnBehalf))
	for i, t := range s.OnBehalf {
		values[i] = t.Value
	}
	return strings.Join(values, ",")
}

// attendeeZAK is the first named connection's ZAK; ZOOM_ZAK_USER's from the S2S app only when no
// connection is named, so a misspelt name never signs the bot in as somebody else.
func (v *Vendor) attendeeZAK(ctx context.Context, req attendee.Request, named []connections.Connection, firstFound bool) (Token, error) {
	switch {
	case req.Named && !firstFound:
		return Token{}, Reason("the connection bot_metadata names first cannot be used, so no ZAK " +
			"(ZOOM_ZAK_USER's is used only when no connection is named)")
	case len(named) > 0:
		return checked(v.asConnection(ctx, named[0], func(ctx context.Context, t zoom.UserToken) (string, error) {
			return v.app.Connected.Zoom.ZAK(ctx, t, v.app.Connected.ZAKTTL)
		}))
	case v.app.S2S != nil && v.app.ZAKUser != "":
		return v.ZAK(ctx, ReachOwnAccount, Name{})
	}
	return Token{}, Reason("no connection is named and ZOOM_ZAK_USER is not set")
}

// namedConnections looks up the connections bot_metadata names, refs first, each in order,
// leaving out each that cannot be used and each repeat; firstFound says the first name could be.
func (v *Vendor) namedConnections(ctx context.Context, req attendee.Request, leave func(LeftOut)) (found []connections.Connection, firstFound bool) {
	if len(req.Refs)+len(req.Users) == 0 {
		return nil, false
	}
	if v.app.Connected == nil {
		leave(LeftOut{Token: "onbehalf_token", Err: Reason("bot_metadata names connections, but connected accounts are off")})
		return nil, false
	}
	tried := 0
	lookup := func(key string, i int, name Name) {
		tried++
		c, err := v.app.Connected.Manager.Lookup(ctx, name.User, name.Ref)
		if err == nil && c.Status != connections.StatusActive {
			err = connections.ErrReauthorizationRequired
		}
		if err != nil {
			leave(LeftOut{Token: "onbehalf_token", Named: fmt.Sprintf("bot_metadata.%s[%d]", key, i), Err: err})
			return
		}
		if tried == 1 {
			firstFound = true
		}
		for _, seen := range found {
			if seen.ID == c.ID {
				return
			}
		}
		found = append(found, c)
	}
	for i, ref := range req.Refs {
		lookup(attendee.MetaRef, i, Name{Ref: ref})
	}
	for i, user := range req.Users {
		lookup(attendee.MetaUser, i, Name{User: user})
	}
	return found, firstFound
}
