package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/joho/godotenv"

	"github.com/zoomtoken/zoomtoken/internal/config"
)

// invocation is what a command is run with: its own arguments (after its name), the
// environment with .env under it, the output streams, and -addr.
type invocation struct {
	args           []string
	getenv         func(string) string
	stdout, stderr io.Writer
	addr           string
}

// command is one of zoomtoken's subcommands: its usage says what it does, and run does it.
type command struct {
	name string
	// synopsis follows "zoomtoken NAME" in the usage; summary says what the command does, and
	// details, when set, what more its help says.
	synopsis, summary, details string
	// usage, when set, writes the command's full help (its flags); otherwise the synopsis and
	// summary are its help.
	usage func(out io.Writer)
	run   func(ctx context.Context, inv invocation) error
}

// commands lists zoomtoken's commands; serve, the first, is the default.
func commands() []command {
	return []command{
		{name: "serve", summary: "serves Zoom credentials over HTTP (the default command)", run: runServe},
		{name: "doctor", summary: "checks, live, that every configured feature can work",
			details: "It reads the configuration as serve does, calls Zoom with the configured credentials and opens the\n" +
				"database, changing nothing; it exits non-zero when a check fails.", run: runDoctor},
		{name: "healthcheck", summary: "exits 0 if the server on -addr or $PORT answers /healthz (for HEALTHCHECK)",
			details: "It reads PORT only, so it works in an image with no shell or curl.", run: runHealthcheck},
		{name: "version", summary: "prints the version", run: runVersion},
		{name: "rekey", summary: "re-encrypts every stored token with the first TOKEN_ENCRYPTION_KEYS key",
			details: "It reads the configuration as serve does. Put a new key first in TOKEN_ENCRYPTION_KEYS, run rekey,\n" +
				"then drop the old keys; rows no configured key opens are named and left as they are.", run: runRekey},
		{name: "connect-link", synopsis: "[-ref R] [-ttl 24h|86400]",
			summary: "prints a link a user opens to connect their Zoom account",
			usage:   func(out io.Writer) { newConnectLinkFlags(out).Usage() }, run: runConnectLink},
		{name: "bot-link", synopsis: "-route R [-ref R | -user U] [-meeting N] [-param k=v]... [-ttl 24h]",
			summary: "prints a bot link: a URL to one bot route and its parameters that is its own credential",
			usage:   func(out io.Writer) { botLinkFlags(out, paramFlags{}).Usage() }, run: runBotLink},
		{name: "help", summary: "prints this help"},
	}
}

// isHelp reports whether a is a request for help.
func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// run is the whole program: it parses args and runs the command they name (serve when none). It
// returns errors rather than printing them, so tests can call it. Help, asked for anywhere
// (zoomtoken -h, zoomtoken help, zoomtoken doctor -h), is printed before anything else is
// read: no configuration, database or network is touched for it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("zoomtoken", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "", "listen address, host:port (default :$PORT)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() { programUsage(stderr, flags) }

	// Flags before the command are the program's; -h among them is the program's help.
	first := slices.IndexFunc(args[1:], func(a string) bool { return !strings.HasPrefix(a, "-") })
	before := args[1:]
	if first >= 0 {
		before = args[1 : 1+first]
	}
	if slices.ContainsFunc(before, isHelp) {
		programUsage(stdout, flags)
		return nil
	}
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if *showVersion {
		return runVersion(ctx, invocation{stdout: stdout})
	}
	name := cmp.Or(flags.Arg(0), "serve")
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		// One line that says what went wrong and what there is, rather than the whole help.
		var names []string
		for _, c := range commands() {
			names = append(names, c.name)
		}
		fmt.Fprintf(stderr, "zoomtoken: unknown command %q; the commands are %s (zoomtoken -h shows each)\n", name, strings.Join(names, ", "))
		return quietError{fmt.Errorf("unknown command %q", name)}
	}
	cmd := commands()[i]
	rest := flags.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if cmd.run == nil || slices.ContainsFunc(rest, isHelp) {
		if cmd.name == "serve" || cmd.name == "help" {
			programUsage(stdout, flags)
		} else {
			commandUsage(stdout, cmd)
		}
		return nil
	}
	if cmd.usage == nil && len(rest) > 0 {
		return fmt.Errorf("%s takes no arguments, but was given %q (see zoomtoken %s -h)", cmd.name, rest[0], cmd.name)
	}
	getenv, err := withDotenv(getenv, ".env")
	if err != nil {
		return err
	}
	return cmd.run(ctx, invocation{args: rest, getenv: getenv, stdout: stdout, stderr: stderr, addr: *addr})
}

// programUsage writes zoomtoken's help: its commands, its flags and every variable it reads.
func programUsage(out io.Writer, flags *flag.FlagSet) {
	fmt.Fprintln(out, "Usage: zoomtoken [-addr host:port] [serve]")
	for _, c := range commands()[1:] {
		line := strings.TrimSpace(c.name + " " + c.synopsis)
		if len(line) > 22 {
			fmt.Fprintf(out, "       zoomtoken %s\n       %-32s%s\n", line, "", c.summary)
			continue
		}
		fmt.Fprintf(out, "       zoomtoken %-22s%s\n", line, c.summary)
	}
	fmt.Fprint(out, "\nServes Zoom credentials over HTTP. Every command answers -h with its own help.\n\n")
	flags.SetOutput(out)
	flags.PrintDefaults()
	fmt.Fprintln(out)
	config.Usage(out)
}

// commandUsage writes one command's help.
func commandUsage(out io.Writer, c command) {
	if c.usage != nil {
		c.usage(out)
		return
	}
	fmt.Fprintf(out, "Usage: zoomtoken %s\n%s%s.\n", strings.TrimSpace(c.name+" "+c.synopsis), strings.ToUpper(c.summary[:1]), c.summary[1:])
	if c.details != "" {
		fmt.Fprintln(out, c.details)
	}
}

// runVersion serves zoomtoken version (and -version).
func runVersion(_ context.Context, inv invocation) error {
	fmt.Fprintln(inv.stdout, "zoomtoken", version)
	return nil
}

// withDotenv overlays a .env file under the environment: a variable set in the environment wins
// over the file. A missing file is not an error.
func withDotenv(getenv func(string) string, path string) (func(string) string, error) {
	file, err := godotenv.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return file[key]
	}, nil
}

// loadConfig reads and checks the configuration a command needs, saying where it looked when
// nothing is configured.
func loadConfig(inv invocation) (config.Config, error) {
	cfg, err := config.Load(inv.getenv)
	if config.NothingConfigured(err) {
		return cfg, fmt.Errorf("%w\n%s", err, firstRunAdvice())
	}
	return cfg, err
}
