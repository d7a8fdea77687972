// Command zoomtoken vends Zoom credentials over HTTP: Meeting SDK signatures for web front-ends,
// and ZAKs and join tokens for meeting bots. Run it with -h for its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr)
	var shown quietError
	switch {
	case errors.As(err, &shown):
		os.Exit(1) // run has said it already
	case err != nil:
		fmt.Fprintln(os.Stderr, "zoomtoken:", err)
		os.Exit(1)
	}
}

// quietError is a failure run has already told the user about: main exits non-zero without
// saying it again.
type quietError struct{ error }
