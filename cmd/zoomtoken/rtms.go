package main

import (
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/rtms"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// newRTMS builds the Realtime Media Streams service over its store, signing with the RTMS app's
// Client Secret, which never leaves this process.
func newRTMS(c *config.RTMS, streams rtms.Store, logger zerolog.Logger) *rtms.Service {
	secret := c.ClientSecret.Reveal()
	return rtms.NewService(rtms.Config{
		Store:  streams,
		Sign:   func(id, streamID string) string { return zoom.RTMSSignature(c.ClientID, secret, id, streamID) },
		TTL:    c.StreamTTL,
		Logger: logger,
	})
}
