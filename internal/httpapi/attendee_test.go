package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/attendee"
	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/seal/sealtest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// attendeeKey is a project's webhook secret, decoded; attendeeOldKey is the one it replaced.
var (
	attendeeKey    = []byte("attendee-project-webhook-secret!")
	attendeeOldKey = []byte("attendee-previous-webhook-secret")
)

// signAttendee signs body as attendee does, written here apart from internal/attendee: the
// test builds its bodies with sorted keys, no spaces and raw Unicode, so the canonical JSON is
// the body itself, and it sends them as Python's requests would (spaces after separators, every
// non-ASCII character escaped).
func signAttendee(key []byte, canonical string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(canonical))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// asRequestsSends rewrites a canonical body as requests' json= writes it: ", " and ": "
// between items and \uXXXX for every non-ASCII character.
func asRequestsSends(canonical string) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range canonical {
		switch {
		case inString && escaped:
			escaped = false
			b.WriteRune(r)
		case inString && r == '\\':
			escaped = true
			b.WriteRune(r)
		case r == '"':
			inString = !inString
			b.WriteRune(r)
		case inString && r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		case inString && r > 0x7e:
			fmt.Fprintf(&b, `\u%04x`, r)
		case !inString && (r == ',' || r == ':'):
			b.WriteRune(r)
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// attendeeCallback is a canonical zoom_tokens body with the given bot_metadata (already
// canonical JSON) and meeting link.
func attendeeCallback(metadata, meetingURL string) string {
	return `{"bot_id":"bot_7Hq2","bot_metadata":` + metadata + `,"callback_type":"zoom_tokens","meeting_url":"` + meetingURL + `"}`
}

const s2sMeeting = 85746065432

// attendeeFixture is the whole service with connected accounts, the S2S app and the attendee
// callback on, against the emulator, with alice connected as customer-42 and bob as mobile.
func attendeeFixture(tb testing.TB, store *sqlstore.DB) *connectedFixture {
	tb.Helper()
	return s2sFixture(tb, store, func(d *Deps) { d.Attendee = attendee.NewVerifier([][]byte{attendeeKey, attendeeOldKey}) })
}

// s2sFixture is the whole service with connected accounts and the S2S app on, against the
// emulator, with alice connected as customer-42 (her meeting 81112223333 mapped) and bob as
// mobile; more changes the Deps further.
func s2sFixture(tb testing.TB, store *sqlstore.DB, more func(*Deps)) *connectedFixture {
	tb.Helper()
	f := newConnectedFixtureOn(tb, store, func(c *zoomemu.Config) {
		c.Apps = []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}}
		c.Users = append(c.Users, zoomemu.User{ID: "bot-id", Email: botUser})
		c.Meetings = []int64{s2sMeeting}
	}, "", func(d *Deps, upstream string) {
		d.App.S2S = zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
			OAuthBaseURL: upstream, APIBaseURL: upstream, Budget: 2 * time.Second})
		d.App.ZAKUser = botUser
		more(d)
	})
	f.connect(tb, "alice-id", "customer-42")
	f.connect(tb, "bob-id", "mobile")
	// The listing that follows a connect maps alice's scheduled meeting to her; it runs in the
	// background, so the fixture runs it once more itself rather than wait for it.
	alice := mustFind(tb, f, "alice-id")
	if err := f.srv.deps.App.Connected.Manager.ListMeetings(context.Background(), alice.ID, true); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.store.MeetingHost(context.Background(), 81112223333); err != nil {
		tb.Fatalf("alice's meeting is not mapped: %v", err)
	}
	return f
}

func (f *connectedFixture) attendee(tb testing.TB, canonical string, key []byte) (*http.Response, string) {
	tb.Helper()
	return f.srv.do(tb, http.MethodPost, "/callbacks/attendee",
		header("Content-Type", "application/json", "X-Webhook-Signature", signAttendee(key, canonical)), asRequestsSends(canonical))
}

// tokensOf reads the answer, refusing any field but the three zoomtoken fills.
func tokensOf(tb testing.TB, body string) map[string]string {
	tb.Helper()
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		tb.Fatalf("answer %q: %v", body, err)
	}
	for k := range got {
		if k != "zak_token" && k != "app_privilege_token" && k != "onbehalf_token" {
			tb.Errorf("answer has %q", k)
		}
	}
	return got
}

// issuedTo is the tokens of one type the emulator handed to a user, oldest first.
func issuedTo(emu *zoomemu.Emulator, user, kind string) []string {
	var tokens []string
	for _, c := range emu.UserTokenCalls() {
		if c.User == user && c.Type == kind {
			tokens = append(tokens, c.Token)
		}
	}
	return tokens
}

