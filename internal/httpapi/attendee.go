package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/metrics"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// maxAttendeeBody bounds a zoom_tokens callback; attendee caps a bot's metadata well below it.
const maxAttendeeBody = 64 << 10

// attendeeTokens is the answer attendee reads: each token absent when it could not be had.
type attendeeTokens struct {
	ZAK       string `json:"zak_token,omitempty"`
	JoinToken string `json:"join_token,omitempty"`
	OnBehalf  string `json:"onbehalf_token,omitempty"`
}

// handleAttendee serves POST /callbacks/attendee, attendee's zoom_tokens callback: the signature
// first (401), then the request (400), then every token that can be had, fetched at once, each
// left out with a logged reason when it cannot. 503 only when the database is down and no token
// could be had.
func handleAttendee(v *attendee.Verifier, s2s *zoom.Client, zakUser string, zakTTL time.Duration, cd *Connected, m *metrics.Metrics) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAttendeeBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeText(w, http.StatusRequestEntityTooLarge, "the body is over 64 KiB")
			return
		case err != nil:
			writeText(w, http.StatusBadRequest, "the body could not be read")
			return
		}
		if err := v.Verify(body, r.Header.Get("X-Webhook-Signature")); err != nil {
			m.ObserveBotAuth(authRefused)
			reason := err.Error()
			if errors.Is(err, attendee.ErrNotJSON) {
				reason = attendee.ErrNotJSON.Error() + ", so its signature cannot be checked"
			}
			requestLogger(w).Warn().Str("reason", reason).Msg("attendee callback refused")
			writeText(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		m.ObserveBotAuth(authSignature)
		req, err := attendee.ParseRequest(body)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		meetingID, err := zoom.MeetingIDFromURL(req.MeetingURL)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		log := requestLogger(w).With().Str("bot_id", req.BotID).Int64("meeting_id", meetingID).Logger()
		g := tokenGatherer{s2s: s2s, zakUser: zakUser, zakTTL: zakTTL, cd: cd, log: &log}
		tokens := g.gather(r.Context(), req, meetingID)
		if r.Context().Err() != nil {
			return // the bot hung up: nobody to answer (recorded as 499)
		}
		if tokens == (attendeeTokens{}) && g.dbDown {
			writeTextFailure(w, r, connections.ErrUnavailable)
			return
		}
		log.Info().Bool("zak_token", tokens.ZAK != "").Bool("join_token", tokens.JoinToken != "").
			Int("onbehalf_tokens", len(strings.FieldsFunc(tokens.OnBehalf, func(r rune) bool { return r == ',' }))).
			Msg("attendee callback answered")
		writeJSON(w, http.StatusOK, tokens)
	}
}

// tokenGatherer collects one callback's tokens.
type tokenGatherer struct {
	s2s     *zoom.Client
	zakUser string
	zakTTL  time.Duration
	cd      *Connected
	log     *zerolog.Logger
	// dbDown records that a lookup failed on the database, which a 503 reports when nothing
	// else could be had.
	dbDown bool
}

// gather reads what the request names from the database, then asks Zoom for every token in
// parallel: a bot waits on this before it joins.
func (g *tokenGatherer) gather(ctx context.Context, req attendee.Request, meetingID int64) attendeeTokens {
	named := g.namedConnections(ctx, req)
	host, hosted := g.host(ctx, meetingID)

	onBehalf := named
	if len(req.Refs)+len(req.Users) == 0 && hosted {
		onBehalf = []connections.Connection{host}
	}
	obf := make([]string, len(onBehalf))
	var tokens attendeeTokens
	var wg sync.WaitGroup
	for i, c := range onBehalf {
		wg.Go(func() {
			token, err := g.cd.asConnection(ctx, c, func(ctx context.Context, t zoom.UserToken) (string, error) {
				return g.cd.Zoom.OBF(ctx, t, meetingID)
			})
			obf[i] = g.keep(token, err, "onbehalf_token", c.ID)
		})
	}
	wg.Go(func() { tokens.JoinToken = g.joinToken(ctx, meetingID, host, hosted) })
	if req.ZAK {
		wg.Go(func() { tokens.ZAK = g.zak(ctx, named) })
	}
	wg.Wait()
	tokens.OnBehalf = strings.Join(slices.DeleteFunc(obf, func(t string) bool { return t == "" }), ",")
	return tokens
}

