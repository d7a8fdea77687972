package main

import (
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// newRTMS builds the Realtime Media Streams service over its store, signing meetings' and
// webinars' streams with the RTMS app's Client Secret and Video SDK sessions' with the Video SDK
// app's (Zoom signs a session's stream with the app the session belongs to). Neither secret
// leaves this process. Without a Video SDK app, sessions' streams are recorded but not signed.
func newRTMS(c *config.RTMS, videoSDK *config.VideoSDK, streams rtms.Store, logger zerolog.Logger) *rtms.Service {
	secret := c.ClientSecret.Reveal()
	cfg := rtms.Config{
		Store:  streams,
		Sign:   func(id, streamID string) string { return zoom.RTMSSignature(c.ClientID, secret, id, streamID) },
		TTL:    c.StreamTTL,
		Logger: logger,
	}
	if videoSDK != nil {
		key, secret := videoSDK.Key, videoSDK.Secret.Reveal()
		cfg.SignSession = func(id, streamID string) string { return zoom.RTMSSignature(key, secret, id, streamID) }
	}
	return rtms.NewService(cfg)
}
