package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connectlink"
)

// newConnectLinkFlags is connect-link's flag set, its usage written to out.
func newConnectLinkFlags(out io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet("connect-link", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.String("ref", "", "your own id for the user (at most 200 characters)")
	ttl := secondsOrDuration(connectlink.DefaultTTL)
	flags.Var(&ttl, "ttl", "how long the link works: a duration such as 24h, or seconds (at most 720h)")
	flags.Usage = func() {
		fmt.Fprintln(out, "Usage: zoomtoken connect-link [-ref R] [-ttl 24h|86400]")
		fmt.Fprintln(out, "Prints a link a user opens to connect their Zoom account.")
		flags.PrintDefaults()
	}
	return flags
}

// secondsOrDuration is a flag that takes plain seconds (86400) as well as a duration (24h), as
// the admin API's ttl_seconds does.
type secondsOrDuration time.Duration

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }

func (d *secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = secondsOrDuration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not seconds nor a duration such as 24h")
	}
	*d = secondsOrDuration(v)
	return nil
}

// runConnectLink prints a connect link, as POST /admin/connect-links makes them.
func runConnectLink(_ context.Context, inv invocation) error {
	flags := newConnectLinkFlags(inv.stderr)
	if err := flags.Parse(inv.args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("connect-link: unexpected argument %q: give the ref as -ref %s", flags.Arg(0), flags.Arg(0))
	}
	cfg, err := loadConfig(inv)
	if err != nil {
		return err
	}
	stdout, stderr := inv.stdout, inv.stderr
	if cfg.Connections == nil {
		return errors.New("connect-link: connected accounts are off: set ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET with the rest of their variables")
	}
	ref := flags.Lookup("ref").Value.(flag.Getter).Get().(string)
	ttl := time.Duration(*flags.Lookup("ttl").Value.(*secondsOrDuration))
	if ttl < time.Second || ttl > connectlink.MaxTTL {
		return errors.New("connect-link: -ttl must be from 1s to 720h")
	}
	if err := connectlink.CheckRef(ref); err != nil {
		return fmt.Errorf("connect-link: -%w", err)
	}
	link, expires := newLinkSigner(cfg.Connections).Mint(ref, ttl)
	fmt.Fprintln(stdout, link)
	fmt.Fprintf(stderr, "works until %s\n", expires.Format(time.RFC3339))
	return nil
}