// appPrivilegeTokensBy is the local-recording tokens the emulator handed to by ("s2s" or a user)
// that were asked with bypass_waiting_room=true, as attendee's app_privilege_token is.
func appPrivilegeTokensBy(emu *zoomemu.Emulator, by string) []string {
	var tokens []string
	for _, c := range emu.JoinTokenCalls() {
		if c.By == by && c.BypassWaitingRoom {
			tokens = append(tokens, c.Token)
		}
	}
	return tokens
}

func TestAttendeeCallback(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db *sqlstore.DB) { testAttendeeCallback(t, attendeeFixture(t, db)) })
}

func testAttendeeCallback(t *testing.T, f *connectedFixture) {
	t.Run("the host's tokens when nobody is named", func(t *testing.T) {
		resp, body := f.attendee(t, attendeeCallback(`null`, "https://us02web.zoom.us/j/81112223333?pwd=Ab1.x"), attendeeKey)
		got := tokensOf(t, body)
		if resp.StatusCode != 200 || got["onbehalf_token"] != last(issuedTo(f.emu, "alice-id", "onbehalf")) ||
			got["app_privilege_token"] != last(appPrivilegeTokensBy(f.emu, "alice-id")) || got["zak_token"] != "" {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("named connections in order, a ZAK, the S2S join token", func(t *testing.T) {
		meta := `{"team":{"a":[1,2.5,{"b":null}],"z":"Zoë 東京 🎉 <b>&</b>"},"zoomtoken_ref":["mobile","customer-42"],"zoomtoken_zak":true}`
		resp, body := f.attendee(t, attendeeCallback(meta, "https://acme.zoom.us/w/85746065432?tk=t&pwd=p"), attendeeOldKey)
		got := tokensOf(t, body)
		want := last(issuedTo(f.emu, "bob-id", "onbehalf")) + "," + last(issuedTo(f.emu, "alice-id", "onbehalf"))
		if resp.StatusCode != 200 || got["onbehalf_token"] != want || got["zak_token"] != last(issuedTo(f.emu, "bob-id", "zak")) ||
			got["app_privilege_token"] != last(appPrivilegeTokensBy(f.emu, "s2s")) {
			t.Errorf("%d %s, want onbehalf %s", resp.StatusCode, body, want)
		}
	})
	t.Run("a user by email, and the same connection named twice once", func(t *testing.T) {
		meta := `{"zoomtoken_ref":"customer-42","zoomtoken_user":["alice@example.com"]}`
		_, body := f.attendee(t, attendeeCallback(meta, "https://zoom.us/j/85746065432"), attendeeKey)
		if got := tokensOf(t, body)["onbehalf_token"]; got != last(issuedTo(f.emu, "alice-id", "onbehalf")) {
			t.Errorf("onbehalf %q", got)
		}
	})
	t.Run("a name that matches nobody is left out, with the reason logged", func(t *testing.T) {
		resp, body := f.attendee(t, attendeeCallback(`{"zoomtoken_ref":"nobody"}`, "zoommtg://zoom.us/join?confno=85746065432&pwd=x"), attendeeKey)
		got := tokensOf(t, body)
		if resp.StatusCode != 200 || got["onbehalf_token"] != "" || got["app_privilege_token"] == "" {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
		if !strings.Contains(f.srv.logs.String(), "bot_metadata.zoomtoken_ref[0]: no connected Zoom account matches") {
			t.Errorf("no reason logged:\n%s", f.srv.logs.String())
		}
	})
	t.Run("the S2S ZAK user's ZAK when nobody is named", func(t *testing.T) {
		_, body := f.attendee(t, attendeeCallback(`{"zoomtoken_zak":true}`, "https://zoom.us/j/85746065432"), attendeeKey)
		got := tokensOf(t, body)
		if !strings.HasPrefix(got["zak_token"], "emu_zak_") || slices.Contains(f.emu.Issued(zoomemu.EndpointUserToken), got["zak_token"]) {
			t.Errorf("zak %q is not the S2S app's", got["zak_token"])
		}
	})
	t.Run("several names in one string, as attendee's own convention writes them", func(t *testing.T) {
		_, body := f.attendee(t, attendeeCallback(`{"zoomtoken_ref":"mobile, customer-42"}`, "https://zoom.us/j/85746065432"), attendeeKey)
		want := last(issuedTo(f.emu, "bob-id", "onbehalf")) + "," + last(issuedTo(f.emu, "alice-id", "onbehalf"))
		if got := tokensOf(t, body)["onbehalf_token"]; got != want {
			t.Errorf("onbehalf %q, want %q", got, want)
		}
	})
	t.Run("a bad metadata value costs only what it names", func(t *testing.T) {
		for _, tc := range []struct {
			meta, logged string
			want         []string
		}{
			{`{"zoomtoken_ref":"customer-42","zoomtoken_zak":"yes"}`, "zoomtoken_zak is not true or false", []string{"onbehalf_token", "app_privilege_token"}},
			{`{"zoomtoken_ref":"","zoomtoken_user":"bob@example.com","zoomtoken_zak":"True"}`, "zoomtoken_ref has an empty name", []string{"onbehalf_token", "app_privilege_token", "zak_token"}},
			{`{"zoomtoken_ref":"customer-42,1,2,3,4,5,6,7,8,9,10","zoomtoken_zak":"1"}`, "only the first 10", []string{"onbehalf_token", "app_privilege_token", "zak_token"}},
			{`{"zoomtoken_ref":7}`, "zoomtoken_ref is not a string", []string{"app_privilege_token"}},
		} {
			seen := len(f.srv.logs.String())
			resp, body := f.attendee(t, attendeeCallback(tc.meta, "https://zoom.us/j/81112223333"), attendeeKey)
			got := tokensOf(t, body)
			var fields []string
			for _, k := range []string{"onbehalf_token", "app_privilege_token", "zak_token"} {
				if got[k] != "" {
					fields = append(fields, k)
				}
			}
			if resp.StatusCode != 200 || !slices.Equal(fields, tc.want) {
				t.Errorf("%s: %d %v, want %v", tc.meta, resp.StatusCode, fields, tc.want)
			}
			if logs := f.srv.logs.String()[seen:]; !strings.Contains(logs, tc.logged) {
				t.Errorf("%s: the log lacks %q:\n%s", tc.meta, tc.logged, logs)
			}
		}
	})
	t.Run("a misspelt name gets no ZAK, not the bot user's", func(t *testing.T) {
		seen := len(f.srv.logs.String())
		_, body := f.attendee(t, attendeeCallback(`{"zoomtoken_ref":"custmer-42","zoomtoken_zak":"true"}`, "https://zoom.us/j/85746065432"), attendeeKey)
		if got := tokensOf(t, body); got["zak_token"] != "" || got["onbehalf_token"] != "" {
			t.Errorf("%s", body)
		}
		if logs := f.srv.logs.String()[seen:]; !strings.Contains(logs, "used only when no connection is named") {
			t.Errorf("the log does not say why there is no ZAK:\n%s", logs)
		}
	})
	t.Run("a meeting nobody can make tokens for: 200 {}", func(t *testing.T) {
		resp, body := f.attendee(t, attendeeCallback(`{}`, "https://zoom.us/j/99988877766"), attendeeKey)
		if resp.StatusCode != 200 || body != "{}" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		good := attendeeCallback(`null`, "https://zoom.us/j/81112223333")
		before := tokenCalls(f.emu)
		for _, tc := range []struct {
			name, body, signature string
			status                int
			answer, logged        string
		}{
			{"no signature", asRequestsSends(good), "", 401, "unauthorized", "no X-Webhook-Signature header"},
			{"wrong key", asRequestsSends(good), signAttendee([]byte("some-other-project-secret-000000"), good), 401, "unauthorized", "matches none of ATTENDEE_WEBHOOK_SECRETS"},
			{"malformed", asRequestsSends(good), "c2hvcnQ=", 401, "unauthorized", "not the base64 of a 32-byte"},
			{"signed, then changed", strings.Replace(asRequestsSends(good), "811", "911", 1), signAttendee(attendeeKey, good), 401, "unauthorized", "matches none"},
			{"not JSON", "bot_id=1", signAttendee(attendeeKey, "bot_id=1"), 401, "unauthorized", "not a JSON value"},
			{"over 64 KiB", `{"a":"` + strings.Repeat("x", 64<<10) + `"}`, "", 413, "larger than 64 KiB", ""},
			{"not Zoom's", asRequestsSends(attendeeCallback(`null`, "https://teams.microsoft.com/l/meetup-join/1")),
				signAttendee(attendeeKey, attendeeCallback(`null`, "https://teams.microsoft.com/l/meetup-join/1")), 400, `"teams.microsoft.com" is not Zoom's`, ""},
			{"another callback type", `{"callback_type":"bot_state","meeting_url":"https://zoom.us/j/1"}`,
				signAttendee(attendeeKey, `{"callback_type":"bot_state","meeting_url":"https://zoom.us/j/1"}`), 400, `unknown callback_type "bot_state"`, ""},
		} {
			seen := len(f.srv.logs.String())
			resp, body := f.srv.do(t, http.MethodPost, "/callbacks/attendee", header("X-Webhook-Signature", tc.signature), tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.answer) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, resp.StatusCode, body, tc.status, tc.answer)
			}
			if logs := f.srv.logs.String()[seen:]; !strings.Contains(logs, tc.logged) || (tc.signature != "" && strings.Contains(logs, tc.signature)) {
				t.Errorf("%s: the log lacks %q or holds the signature:\n%s", tc.name, tc.logged, logs)
			}
		}
		if got := tokenCalls(f.emu); got != before {
			t.Errorf("%d Zoom calls for refused callbacks", got-before)
		}
		if resp, _ := f.srv.do(t, http.MethodGet, "/callbacks/attendee", nil, ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	assertNoSecretsLogged(t, f)
	logs := f.srv.logs.String()
	for _, token := range append(f.emu.Issued(zoomemu.EndpointJoinToken), f.emu.Issued(zoomemu.EndpointZAK)...) {
		if strings.Contains(logs, token) {
			t.Errorf("the log holds a token (%.12s…)", token)
		}
	}
}

func last(list []string) string {
	if len(list) == 0 {
		return "<none>"
	}
	return list[len(list)-1]
}

// With the database down, what needs no database is still answered, and a callback that got
// nothing because of it is a 503.
func TestAttendeeCallbackWithTheDatabaseDown(t *testing.T) {
	emu := zoomemu.New(zoomemu.Config{Apps: []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}},
		Users: []zoomemu.User{{ID: "bot-id", Email: botUser}}, Meetings: []int64{s2sMeeting}})
	server := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); server.Close() })
	upstream := server.URL
	_, ring := sealtest.Key(t)
	manager := connections.NewManager(connections.ManagerConfig{Store: new(sqlstore.DB).Connections(), Vault: connections.NewVault(ring)})
	cd := &vend.Connected{Manager: manager, Zoom: zoom.NewUserClient(zoom.Config{OAuthBaseURL: upstream}, "")}
	s2s := zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
		OAuthBaseURL: upstream, APIBaseURL: upstream, Budget: 2 * time.Second})
	verifier := attendee.NewVerifier([][]byte{attendeeKey})
	for _, tc := range []struct {
		name   string
		s2s    *zoom.Client
		status int
		fields []string
	}{
		{"with the S2S app", s2s, 200, []string{"app_privilege_token", "zak_token"}},
		{"without", nil, 503, nil},
	} {
		srv := newTestServer(t, Deps{App: vend.App{Connected: cd, S2S: tc.s2s, ZAKUser: botUser}, Attendee: verifier, CallbackSecrets: []string{botSecret}})
		canonical := attendeeCallback(`{"zoomtoken_ref":"customer-42","zoomtoken_zak":false}`, "https://zoom.us/j/85746065432")
		if tc.s2s != nil {
			canonical = attendeeCallback(`{"zoomtoken_zak":true}`, "https://zoom.us/j/85746065432")
		}
		resp, body := srv.do(t, http.MethodPost, "/callbacks/attendee", header("X-Webhook-Signature", signAttendee(attendeeKey, canonical)), canonical)
		var got map[string]string
		json.Unmarshal([]byte(body), &got)
		var fields []string
		for k := range got {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		if resp.StatusCode != tc.status || (tc.status == 200 && !slices.Equal(fields, tc.fields)) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
}

func TestAttendeeCallbackOff(t *testing.T) {
	srv := newTestServer(t, Deps{})
	resp, body := srv.do(t, http.MethodPost, "/callbacks/attendee", nil, "{}")
	if resp.StatusCode != 404 || !strings.Contains(body, "ATTENDEE_WEBHOOK_SECRETS") {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
}

// When Zoom is slower than attendee waits, what is ready by the deadline is answered (here
// nothing), each token left out with its reason, rather than no answer at all.
func TestAttendeeAnswersByItsDeadline(t *testing.T) {
	forEachDatabase(t, testAttendeeAnswersByItsDeadline)
}

func testAttendeeAnswersByItsDeadline(t *testing.T, db *sqlstore.DB) {
	f := s2sFixture(t, db, func(d *Deps) {
		d.Attendee = attendee.NewVerifier([][]byte{attendeeKey})
		d.AttendeeDeadline = 300 * time.Millisecond
	})
	f.emu.SetLatency(time.Second) // within every call's budget: only the deadline leaves the tokens out
	resp, body := f.attendee(t, attendeeCallback(`{"zoomtoken_ref":"customer-42","zoomtoken_zak":"true"}`, "https://zoom.us/j/81112223333"), attendeeKey)
	if resp.StatusCode != 200 || body != "{}" {
		t.Errorf("%d %q, want 200 {}", resp.StatusCode, body)
	}
	if logs := f.srv.logs.String(); strings.Count(logs, "attendee: token left out") != 3 {
		t.Errorf("the log does not leave out each of the three tokens:\n%s", logs)
	}
}