// namedConnections looks up the connections bot_metadata names, in order, leaving out (with
// the reason logged) each that cannot be used. The log names a connection by its place in
// bot_metadata, not by the operator's ref for it.
func (g *tokenGatherer) namedConnections(ctx context.Context, req attendee.Request) []connections.Connection {
	if len(req.Refs)+len(req.Users) == 0 {
		return nil
	}
	if g.cd == nil {
		g.leftOut("onbehalf_token", "", leftOutReason("bot_metadata names connections, but connected accounts are off"))
		return nil
	}
	var found []connections.Connection
	lookup := func(key string, i int, user, ref string) {
		c, err := g.cd.Manager.Lookup(ctx, user, ref)
		if err == nil && c.Status != connections.StatusActive {
			err = connections.ErrReauthorizationRequired
		}
		if err != nil {
			g.noteDB(err)
			g.leftOut("onbehalf_token", "", fmt.Errorf("bot_metadata.%s[%d]: %w", key, i, leftOutReason(classify(err).reason)))
			return
		}
		for _, seen := range found {
			if seen.ID == c.ID {
				return
			}
		}
		found = append(found, c)
	}
	for i, ref := range req.Refs {
		lookup(attendee.MetaRef, i, "", ref)
	}
	for i, user := range req.Users {
		lookup(attendee.MetaUser, i, user, "")
	}
	return found
}

// host is the meeting's connected host, when the meeting map names an active one.
func (g *tokenGatherer) host(ctx context.Context, meetingID int64) (connections.Connection, bool) {
	if g.cd == nil {
		return connections.Connection{}, false
	}
	host, err := g.cd.Manager.Host(ctx, meetingID)
	if err != nil {
		g.noteDB(err)
		if errors.Is(err, connections.ErrUnavailable) {
			g.log.Warn().Err(err).Msg("attendee: the meeting map is unavailable")
		}
		return connections.Connection{}, false
	}
	return host, host.Status == connections.StatusActive
}

// joinToken is the meeting's local-recording join token: from its connected host, else (or
// when the host cannot make it) from the S2S app.
func (g *tokenGatherer) joinToken(ctx context.Context, meetingID int64, host connections.Connection, hosted bool) string {
	if hosted {
		token, err := g.cd.asConnection(ctx, host, func(ctx context.Context, t zoom.UserToken) (string, error) {
			return g.cd.Zoom.JoinToken(ctx, t, meetingID, zoom.LocalRecording, false)
		})
		if err == nil || !hostCannotMake(err) || g.s2s == nil {
			return g.keep(token, err, "join_token", host.ID)
		}
	}
	if g.s2s == nil {
		return g.keep("", errNoJoinTokenSource, "join_token", "")
	}
	token, err := g.s2s.JoinToken(ctx, meetingID, zoom.LocalRecording, false)
	return g.keep(token, err, "join_token", "")
}

// zak is the first named connection's ZAK, else ZOOM_ZAK_USER's from the S2S app.
func (g *tokenGatherer) zak(ctx context.Context, named []connections.Connection) string {
	switch {
	case len(named) > 0:
		token, err := g.cd.asConnection(ctx, named[0], func(ctx context.Context, t zoom.UserToken) (string, error) {
			return g.cd.Zoom.ZAK(ctx, t, g.cd.ZAKTTL)
		})
		return g.keep(token, err, "zak_token", named[0].ID)
	case g.s2s != nil && g.zakUser != "":
		token, err := g.s2s.ZAK(ctx, g.zakUser, g.zakTTL)
		return g.keep(token, err, "zak_token", "")
	default:
		return g.keep("", leftOutReason("no connection is named and ZOOM_ZAK_USER is not set"), "zak_token", "")
	}
}

// keep returns the token when there is one a bot can use, and otherwise logs why it is left out.
func (g *tokenGatherer) keep(token string, err error, name, connectionID string) string {
	if err == nil && !plausibleToken(token) {
		err = leftOutReason("Zoom answered with something that is not a token")
	}
	if err != nil {
		g.leftOut(name, connectionID, err)
		return ""
	}
	return token
}

// leftOutReason is why a token is left out when no error of Zoom's or the database's says it.
type leftOutReason string

func (r leftOutReason) Error() string { return string(r) }

// leftOut logs why a token is not in the answer: at info when that is how things are (no such
// connection, no source), at warn when Zoom or the database failed.
func (g *tokenGatherer) leftOut(name, connectionID string, err error) {
	event := g.log.Info()
	var own leftOutReason
	if !errors.As(err, &own) {
		f := classify(err)
		if f.status >= 500 {
			event = g.log.Warn()
		}
		event = event.Int("status", f.status)
		if f.reason != "" {
			err = leftOutReason(f.reason)
		}
	}
	if connectionID != "" {
		event = event.Str("connection", connectionID)
	}
	event.Str("token", name).Str("reason", err.Error()).Msg("attendee: token left out")
}

func (g *tokenGatherer) noteDB(err error) {
	if errors.Is(err, connections.ErrUnavailable) {
		g.dbDown = true
	}
}
