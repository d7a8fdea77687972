package vend_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/vend/vendtest"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// Meetings of the emulated account: alice hosts hers; the S2S app's account holds the other.
const (
	aliceMeeting = 81112223333
	appMeeting   = 85746065432
)

// fixture is a vendor over the emulator, with alice connected and her meeting mapped.
type fixture struct {
	emu   *zoomemu.Emulator
	store connections.Store
	alice connections.Connection
	s2s   *zoom.Client
	cd    *vend.Connected
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	emu := zoomemu.New(zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}},
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret", RedirectURI: "http://127.0.0.1/oauth/callback"},
		Users: []zoomemu.User{
			{ID: "alice-id", Email: "alice@example.com", AccountID: "acct-a", Meetings: []int64{aliceMeeting}},
			{ID: "bot-id", Email: "bot@example.com", AccountID: "acct"},
		},
		Meetings: []int64{appMeeting},
	})
	srv := httptest.NewServer(emu)
	tb.Cleanup(func() { emu.Close(); srv.Close() })
	store := sqlitetest.Open(tb, sqlstore.Options{}).Connections()
	accounts := vendtest.Connected(tb, store, srv.URL, "http://127.0.0.1/oauth/callback", vendtest.Config{Budget: 2 * time.Second})
	m := accounts.Manager
	access, refresh, expires, err := emu.IssueTokens("alice-id")
	if err != nil {
		tb.Fatal(err)
	}
	alice, _, err := m.Connect(context.Background(), connections.Connection{ZoomUserID: "alice-id", ZoomAccountID: "acct-a",
		Email: "alice@example.com", Ref: "customer-42"}, connections.Tokens{Access: access, Refresh: refresh, AccessExpiresAt: expires}, aliceMeeting)
	if err != nil {
		tb.Fatal(err)
	}
	s2s := zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
		OAuthBaseURL: srv.URL, APIBaseURL: srv.URL, Budget: 2 * time.Second})
	return &fixture{emu: emu, store: store, alice: alice, s2s: s2s, cd: accounts.Connected}
}

// endAlice marks alice's connection as needing re-authorization, as a refused refresh does.
func (f *fixture) endAlice(tb testing.TB) {
	tb.Helper()
	if _, err := f.store.Update(context.Background(), f.alice.ID, func(context.Context, connections.Connection) (connections.Change, error) {
		return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// The join token's sources, in their one order: the named connection; else the meeting's
// connected host, passed over (and said why) when its connection has ended; else the S2S app;
// else no source.
func TestJoinTokenSources(t *testing.T) {
	ctx := context.Background()
	t.Run("the meeting's connected host", func(t *testing.T) {
		f := newFixture(t)
		v := vend.New(vend.App{S2S: f.s2s, Connected: f.cd})
		got, err := v.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: aliceMeeting, Kind: zoom.LocalRecording})
		if err != nil || got.Via != vend.ViaConnection || got.ConnectionID != f.alice.ID || got.PassedOver != nil || !vend.Plausible(got.Value) {
			t.Fatalf("got %+v, %v; want alice's connection", got, err)
		}
	})
	t.Run("a meeting nobody connected hosts", func(t *testing.T) {
		f := newFixture(t)
		v := vend.New(vend.App{S2S: f.s2s, Connected: f.cd})
		got, err := v.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: appMeeting, Kind: zoom.LocalRecording})
		if err != nil || got.Via != vend.ViaS2S || got.ConnectionID != "" || got.PassedOver != nil {
			t.Fatalf("got %+v, %v; want the S2S app", got, err)
		}
	})
	t.Run("a host whose connection ended", func(t *testing.T) {
		f := newFixture(t)
		f.endAlice(t)
		v := vend.New(vend.App{S2S: f.s2s, Connected: f.cd})
		got, err := v.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: aliceMeeting, Kind: zoom.LocalRecording})
		if err != nil || got.Via != vend.ViaS2S {
			t.Fatalf("got %+v, %v; want the S2S app", got, err)
		}
		without := vend.New(vend.App{Connected: f.cd})
		if _, err := without.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: aliceMeeting}); !errors.Is(err, vend.ErrNoJoinTokenSource) {
			t.Errorf("without an S2S app: %v, want ErrNoJoinTokenSource", err)
		}
	})
	t.Run("a named connection", func(t *testing.T) {
		f := newFixture(t)
		v := vend.New(vend.App{S2S: f.s2s, Connected: f.cd})
		got, err := v.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: aliceMeeting, Kind: zoom.LocalRecording, Name: vend.Name{Ref: "customer-42"}})
		if err != nil || got.ConnectionID != f.alice.ID {
			t.Fatalf("got %+v, %v; want alice's connection", got, err)
		}
		if _, err := v.JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: aliceMeeting, Name: vend.Name{Ref: "nobody"}}); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("an unknown ref: %v, want ErrNotFound (never a fall-back to another source)", err)
		}
	})
	t.Run("the database down", func(t *testing.T) {
		f := newFixture(t)
		down := &vend.Connected{Manager: connections.NewManager(connections.ManagerConfig{Store: new(sqlstore.DB).Connections()}), Zoom: f.cd.Zoom}
		got, err := vend.New(vend.App{S2S: f.s2s, Connected: down}).JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: appMeeting})
		if err != nil || got.Via != vend.ViaS2S || !errors.Is(got.PassedOver, connections.ErrUnavailable) {
			t.Errorf("with the S2S app: %+v, %v; want its token, the map said passed over", got, err)
		}
		if _, err := vend.New(vend.App{Connected: down}).JoinToken(ctx, vend.ReachConnected, vend.JoinTokenRequest{MeetingID: appMeeting}); !errors.Is(err, connections.ErrUnavailable) {
			t.Errorf("without: %v, want ErrUnavailable", err)
		}
	})
}

