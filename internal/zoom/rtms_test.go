package zoom

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

func TestRTMSSignatureMatchesZoomsRecipe(t *testing.T) {
	// hex(HMAC-SHA256("rtms-secret", "rtms-client,{meeting_uuid},{rtms_stream_id}")), computed apart.
	const want = "0573a870b3c0b2d0324d542cac8eee8949e3a8b4b2b3309c609bc004843b168e"
	if got := RTMSSignature("rtms-client", "rtms-secret", "4444AAAiAAAAAiAiAiiAii==", "609340fc9d894ba5a6fbb06b8aef22ec"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	emu := zoomemu.New(zoomemu.Config{RTMS: &zoomemu.RTMS{ClientID: "rtms-client", ClientSecret: "rtms-secret"}})
	if got := emu.RTMSSignature("u", "s"); got != RTMSSignature("rtms-client", "rtms-secret", "u", "s") {
		t.Errorf("the emulator computes %s", got)
	}
}

// The control call reaches Zoom once, with the S2S app's token or a user's; Zoom's refusals are
// typed so the admin API can say which.
func TestControlRTMS(t *testing.T) {
	hooks := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooks <- r.URL.Path }))
	defer receiver.Close()
	var counted sync.Map // endpoint/outcome → attempts, as the metrics count them
	count := func(endpoint, outcome string, _ time.Duration) {
		n, _ := counted.LoadOrStore(endpoint+"/"+outcome, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	attempts := func(key string) int64 {
		n, ok := counted.Load(key)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	f := newFixture(t, func(e *zoomemu.Config, c *Config) {
		c.Hooks.Request = count
		e.OAuthApp = &zoomemu.OAuthApp{ClientID: "rtms-client", ClientSecret: "rtms-secret"}
		e.Users = append(e.Users, zoomemu.User{ID: "alice-id", Email: "alice@example.com", Meetings: []int64{81112223333}})
		e.RTMS = &zoomemu.RTMS{ClientID: "rtms-client", ClientSecret: "rtms-secret", WebhookURL: receiver.URL}
		e.WebhookSecretToken = "token"
	})
	ctx := context.Background()
	start := RTMSControl{MeetingID: testMeeting, Action: RTMSStart, ClientID: "rtms-client"}
	if err := f.client.ControlRTMS(ctx, start); err != nil {
		t.Fatalf("S2S start: %v", err)
	}
	<-hooks
	if n := attempts(EndpointRTMSControl + "/ok"); n != 1 {
		t.Errorf("the start is counted %d times under %s, want once (and not as the token endpoint)", n, EndpointRTMSControl)
	}
	uc := NewUserClient(Config{ClientID: "rtms-client", ClientSecret: "rtms-secret", OAuthBaseURL: f.url, APIBaseURL: f.url,
		Hooks: Hooks{Request: count}}, "")
	alice, _, _, _ := f.emu.IssueTokens("alice-id")
	other := RTMSControl{MeetingID: testMeeting, Action: RTMSStart, ClientID: "rtms-client"}
	if err := uc.ControlRTMS(ctx, UserToken{Value: alice}, other); KindOf(err) != KindNotFound {
		t.Errorf("a meeting alice does not host: %v, want not found (2308)", err)
	} else if zerr := err.(*Error); zerr.Code != CodeRTMSNotInvited {
		t.Errorf("code %d", zerr.Code)
	}
	before := f.emu.Calls(zoomemu.EndpointRTMSControl)
	f.emu.Script(zoomemu.EndpointRTMSControl, zoomemu.ServerError())
	if err := uc.ControlRTMS(ctx, UserToken{Value: alice}, RTMSControl{MeetingID: 81112223333, Action: RTMSStart, ClientID: "rtms-client"}); KindOf(err) != KindUnavailable {
		t.Errorf("a 500: %v", err)
	}
	if calls := f.emu.Calls(zoomemu.EndpointRTMSControl) - before; calls != 1 {
		t.Errorf("%d calls after a 500; Zoom may have acted, so it is never retried", calls)
	}
	if n := attempts(EndpointRTMSControl + "/" + KindUnavailable.String()); n != 1 {
		t.Errorf("the 500 is counted %d times under %s, want once", n, EndpointRTMSControl)
	}
}
