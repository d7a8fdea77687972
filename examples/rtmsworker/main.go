// Command rtmsworker is a Realtime Media Streams worker that holds no Client Secret: it asks
// zoomtoken for a stream (GET /rtms/stream, guarded by a callback secret), joins its signaling
// socket and a media socket per kind with the signature zoomtoken vends, prints what arrives,
// and keeps the stream through interruptions and moves (failover) within Zoom's reconnect
// windows. Its last line says how the stream ended.
//
//	go run ./examples/rtmsworker -service http://127.0.0.1:4000 -secret S -stream ID [-media transcript,audio]
//
// Exit status: 0 when the stream ended for good, 3 when it stopped but may be restarted through
// POST /admin/rtms/start (Zoom's reasons 10-19 and 24), 1 when the worker could not keep it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

// exitRestartable is the exit status of a stream that stopped but may be restarted.
const exitRestartable = 3

func main() {
	service := flag.String("service", "http://127.0.0.1:4000", "zoomtoken's base URL")
	secret := flag.String("secret", os.Getenv("CALLBACK_SECRET"), "one of zoomtoken's CALLBACK_SECRETS (or $CALLBACK_SECRET)")
	streamID := flag.String("stream", "", "the rtms_stream_id, as the rtms.started event or Zoom's webhook gives it")
	kinds := flag.String("media", "transcript", "the media kinds to receive, comma-separated: audio, video, deskshare, transcript, chat")
	backoff := flag.Duration("backoff", 3*time.Second, "the first wait before a reconnect; it doubles up to ten times itself")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Stdout, *service, *secret, *streamID, *kinds, *backoff))
}

// run keeps the stream and returns the exit status; every line it prints is free of the caller
// secret and the signature.
func run(ctx context.Context, out io.Writer, service, secret, streamID, kinds string, backoff time.Duration) int {
	mask, err := parseKinds(kinds)
	if err == nil && streamID == "" {
		err = errors.New("-stream is required")
	}
	if err != nil {
		fmt.Fprintln(out, "rtmsworker:", err)
		return 1
	}
	w := &Worker{Service: service, Secret: secret, StreamID: streamID, Kinds: mask, Backoff: backoff,
		Logf: func(format string, args ...any) { fmt.Fprintf(out, "rtmsworker: "+format+"\n", args...) },
		OnMedia: func(m Media) {
			if m.Kind == "transcript" || m.Kind == "chat" {
				fmt.Fprintf(out, "%s: %s\n", m.UserName, m.Data)
			} else {
				fmt.Fprintf(out, "[%s from %s, %d bytes of base64]\n", m.Kind, m.UserName, len(m.Data))
			}
		}}
	ended, err := w.Run(ctx)
	switch {
	case err != nil:
		fmt.Fprintln(out, "rtmsworker: giving up:", err)
		return 1
	case ended.Restartable:
		fmt.Fprintf(out, "rtmsworker: the stream stopped: %s; it may be restarted with POST /admin/rtms/start\n", ended.Why)
		return exitRestartable
	}
	fmt.Fprintf(out, "rtmsworker: the stream ended: %s\n", ended.Why)
	return 0
}

// parseKinds reads -media into a media_type bitmask.
func parseKinds(list string) (int, error) {
	mask := 0
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, k := range mediaKinds {
			if k.name == name {
				mask, found = mask|k.bit, true
			}
		}
		if !found {
			return 0, fmt.Errorf("-media: %q is not audio, video, deskshare, transcript or chat", name)
		}
	}
	return mask, nil
}