// A source that is not configured is an Off error naming what turns it on, and Zoom is not
// called.
func TestOffSourcesNameTheirVariables(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for name, call := range map[string]func() error{
		"ZAK without the S2S app": func() error { _, err := vend.New(vend.App{}).ZAK(ctx, vend.ReachConnected, vend.Name{}); return err },
		"ZAK without ZOOM_ZAK_USER": func() error {
			_, err := vend.New(vend.App{S2S: f.s2s}).ZAK(ctx, vend.ReachConnected, vend.Name{})
			return err
		},
		"a named ZAK without connections": func() error {
			_, err := vend.New(vend.App{S2S: f.s2s}).ZAK(ctx, vend.ReachConnected, vend.Name{User: "u"})
			return err
		},
		"OBF without connections": func() error {
			_, err := vend.New(vend.App{}).OBF(ctx, vend.ReachConnected, vend.Name{Ref: "r"}, 0)
			return err
		},
		"RTMS off": func() error {
			_, err := vend.New(vend.App{S2S: f.s2s}).ControlRTMS(ctx, vend.RTMSControlRequest{MeetingID: appMeeting})
			return err
		},
	} {
		var off vend.Off
		if err := call(); !errors.As(err, &off) || !strings.Contains(off.Error(), "ZOOM_") {
			t.Errorf("%s: %v, want an Off error naming variables", name, err)
		}
	}
	if n := len(f.emu.Requests()); n != 0 {
		t.Errorf("%d Zoom calls for sources that are off", n)
	}
}

// Concurrent S2S ZAK requests share one call to Zoom; a connected user's ZAK is their own.
func TestZAK(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := vend.New(vend.App{S2S: f.s2s, ZAKUser: "bot@example.com", Connected: f.cd})
	got, err := v.ZAK(ctx, vend.ReachConnected, vend.Name{})
	if err != nil || got.Via != vend.ViaS2S || !vend.Plausible(got.Value) {
		t.Fatalf("S2S ZAK: %+v, %v", got, err)
	}
	mine, err := v.ZAK(ctx, vend.ReachConnected, vend.Name{User: "ALICE@example.com"})
	if err != nil || mine.ConnectionID != f.alice.ID || mine.Value == got.Value {
		t.Fatalf("alice's ZAK: %+v, %v", mine, err)
	}
}

// attendee's set: alice's OBF token, the host's join token, and the named connection's ZAK;
// each thing that cannot be had is left out with its reason, and the rest still answered.
func TestAttendeeTokenSet(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := vend.New(vend.App{S2S: f.s2s, ZAKUser: "bot@example.com", Connected: f.cd})
	set := v.Attendee(ctx, attendee.Request{Refs: []string{"customer-42", "nobody", "customer-42"}, ZAK: true}, aliceMeeting)
	if len(set.OnBehalf) != 1 || set.OnBehalf[0].ConnectionID != f.alice.ID || set.OnBehalfList() != set.OnBehalf[0].Value {
		t.Errorf("OBF tokens: %+v", set.OnBehalf)
	}
	if set.AppPrivilege.ConnectionID != f.alice.ID || set.ZAK.ConnectionID != f.alice.ID {
		t.Errorf("join token from %q, ZAK from %q; want alice's", set.AppPrivilege.ConnectionID, set.ZAK.ConnectionID)
	}
	if len(set.LeftOut) != 1 || set.LeftOut[0].Named != "bot_metadata.zoomtoken_ref[1]" || !errors.Is(set.LeftOut[0].Err, connections.ErrNotFound) {
		t.Errorf("left out: %+v; want the unknown ref, by its place", set.LeftOut)
	}

	f.endAlice(t)
	set = v.Attendee(ctx, attendee.Request{ZAK: true}, aliceMeeting)
	if len(set.OnBehalf) != 0 || set.AppPrivilege.Via != vend.ViaS2S || set.ZAK.Via != vend.ViaS2S {
		t.Errorf("with alice's connection ended: %+v; want no OBF, the S2S app's join token and ZAK", set)
	}
}

