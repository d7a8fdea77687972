// Command rtmsworker is a Realtime Media Streams worker that holds no Client Secret: it asks
// zoomtoken for a stream (GET /rtms/stream, guarded by a callback secret), joins the stream's
// signaling and media sockets with the signature zoomtoken vends, and prints the transcript.
//
//	go run ./examples/rtmsworker -service http://127.0.0.1:4000 -secret S -stream ID
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"time"
)

func main() {
	service := flag.String("service", "http://127.0.0.1:4000", "zoomtoken's base URL")
	secret := flag.String("secret", os.Getenv("CALLBACK_SECRET"), "one of zoomtoken's CALLBACK_SECRETS (or $CALLBACK_SECRET)")
	streamID := flag.String("stream", "", "the rtms_stream_id, as the rtms.started event or Zoom's webhook gives it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *service, *secret, *streamID); err != nil {
		fmt.Fprintln(os.Stderr, "rtmsworker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, service, secret, streamID string) error {
	if streamID == "" {
		return fmt.Errorf("-stream is required")
	}
	s, err := FetchStream(ctx, &http.Client{Timeout: 10 * time.Second}, service, secret, streamID)
	if err != nil {
		return err
	}
	fmt.Printf("joining stream %s (%s)\n", s.RTMSStreamID, s.State)
	return Join(ctx, s, func(speaker, text string) { fmt.Printf("%s: %s\n", speaker, text) })
}
