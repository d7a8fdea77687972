package zoom

import (
	"testing"
	"time"
)

func TestDeauthorizationTime(t *testing.T) {
	for raw, want := range map[string]time.Time{
		`"2019-06-17T13:52:28.632Z"`: time.Date(2019, 6, 17, 13, 52, 28, 632e6, time.UTC),
		`"2019-06-17T13:52:28Z"`:     time.Date(2019, 6, 17, 13, 52, 28, 0, time.UTC),
		`1560779548632`:              time.UnixMilli(1560779548632),
		`"yesterday"`:                {},
		`null`:                       {},
	} {
		ev, err := ParseWebhook([]byte(`{"event":"app_deauthorized","payload":{"user_id":"u","client_id":"c","deauthorization_time":` + raw + `}}`))
		if err != nil || !ev.DeauthorizedAt.Equal(want) || ev.ClientID != "c" {
			t.Errorf("%s: %v %v %q, want %v", raw, ev.DeauthorizedAt, err, ev.ClientID, want)
		}
	}
}