func TestPlausible(t *testing.T) {
	for token, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl": true,
		strings.Repeat("a", 16):                             true,
		strings.Repeat("a", 15):                             false,
		strings.Repeat("a", 8193):                           false,
		"<html>not a token</html>":                          false,
		"token with a\nline break":                          false,
	} {
		if got := vend.Plausible(token); got != want {
			t.Errorf("Plausible(%.30q) = %v, want %v", token, got, want)
		}
	}
}

// A caller that reaches the operator's own account only gets the S2S app's tokens: never one
// made from a connected account, the meeting's host's included.
func TestReachOwnAccount(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := vend.New(vend.App{S2S: f.s2s, ZAKUser: "bot@example.com", Connected: f.cd})
	own := vend.ReachOwnAccount
	got, err := v.JoinToken(ctx, own, vend.JoinTokenRequest{MeetingID: aliceMeeting})
	if err == nil && got.Via != vend.ViaS2S {
		t.Errorf("alice's meeting with a plain secret: a token via %s %s, want the S2S app's or none", got.Via, got.ConnectionID)
	}
	if got, err := v.ZAK(ctx, own, vend.Name{}); err != nil || got.Via != vend.ViaS2S {
		t.Errorf("the S2S ZAK: %+v %v", got, err)
	}
	for name, call := range map[string]func() error{
		"a named ZAK":  func() error { _, err := v.ZAK(ctx, own, vend.Name{Ref: "customer-42"}); return err },
		"an OBF token": func() error { _, err := v.OBF(ctx, own, vend.Name{Ref: "customer-42"}, 0); return err },
		"a named join token": func() error {
			_, err := v.JoinToken(ctx, own, vend.JoinTokenRequest{MeetingID: aliceMeeting, Name: vend.Name{Ref: "customer-42"}})
			return err
		},
		"an access token": func() error {
			_, err := v.AccessToken(ctx, own, vend.Name{Ref: "customer-42"}, time.Minute)
			return err
		},
		"a host's join token without an S2S app": func() error {
			_, err := vend.New(vend.App{Connected: f.cd}).JoinToken(ctx, own, vend.JoinTokenRequest{MeetingID: aliceMeeting})
			return err
		},
	} {
		if err := call(); !errors.Is(err, vend.ErrNeedsLink) {
			t.Errorf("%s: %v, want ErrNeedsLink", name, err)
		}
	}
	for _, c := range f.emu.Requests() {
		if strings.Contains(c.Path, "/users/me") {
			t.Errorf("a call made as a connected user: %s %s", c.Method, c.Path)
		}
	}
}

// An access token with at least min_valid left: the stored one while it has that long, a
// refreshed one (once) when it has not; either is one Zoom accepts.
func TestAccessToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := vend.New(vend.App{Connected: f.cd})
	first, err := v.AccessToken(ctx, vend.ReachConnected, vend.Name{Ref: "customer-42"}, 2*time.Minute)
	if err != nil || first.ConnectionID != f.alice.ID || f.emu.Refreshes("alice-id") != 0 {
		t.Fatalf("with an hour left: %+v %v, %d refreshes", first, err, f.emu.Refreshes("alice-id"))
	}
	// Asking for more than the token has left refreshes it, once.
	second, err := v.AccessToken(ctx, vend.ReachConnected, vend.Name{Ref: "customer-42"}, 3300*time.Second+time.Hour)
	if err != nil || second.Value == first.Value || f.emu.Refreshes("alice-id") != 1 {
		t.Fatalf("wanting more than is left: %v, same token %v, %d refreshes", err, second.Value == first.Value, f.emu.Refreshes("alice-id"))
	}
	if _, err := f.cd.Zoom.OBF(ctx, zoom.UserToken{Value: second.Value}, 0); err != nil {
		t.Errorf("Zoom refuses the vended access token: %v", err)
	}
}
