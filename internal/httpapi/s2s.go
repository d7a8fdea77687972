package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"golang.org/x/sync/singleflight"
)

// handleZAK serves GET /zak?secret=S: the ZAK of the configured user. Concurrent requests share
// one upstream call, since a ZAK is not single-use.
func handleZAK(tokens *zoom.Client, user string, ttl time.Duration) http.HandlerFunc {
	var flight singleflight.Group
	return func(w http.ResponseWriter, r *http.Request) {
		ch := flight.DoChan("zak", func() (any, error) {
			// The shared call must not end with the request that happened to start it.
			return tokens.ZAK(context.WithoutCancel(r.Context()), user, ttl)
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				writeTextFailure(w, r, res.Err)
				return
			}
			writeToken(w, res.Val.(string))
		case <-r.Context().Done():
			// The caller went away; there is no one to answer.
		}
	}
}
