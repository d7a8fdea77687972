// Command zoomtoken vends Zoom credentials over HTTP: Meeting SDK signatures for web front-ends,
// and ZAKs and join tokens for meeting bots. Run it with -h for its configuration.
package main

import (
	"context"
	"fmt"
	"os"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zoomtoken:", err)
		os.Exit(1)
	}
}
