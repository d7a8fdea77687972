package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/botlink"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
)

// paramFlags collects repeated -param k=v flags.
type paramFlags map[string]string

func (p paramFlags) String() string { return "" }

func (p paramFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want name=value")
	}
	if _, seen := p[name]; seen {
		return fmt.Errorf("%s is given more than once", name)
	}
	p[name] = value
	return nil
}

// botLinkFlags is bot-link's flag set, its usage written to out.
func botLinkFlags(out io.Writer, params paramFlags) *flag.FlagSet {
	flags := flag.NewFlagSet("bot-link", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.String("route", "", "the bot route: /zak, /join-token, /obf-token, /access-token, /rtms/stream or /rtms/signature")
	flags.String("ref", "", "the connection, by your own id for the user")
	flags.String("user", "", "the connection, by Zoom user id or email")
	flags.String("meeting", "", "meeting_id: the meeting a /join-token or /obf-token link is for")
	flags.Var(params, "param", "any other parameter of the route, as name=value (repeatable)")
	ttl := secondsOrDuration(botlink.DefaultTTL)
	flags.Var(&ttl, "ttl", "how long the link works: a duration such as 24h, or seconds (at most 720h)")
	flags.Usage = func() {
		fmt.Fprintln(out, "Usage: zoomtoken bot-link -route R [-ref R | -user U] [-meeting N] [-param k=v]... [-ttl 24h|86400]")
		fmt.Fprintln(out, "Prints a bot link: a URL to one bot route, with exactly these parameters, that is its own credential until it expires.")
		fmt.Fprintln(out, "It signs with the first of BOT_LINK_KEYS, as POST /admin/bot-links does (docs/meeting-bots.md#bot-links).")
		flags.PrintDefaults()
	}
	return flags
}

// runBotLink prints a bot link, as POST /admin/bot-links mints them.
func runBotLink(_ context.Context, inv invocation) error {
	params := paramFlags{}
	flags := botLinkFlags(inv.stderr, params)
	if err := flags.Parse(inv.args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("bot-link: unexpected argument %q (see zoomtoken bot-link -h)", flags.Arg(0))
	}
	for flagName, param := range map[string]string{"ref": "ref", "user": "user", "meeting": "meeting_id"} {
		if v := flags.Lookup(flagName).Value.String(); v != "" {
			if _, seen := params[param]; seen {
				return fmt.Errorf("bot-link: %s is given by -%s and by -param", param, flagName)
			}
			params[param] = v
		}
	}
	route := flags.Lookup("route").Value.String()
	if err := httpapi.CheckBotLinkParams(route, params); err != nil {
		return fmt.Errorf("bot-link: %w", err)
	}
	cfg, err := loadConfig(inv)
	if err != nil {
		return err
	}
	links := newBotLinks(cfg)
	if links == nil {
		return errors.New("bot-link: bot links are off: set BOT_LINK_KEYS (openssl rand -hex 32)")
	}
	ttl := time.Duration(*flags.Lookup("ttl").Value.(*secondsOrDuration))
	path, expires, err := links.Mint(route, params, ttl)
	if err != nil {
		return fmt.Errorf("bot-link: %w", err)
	}
	if cfg.Connections != nil {
		path = cfg.Connections.PublicURL + path
	}
	fmt.Fprintln(inv.stdout, path)
	fmt.Fprintf(inv.stderr, "works until %s\n", expires.Format(time.RFC3339))
	return nil
}
