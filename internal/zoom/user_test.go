package zoom

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const testRedirect = "https://tokens.example.com/oauth/callback"

// userFixture is the user-level client against an emulator with one connected-account app and
// two users, alice hosting many meetings.
func userFixture(tb testing.TB) (*UserClient, *zoomemu.Emulator, string) {
	tb.Helper()
	alice := zoomemu.User{ID: "alice-id", Email: "alice@example.com", AccountID: "acct-a", PMI: 5551112222}
	for i := range 650 {
		alice.Meetings = append(alice.Meetings, 80000000000+int64(i))
	}
	emu := zoomemu.New(zoomemu.Config{
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret", RedirectURI: testRedirect},
		Users:    []zoomemu.User{alice, {ID: "bob-id", Email: "bob@example.com", Meetings: []int64{90000000001}}},
	})
	srv := httptest.NewServer(emu)
	tb.Cleanup(func() { emu.Close(); srv.Close() })
	uc := NewUserClient(Config{ClientID: "oauth-client", ClientSecret: "oauth-secret", OAuthBaseURL: srv.URL,
		APIBaseURL: srv.URL, Budget: 2 * time.Second, AttemptTimeout: time.Second}, testRedirect)
	return uc, emu, srv.URL
}

// authorize runs the consent as user and returns the code Zoom sends back.
func authorize(tb testing.TB, uc *UserClient, emu *zoomemu.Emulator, user, verifier string) string {
	tb.Helper()
	emu.AutoApprove(user)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(uc.AuthCodeURL("st4te", verifier))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("state") != "st4te" || back.Query().Get("code") == "" {
		tb.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.Query().Get("code")
}

func TestUserClientExchangeRefreshRotation(t *testing.T) {
	uc, emu, base := userFixture(t)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	code := authorize(t, uc, emu, "alice@example.com", verifier)

	if _, err := uc.Exchange(ctx, code, "a-wrong-verifier-a-wrong-verifier-a-wrong-verifier"); err == nil {
		t.Fatal("a wrong PKCE verifier was accepted")
	}
	code = authorize(t, uc, emu, "alice@example.com", verifier)
	g, err := uc.Exchange(ctx, code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if g.AccessToken == "" || g.RefreshToken == "" || g.APIBase != base || !slices.Contains(g.Scopes, zoomemu.ScopeUserToken) ||
		time.Until(g.ExpiresAt) < 50*time.Minute {
		t.Fatalf("grant: %+v", g)
	}
	if _, err := uc.Exchange(ctx, code, verifier); err == nil {
		t.Error("a code was exchanged twice")
	}

	next, err := uc.Refresh(ctx, g.RefreshToken)
	if err != nil || next.RefreshToken == g.RefreshToken || next.AccessToken == g.AccessToken {
		t.Fatalf("refresh: %+v %v", next, err)
	}
	_, err = uc.Refresh(ctx, g.RefreshToken) // the rotated-away token
	if !IsRefreshTokenDead(err) || emu.StaleRefreshes() != 1 || emu.Refreshes("alice-id") != 1 {
		t.Errorf("reusing a rotated refresh token: %v, dead %v, stale %d, refreshes %d", err, IsRefreshTokenDead(err),
			emu.StaleRefreshes(), emu.Refreshes("alice-id"))
	}
	if strings.Contains(err.Error(), g.RefreshToken) {
		t.Errorf("the error holds the refresh token: %v", err)
	}

	// A 5xx on refresh is not retried: Zoom may have rotated the token anyway.
	emu.Script(zoomemu.EndpointToken, zoomemu.ServerError())
	before := emu.Calls(zoomemu.EndpointToken)
	_, err = uc.Refresh(ctx, next.RefreshToken)
	var zerr *Error
	if !errors.As(err, &zerr) || zerr.Kind != KindUnavailable || IsRefreshTokenDead(err) || emu.Calls(zoomemu.EndpointToken)-before != 1 {
		t.Errorf("refresh after a 5xx: %v, %d calls", err, emu.Calls(zoomemu.EndpointToken)-before)
	}

	// A new authorization kills the earlier token set.
	code = authorize(t, uc, emu, "alice@example.com", verifier)
	if _, err := uc.Exchange(ctx, code, verifier); err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Refresh(ctx, next.RefreshToken); !IsRefreshTokenDead(err) {
		t.Errorf("the earlier refresh token survived a new authorization: %v", err)
	}

	bad := NewUserClient(Config{ClientID: "oauth-client", ClientSecret: "wrong", OAuthBaseURL: base, APIBaseURL: base}, testRedirect)
	if _, err := bad.Refresh(ctx, "whatever"); IsRefreshTokenDead(err) || !errors.As(err, &zerr) || zerr.OAuthError != "invalid_client" {
		t.Errorf("invalid_client is a configuration error, not a dead connection: %v", err)
	}
}

func TestUserClientCalls(t *testing.T) {
	uc, emu, _ := userFixture(t)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	g, err := uc.Exchange(ctx, authorize(t, uc, emu, "alice-id", verifier), verifier)
	if err != nil {
		t.Fatal(err)
	}
	tok := UserToken{Value: g.AccessToken, APIBase: g.APIBase}

	me, err := uc.Me(ctx, tok)
	if err != nil || me != (Me{ID: "alice-id", AccountID: "acct-a", Email: "alice@example.com", PMI: 5551112222}) {
		t.Errorf("Me: %+v %v", me, err)
	}
	obf, err := uc.OBF(ctx, tok, 80000000005)
	calls := emu.UserTokenCalls()
	if err != nil || !strings.HasPrefix(obf, "emu_obf_") || calls[len(calls)-1].MeetingID != "80000000005" {
		t.Errorf("OBF: %q %v %+v", obf, err, calls)
	}
	if zak, err := uc.ZAK(ctx, tok, 0); err != nil || !strings.HasPrefix(zak, "emu_zak_") {
		t.Errorf("ZAK: %q %v", zak, err)
	}
	if jt, err := uc.JoinToken(ctx, tok, 80000000001, LocalRecording, false); err != nil || !strings.HasPrefix(jt, "emu_jt_") {
		t.Errorf("join token for a hosted meeting: %q %v", jt, err)
	}
	_, err = uc.JoinToken(ctx, tok, 90000000001, LocalRecording, false) // bob's meeting
	var zerr *Error
	if !errors.As(err, &zerr) || zerr.Kind != KindNotFound {
		t.Errorf("join token for another host's meeting: %v", err)
	}
	ids, err := uc.Meetings(ctx, tok)
	if err != nil || len(ids) != 650 || ids[0] != 80000000000 || ids[649] != 80000000649 || emu.Calls(zoomemu.EndpointMeetings) != 3 {
		t.Errorf("listing: %d meetings in %d calls, %v", len(ids), emu.Calls(zoomemu.EndpointMeetings), err)
	}

	emu.ExpireUserTokens("alice-id")
	if _, err := uc.OBF(ctx, tok, 0); !IsInvalidAccessToken(err) {
		t.Errorf("an expired access token: %v, want 401 124", err)
	}
	if err := uc.Revoke(ctx, g.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if got := emu.Revoked(); !slices.Equal(got, []string{"alice-id"}) {
		t.Errorf("revoked %v", got)
	}
	if _, err := uc.Refresh(ctx, g.RefreshToken); !IsRefreshTokenDead(err) {
		t.Errorf("a revoked refresh token still refreshes: %v", err)
	}
}

// Connected users live in many Zoom accounts: one account's rate limit does not hold back another's.
func TestUserRateLimitsArePerAccount(t *testing.T) {
	uc, emu, _ := userFixture(t)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	alice, err := uc.Exchange(ctx, authorize(t, uc, emu, "alice-id", verifier), verifier)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := uc.Exchange(ctx, authorize(t, uc, emu, "bob-id", verifier), verifier)
	if err != nil {
		t.Fatal(err)
	}
	emu.Script(zoomemu.EndpointUserToken, zoomemu.RateLimitedPerSecond("5"))
	if _, err := uc.OBF(ctx, UserToken{Value: alice.AccessToken, Account: "acct-a"}, 0); err == nil {
		t.Fatal("the scripted 429 did not reach alice's call")
	}
	began := time.Now()
	if _, err := uc.OBF(ctx, UserToken{Value: bob.AccessToken, Account: "acct-b"}, 0); err != nil || time.Since(began) > time.Second {
		t.Errorf("another account waited for alice's limit: %v after %v", err, time.Since(began))
	}
	before := emu.Calls(zoomemu.EndpointUserToken)
	_, err = uc.OBF(ctx, UserToken{Value: alice.AccessToken, Account: "acct-a"}, 0)
	var zerr *Error
	if !errors.As(err, &zerr) || zerr.Status != 429 || emu.Calls(zoomemu.EndpointUserToken) != before {
		t.Errorf("alice's account while limited: %v, %d calls", err, emu.Calls(zoomemu.EndpointUserToken)-before)
	}
}
