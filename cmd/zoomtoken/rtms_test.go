package main

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// The service signs a meeting's stream with the RTMS app and a Video SDK session's with the
// Video SDK app; without one, the session's stream cannot be joined.
func TestNewRTMSSignsEachKindWithItsApp(t *testing.T) {
	app := &config.RTMS{ClientID: "rtms-id", ClientSecret: config.NewSecret("rtms-secret")}
	videoSDK := &config.VideoSDK{Key: "vsdk-key", Secret: config.NewSecret("vsdk-secret")}
	const meetingStream, sessionStream = "609340fc9d894ba5a6fbb06b8aef22ec", "709340fc9d894ba5a6fbb06b8aef22ec"
	for _, tc := range []struct {
		name     string
		videoSDK *config.VideoSDK
		session  string // the session stream's signature; "" when it cannot be joined
	}{
		{"with a Video SDK app", videoSDK, zoom.RTMSSignature("vsdk-key", "vsdk-secret", "sess", sessionStream)},
		{"without", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newRTMS(app, tc.videoSDK, sqlitetest.Open(t, sqlstore.Options{}).Streams(), zerolog.Nop())
			for kind, s := range map[rtms.Kind]rtms.Stream{
				rtms.KindMeeting: {ID: meetingStream, MeetingUUID: "uuid", ServerURLs: "wss://a"},
				rtms.KindSession: {ID: sessionStream, MeetingUUID: "sess", ServerURLs: "wss://a"},
			} {
				if _, _, err := svc.Record(t.Context(), rtms.Change{Kind: kind, State: rtms.StateStarted, Stream: s}); err != nil {
					t.Fatal(err)
				}
			}
			if j, err := svc.Join(t.Context(), meetingStream); err != nil || j.Signature != zoom.RTMSSignature("rtms-id", "rtms-secret", "uuid", meetingStream) {
				t.Errorf("the meeting's stream: %+v %v", j, err)
			}
			j, err := svc.Join(t.Context(), sessionStream)
			if j.Signature != tc.session || (tc.session == "") != (err != nil) {
				t.Errorf("the session's stream: %+v %v", j, err)
			}
		})
	}
}
