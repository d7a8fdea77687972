// Package config turns the process environment into a validated Config.
//
// Every variable is declared once, in the environment struct below: its name, default and
// description. Load reads those names through a getenv function (so nothing here touches the
// real process environment), parses every value, and reports all problems together by variable
// name. A secret's value never appears in a problem.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kelseyhightower/envconfig"

	"github.com/zoomtoken/zoomtoken/internal/seal"
)

// environment declares every variable the service reads. All fields are strings on purpose:
// parsing happens in Load, which can then report every bad value at once instead of stopping at
// the first. The struct tags are envconfig's, so the same declaration prints the usage table.
type environment struct {
	Port               string `envconfig:"PORT" default:"4000" desc:"listen port"`
	SDKKey             string `envconfig:"ZOOM_MEETING_SDK_KEY" desc:"Meeting SDK app key; with the secret, enables POST /"`
	SDKSecret          string `envconfig:"ZOOM_MEETING_SDK_SECRET" desc:"Meeting SDK app secret" secret:"true"`
	VideoSDKKey        string `envconfig:"ZOOM_VIDEO_SDK_KEY" desc:"Video SDK app key; with the secret, enables POST /video-sdk and signs Video SDK sessions' RTMS streams"`
	VideoSDKSecret     string `envconfig:"ZOOM_VIDEO_SDK_SECRET" desc:"Video SDK app secret" secret:"true"`
	AccountID          string `envconfig:"ZOOM_ACCOUNT_ID" desc:"Server-to-Server OAuth account id; enables the bot endpoints"`
	ClientID           string `envconfig:"ZOOM_CLIENT_ID" desc:"Server-to-Server OAuth client id"`
	ClientSecret       string `envconfig:"ZOOM_CLIENT_SECRET" desc:"Server-to-Server OAuth client secret" secret:"true"`
	ZAKUser            string `envconfig:"ZOOM_ZAK_USER" desc:"Zoom user id or email whose ZAK GET /zak returns"`
	ZAKTTLSeconds      string `envconfig:"ZOOM_ZAK_TTL_SECONDS" desc:"ttl asked of Zoom for each ZAK (unset: Zoom's default)"`
	CallbackSecrets    string `envconfig:"CALLBACK_SECRETS" desc:"comma-separated secrets accepted by the bot endpoints" secret:"true"`
	CallbackSigning    string `envconfig:"CALLBACK_SIGNING_SECRETS" desc:"comma-separated whsec_… secrets: the bot endpoints accept requests signed the Standard Webhooks way" secret:"true"`
	BotLinkKeys        string `envconfig:"BOT_LINK_KEYS" desc:"comma-separated keys of at least 32 characters that sign bot links (openssl rand -hex 32); the first signs, all verify" secret:"true"`
	CallbackReach      string `envconfig:"CALLBACK_SECRETS_REACH" default:"own" desc:"what ?secret= and signed requests reach: own (the S2S app's tokens and RTMS streams) or connected (every connected account too)"`
	OAuthBaseURL       string `envconfig:"ZOOM_OAUTH_BASE_URL" default:"https://zoom.us" desc:"where /oauth/token lives"`
	APIBaseURL         string `envconfig:"ZOOM_API_BASE_URL" desc:"Zoom REST base (default https://api.zoom.us, or api_url from the token)"`
	ZoomTimeout        string `envconfig:"ZOOM_TIMEOUT" default:"10s" desc:"time budget of one Zoom call, retries and waits included"`
	ZoomRateLimit      string `envconfig:"ZOOM_RATE_LIMIT" desc:"requests a second to Zoom per account, paced here (divide the account's limit by the replica count; unset: learned from X-RateLimit-Limit)"`
	CORSAllowedOrigins string `envconfig:"CORS_ALLOWED_ORIGINS" default:"*" desc:"comma-separated origins allowed to call POST /; * for any"`
	LogLevel           string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat          string `envconfig:"LOG_FORMAT" default:"json" desc:"json or console"`
	ShutdownTimeout    string `envconfig:"SHUTDOWN_TIMEOUT" default:"20s" desc:"how long in-flight requests may drain on SIGTERM"`
	MaxConnections     string `envconfig:"MAX_CONNECTIONS" desc:"client connections held at most; past it idle ones are closed for new ones, or new ones wait (unset: derived from the memory limit)"`
	ShutdownDelay      string `envconfig:"SHUTDOWN_DELAY" default:"0s" desc:"after SIGTERM, how long /readyz answers 503 while requests are still served, before the drain"`
	MetricsAddr        string `envconfig:"METRICS_ADDR" desc:"host:port for a separate /metrics listener (unset: /metrics on the main port)"`

	OAuthClientID       string `envconfig:"ZOOM_OAUTH_CLIENT_ID" desc:"user-managed (General) OAuth app client id; with the secret, enables connected accounts"`
	OAuthClientSecret   string `envconfig:"ZOOM_OAUTH_CLIENT_SECRET" desc:"user-managed OAuth app client secret" secret:"true"`
	PublicURL           string `envconfig:"PUBLIC_URL" desc:"external base URL; Zoom's redirect URL is PUBLIC_URL/oauth/callback (required with connected accounts)"`
	TokenEncryptionKeys string `envconfig:"TOKEN_ENCRYPTION_KEYS" desc:"comma-separated base64 keys of 32 bytes; the first encrypts stored tokens, all decrypt (required with connected accounts)" secret:"true"`
	DatabaseURL         string `envconfig:"DATABASE_URL" desc:"postgres://… for PostgreSQL, or sqlite:PATH (unset: SQLite file zoomtoken.db)" secret:"true"`
	AdminTokens         string `envconfig:"ADMIN_TOKENS" desc:"comma-separated bearer tokens for /admin/* (unset: admin API off)" secret:"true"`
	WebhookSecretTokens string `envconfig:"ZOOM_WEBHOOK_SECRET_TOKENS" desc:"comma-separated Secret Tokens of the app's event subscription; enables POST /webhooks/zoom" secret:"true"`
	ConnectSuccessURL   string `envconfig:"CONNECT_SUCCESS_URL" desc:"where the browser goes after a successful connect (unset: a confirmation page)"`
	ConnectAppName      string `envconfig:"CONNECT_APP_NAME" desc:"your app's name, shown on the connect flow's pages"`
	ConnectLogoURL      string `envconfig:"CONNECT_LOGO_URL" desc:"an https image shown above it"`
	ConnectSupportURL   string `envconfig:"CONNECT_SUPPORT_URL" desc:"where a person connecting finds help (https or mailto:), linked from those pages"`
	ConnectionKeepalive string `envconfig:"CONNECTION_KEEPALIVE" default:"168h" desc:"a connection not refreshed for this long is refreshed in the background"`
	EventsURL           string `envconfig:"EVENTS_URL" desc:"where to POST connection events (with EVENTS_SIGNING_SECRET)"`
	EventsSigningSecret string `envconfig:"EVENTS_SIGNING_SECRET" desc:"whsec_… secret that signs connection events" secret:"true"`
	RTMSClientID        string `envconfig:"ZOOM_RTMS_CLIENT_ID" desc:"the Realtime Media Streams app's Client ID, when it is not ZOOM_OAUTH_CLIENT_ID's app"`
	RTMSClientSecret    string `envconfig:"ZOOM_RTMS_CLIENT_SECRET" desc:"that app's Client Secret, which signs workers' handshakes" secret:"true"`
	RTMSStreamTTL       string `envconfig:"RTMS_STREAM_TTL" default:"24h" desc:"how long a stream is kept after its last event when no stop came"`
	AttendeeSecrets     string `envconfig:"ATTENDEE_WEBHOOK_SECRETS" desc:"comma-separated attendee project webhook secrets (base64, as its dashboard shows them); enables POST /callbacks/attendee" secret:"true"`
}

// What CALLBACK_SECRETS_REACH may say.
const (
	// ReachOwn: ?secret= and signed requests reach the operator's own account only; a token of a
	// connected account needs a bot link.
	ReachOwn = "own"
	// ReachConnected: they reach every connected account too, as before bot links.
	ReachConnected = "connected"
)

// MinBotLinkKeyLength is the shortest BOT_LINK_KEYS entry accepted: a key is random (openssl
// rand -hex 32), and a short one could be guessed from a link.
const MinBotLinkKeyLength = 32

// DefaultAPIBaseURL is Zoom's REST base, used when ZOOM_API_BASE_URL is unset and the token
// response names no api_url.
const DefaultAPIBaseURL = "https://api.zoom.us"

// Secret is a credential. It prints as a placeholder in every fmt verb and in JSON, so a stray
// log call or %+v of the Config cannot leak it; Reveal is the only way to its value.
type Secret struct{ value string }

// NewSecret wraps a credential value.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the secret's value, for the few places that must use it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// URLSafetyAdvice says how to write a secret that NeedsURLEscaping into a bot URL.
const URLSafetyAdvice = "percent-encode them in bot URLs (+ as %2B, / as %2F, = as %3D), or use letters and digits only (openssl rand -hex 32)"

// NeedsURLEscaping reports whether the secret has characters a query string changes (such as
// +, / or =), so that pasted into a bot URL as it stands it may not arrive intact.
func (s Secret) NeedsURLEscaping() bool { return url.QueryEscape(s.value) != s.value }

// String implements fmt.Stringer with a placeholder.
func (s Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer with a placeholder, so %#v is safe too.
func (s Secret) GoString() string { return "[redacted]" }

// MarshalJSON writes a placeholder.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// MeetingSDK holds the Meeting SDK app credentials that sign POST / tokens.
type MeetingSDK struct {
	Key    string
	Secret Secret
}

// VideoSDK holds the Video SDK app credentials that sign POST /video-sdk tokens.
type VideoSDK struct {
	Key    string
	Secret Secret
}

// S2S holds the Server-to-Server OAuth app credentials behind the bot endpoints.
type S2S struct {
	AccountID    string
	ClientID     string
	ClientSecret Secret
}

// Connections holds what connected accounts need: the user-managed OAuth app, where the service
// is reachable, the keys that seal stored tokens, and the database.
type Connections struct {
	ClientID     string
	ClientSecret Secret
	// PublicURL is the external base URL, without a trailing slash.
	PublicURL string
	// EncryptionKeys are raw 32-byte keys; the first seals.
	EncryptionKeys []Secret
	Database       Database
	// Keepalive is how long a connection may go unrefreshed before a background refresh.
	Keepalive time.Duration
	// ConnectSuccessURL is empty for the built-in confirmation page.
	ConnectSuccessURL string
	// AppName, LogoURL and SupportURL are what the connect flow's pages show of the operator's
	// app; each may be empty.
	AppName, LogoURL, SupportURL string
}

// Database engines.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Database says where connections are stored.
type Database struct {
	// Engine is SQLite or Postgres.
	Engine string
	// Path is the SQLite file; URL the PostgreSQL connection URL (it may hold a password).
	Path string
	URL  Secret
}

// DefaultSQLitePath is the SQLite file used when DATABASE_URL is unset.
const DefaultSQLitePath = "zoomtoken.db"

// Events configures the connection events sent to the operator's backend.
type Events struct {
	URL           string
	SigningSecret Secret
}

// RTMS holds the Realtime Media Streams app whose Client Secret signs workers' handshakes.
type RTMS struct {
	ClientID     string
	ClientSecret Secret
	// StreamTTL is how long a stream is kept after its last event.
	StreamTTL time.Duration
}

// Config is the validated configuration. A feature's pointer is nil when the feature is off.
type Config struct {
	Port int

	MeetingSDK *MeetingSDK
	VideoSDK   *VideoSDK
	S2S        *S2S

	// ZAKUser is empty when GET /zak is off; ZAKTTL is zero for Zoom's default lifetime.
	ZAKUser string
	ZAKTTL  time.Duration

	CallbackSecrets []Secret
	// CallbackSigningSecrets are Standard Webhooks secrets (whsec_…); a bot request signed with
	// one of them needs no ?secret=.
	CallbackSigningSecrets []Secret

	// BotLinkKeys sign bot links (the first) and verify them (every one); empty turns bot links
	// off.
	BotLinkKeys []Secret
	// CallbackReach is what ?secret= and Standard Webhooks signatures reach: ReachOwn or
	// ReachConnected.
	CallbackReach string

	OAuthBaseURL string
	// APIBaseURL is the REST base; APIBaseURLSet says the operator chose it, in which case the
	// api_url of Zoom's token response is ignored.
	APIBaseURL    string
	APIBaseURLSet bool
	// ZoomTimeout bounds one call to Zoom from start to end, retries and waits included.
	ZoomTimeout time.Duration
	// ZoomRateLimit paces calls to Zoom, per account; zero learns the pace from Zoom.
	ZoomRateLimit float64

	// CORSAllowedOrigins is nil when any origin may call POST /.
	CORSAllowedOrigins []string

	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// MaxConnections caps the client connections held; zero derives it from the memory limit.
	MaxConnections int
	// ShutdownDelay is how long, after SIGTERM, the service keeps accepting while /readyz says
	// 503, so a load balancer stops sending before the drain begins.
	ShutdownDelay time.Duration

	// MetricsAddr is where /metrics is served on a listener of its own; empty serves it on the
	// main port.
	MetricsAddr string

	// Connections is nil when connected accounts are off.
	Connections *Connections
	// AdminTokens is empty when the admin API is off.
	AdminTokens []Secret
	// WebhookSecretTokens is empty when POST /webhooks/zoom is off; the first answers Zoom's
	// URL validation.
	WebhookSecretTokens []Secret
	// Events is nil when no connection events are sent.
	Events *Events
	// RTMS is nil when the Realtime Media Streams routes are off.
	RTMS *RTMS
	// Attendee is nil when POST /callbacks/attendee is off.
	Attendee *Attendee

	// Unused lists the variables that are set but read by no configured feature (a leftover, or
	// a feature half set up); start-up and the doctor warn of them.
	Unused []string
}

// Attendee holds the keys that sign attendee's zoom_tokens callbacks.
type Attendee struct {
	// Keys are ATTENDEE_WEBHOOK_SECRETS base64-decoded, in order; any of them verifies.
	Keys []Secret
}

// Feature names, as the startup line prints them.
const (
	FeatureSignature = "signature"
	FeatureVideoSDK  = "video-sdk"
	FeatureJoinToken = "join-token"
	FeatureZAK       = "zak"
	// FeatureConnections is connected accounts.
	FeatureConnections = "connections"
	// FeatureRTMS is Realtime Media Streams.
	FeatureRTMS = "rtms"
	// FeatureAttendee is attendee's zoom_tokens callback.
	FeatureAttendee = "attendee"
)

// Features lists the features that are on, in route order.
func (c Config) Features() []string {
	var on []string
	if c.MeetingSDK != nil {
		on = append(on, FeatureSignature)
	}
	if c.VideoSDK != nil {
		on = append(on, FeatureVideoSDK)
	}
	if c.S2S != nil {
		on = append(on, FeatureJoinToken)
		if c.ZAKUser != "" {
			on = append(on, FeatureZAK)
		}
	}
	if c.Connections != nil {
		on = append(on, FeatureConnections)
	}
	if c.RTMS != nil {
		on = append(on, FeatureRTMS)
	}
	if c.Attendee != nil {
		on = append(on, FeatureAttendee)
	}
	return on
}

// Problem is one bad variable and why.
type Problem struct {
	Variable string
	Reason   string
}

// StarterFeatures are the features a configuration can start from, each with the variables that
// turn it on, as the first-run messages list them.
var StarterFeatures = []struct {
	Feature   string
	Variables []string
}{
	{"POST / (Meeting SDK signatures)", []string{"ZOOM_MEETING_SDK_KEY", "ZOOM_MEETING_SDK_SECRET"}},
	{"POST /video-sdk (Video SDK signatures)", []string{"ZOOM_VIDEO_SDK_KEY", "ZOOM_VIDEO_SDK_SECRET"}},
	{"the bot endpoints (/zak, /join-token)", []string{"ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "CALLBACK_SECRETS"}},
	{"connected accounts (/obf-token, /connect)", []string{"ZOOM_OAUTH_CLIENT_ID", "ZOOM_OAUTH_CLIENT_SECRET", "PUBLIC_URL", "TOKEN_ENCRYPTION_KEYS", "CALLBACK_SECRETS"}},
}

// NothingConfigured reports whether err says that no feature is configured at all: the
// environment is empty of zoomtoken's variables, as on a first run.
func NothingConfigured(err error) bool {
	var cerr *Error
	return errors.As(err, &cerr) && len(cerr.Problems) == 1 && cerr.Problems[0].Variable == ""
}

// Error lists every problem found in the environment.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		if p.Variable == "" { // a problem of the whole configuration, not of one variable
			fmt.Fprintf(&b, "\n  %s", p.Reason)
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s", p.Variable, p.Reason)
	}
	return b.String()
}

// Variables returns the name of every variable Load reads, in declaration order.
func Variables() []string {
	t := reflect.TypeFor[environment]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("envconfig")
	}
	return names
}

// SecretVariables returns the names of the variables whose values are credentials.
func SecretVariables() []string {
	t := reflect.TypeFor[environment]()
	var names []string
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("secret") == "true" {
			names = append(names, t.Field(i).Tag.Get("envconfig"))
		}
	}
	return names
}

// Usage writes a table of every variable with its default and description.
func Usage(w io.Writer) error {
	const format = "Configuration (environment variables; a .env file in the working directory is read too):\n\n" +
		"{{range .}}  {{usage_key . | printf \"%-24s\"}} {{usage_description .}}{{if usage_default .}} (default {{usage_default .}}){{end}}\n{{end}}"
	return envconfig.Usagef("", &environment{}, w, format)
}

// Load reads every variable through getenv, applies defaults, and validates the result. The
// returned error is an *Error naming every bad variable.
func Load(getenv func(string) string) (Config, error) {
	env := read(getenv)
	p := &parser{}
	cfg := Config{
		Port:            p.port("PORT", env.Port),
		OAuthBaseURL:    p.baseURL("ZOOM_OAUTH_BASE_URL", env.OAuthBaseURL),
		LogLevel:        p.oneOf("LOG_LEVEL", env.LogLevel, "debug", "info", "warn", "error"),
		LogFormat:       p.oneOf("LOG_FORMAT", env.LogFormat, "json", "console"),
		ShutdownTimeout: p.duration("SHUTDOWN_TIMEOUT", env.ShutdownTimeout),
		ShutdownDelay:   p.delay("SHUTDOWN_DELAY", env.ShutdownDelay),
		ZoomTimeout:     p.duration("ZOOM_TIMEOUT", env.ZoomTimeout),
	}
	if env.MaxConnections != "" {
		cfg.MaxConnections = p.intRange("MAX_CONNECTIONS", env.MaxConnections, 8, 1000000)
	}
	if env.ZoomRateLimit != "" {
		n, err := strconv.ParseFloat(env.ZoomRateLimit, 64)
		if err != nil || n <= 0 || n > 10000 {
			p.add("ZOOM_RATE_LIMIT", fmt.Sprintf("%q is not a number of requests a second, such as 30 (or 7.5 on each of 4 replicas)", env.ZoomRateLimit))
		}
		cfg.ZoomRateLimit = n
	}
	cfg.APIBaseURL, cfg.APIBaseURLSet = DefaultAPIBaseURL, env.APIBaseURL != ""
	if cfg.APIBaseURLSet {
		cfg.APIBaseURL = p.baseURL("ZOOM_API_BASE_URL", env.APIBaseURL)
	}
	cfg.CORSAllowedOrigins = p.origins("CORS_ALLOWED_ORIGINS", env.CORSAllowedOrigins)
	if env.MetricsAddr != "" {
		cfg.MetricsAddr = p.hostPort("METRICS_ADDR", env.MetricsAddr)
	}

	if p.group(
		setting{"ZOOM_MEETING_SDK_KEY", env.SDKKey},
		setting{"ZOOM_MEETING_SDK_SECRET", env.SDKSecret},
	) {
		cfg.MeetingSDK = &MeetingSDK{Key: env.SDKKey, Secret: NewSecret(env.SDKSecret)}
	}
	if p.group(
		setting{"ZOOM_VIDEO_SDK_KEY", env.VideoSDKKey},
		setting{"ZOOM_VIDEO_SDK_SECRET", env.VideoSDKSecret},
	) {
		cfg.VideoSDK = &VideoSDK{Key: env.VideoSDKKey, Secret: NewSecret(env.VideoSDKSecret)}
	}
	if p.group(
		setting{"ZOOM_ACCOUNT_ID", env.AccountID},
		setting{"ZOOM_CLIENT_ID", env.ClientID},
		setting{"ZOOM_CLIENT_SECRET", env.ClientSecret},
	) {
		cfg.S2S = &S2S{AccountID: env.AccountID, ClientID: env.ClientID, ClientSecret: NewSecret(env.ClientSecret)}
	}
	cfg.CallbackSecrets = p.tokens("CALLBACK_SECRETS", env.CallbackSecrets, minCallbackSecretLength)
	for _, s := range p.callbackSecrets("CALLBACK_SIGNING_SECRETS", env.CallbackSigning) {
		if p.signingSecret("CALLBACK_SIGNING_SECRETS", s.Reveal()) == "" {
			break
		}
		cfg.CallbackSigningSecrets = append(cfg.CallbackSigningSecrets, s)
	}
	cfg.BotLinkKeys = p.tokens("BOT_LINK_KEYS", env.BotLinkKeys, MinBotLinkKeyLength)
	switch env.CallbackReach {
	case ReachOwn, ReachConnected:
		cfg.CallbackReach = env.CallbackReach
	default:
		p.add("CALLBACK_SECRETS_REACH", "must be own (the operator's account only; the default) or connected (every connected account)")
	}
	// A bad entry has been reported already; saying the variable is missing too would mislead.
	guarded := len(cfg.CallbackSecrets) > 0 || len(cfg.CallbackSigningSecrets) > 0 || len(cfg.BotLinkKeys) > 0 ||
		p.reported("CALLBACK_SECRETS") || p.reported("BOT_LINK_KEYS")

	if env.ZAKUser != "" {
		cfg.ZAKUser = p.credential("ZOOM_ZAK_USER", env.ZAKUser)
		if cfg.S2S == nil {
			p.add("ZOOM_ZAK_USER", "needs the S2S credentials ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET")
		}
	}
	if env.ZAKTTLSeconds != "" {
		cfg.ZAKTTL = time.Duration(p.intRange("ZOOM_ZAK_TTL_SECONDS", env.ZAKTTLSeconds, 1, 365*24*3600)) * time.Second
	}
	if cfg.S2S != nil && !guarded {
		p.add("CALLBACK_SECRETS", "must be set (or CALLBACK_SIGNING_SECRETS, or BOT_LINK_KEYS) when S2S credentials are: the bot endpoints never run unguarded")
	}
	cfg.Connections = p.connections(env)
	if cfg.Connections != nil && cfg.S2S == nil && !guarded {
		p.add("CALLBACK_SECRETS", "must be set (or CALLBACK_SIGNING_SECRETS, or BOT_LINK_KEYS) with connected accounts: the bot endpoints never run unguarded")
	}
	cfg.AdminTokens = p.tokens("ADMIN_TOKENS", env.AdminTokens, minAdminTokenLength)
	cfg.WebhookSecretTokens = p.tokens("ZOOM_WEBHOOK_SECRET_TOKENS", env.WebhookSecretTokens, 1)
	if p.group(
		setting{"EVENTS_URL", env.EventsURL},
		setting{"EVENTS_SIGNING_SECRET", env.EventsSigningSecret},
	) {
		cfg.Events = &Events{
			URL:           p.absoluteURL("EVENTS_URL", env.EventsURL),
			SigningSecret: NewSecret(p.signingSecret("EVENTS_SIGNING_SECRET", env.EventsSigningSecret)),
		}
	}
	cfg.RTMS = p.rtms(env, cfg)
	cfg.Attendee = p.attendee("ATTENDEE_WEBHOOK_SECRETS", env.AttendeeSecrets, cfg)
	if cfg.MeetingSDK == nil && cfg.VideoSDK == nil && cfg.S2S == nil && cfg.Connections == nil && len(p.problems) == 0 {
		var each []string
		for _, f := range StarterFeatures {
			each = append(each, strings.Join(f.Variables, ", ")+" for "+f.Feature)
		}
		p.add("", "no feature is configured: set "+strings.Join(each, "; or "))
	}
	if len(p.problems) > 0 {
		return Config{}, &Error{Problems: p.problems}
	}
	cfg.Unused = unused(getenv, cfg)
	return cfg, nil
}

// unused lists the variables set in getenv that no configured feature reads.
func unused(getenv func(string) string, cfg Config) []string {
	var names []string
	check := func(off bool, vars ...string) {
		for _, name := range vars {
			if off && getenv(name) != "" {
				names = append(names, name)
			}
		}
	}
	connected := cfg.Connections != nil
	check(!connected, "ZOOM_OAUTH_CLIENT_ID", "ZOOM_OAUTH_CLIENT_SECRET", "PUBLIC_URL", "TOKEN_ENCRYPTION_KEYS",
		"EVENTS_URL", "EVENTS_SIGNING_SECRET", "CONNECT_SUCCESS_URL", "CONNECT_APP_NAME", "CONNECT_LOGO_URL",
		"CONNECT_SUPPORT_URL", "CONNECTION_KEEPALIVE")
	check(!connected && len(cfg.BotLinkKeys) == 0, "ADMIN_TOKENS") // with bot links they mint them
	check(!connected && cfg.CallbackReach == ReachConnected, "CALLBACK_SECRETS_REACH")
	check(cfg.ZAKUser == "" && !connected, "ZOOM_ZAK_TTL_SECONDS")
	check(cfg.RTMS == nil, "ZOOM_RTMS_CLIENT_ID", "ZOOM_RTMS_CLIENT_SECRET", "RTMS_STREAM_TTL")
	return names
}

// read fills the raw environment through getenv, falling back to each variable's default.
func read(getenv func(string) string) environment {
	var env environment
	v := reflect.ValueOf(&env).Elem()
	t := v.Type()
	for i := range t.NumField() {
		value := getenv(t.Field(i).Tag.Get("envconfig"))
		if value == "" {
			value = t.Field(i).Tag.Get("default")
		}
		v.Field(i).SetString(value)
	}
	return env
}

// parser collects problems while it converts raw values; each method returns a usable zero
// value on failure so Load can keep going and report everything.
type parser struct {
	problems []Problem
}

type setting struct {
	name, value string
}

func (p *parser) add(name, reason string) {
	p.problems = append(p.problems, Problem{Variable: name, Reason: reason})
}

// reported tells whether a problem with the variable has been added already.
func (p *parser) reported(name string) bool {
	return slices.ContainsFunc(p.problems, func(pr Problem) bool { return pr.Variable == name })
}

func (p *parser) port(name, raw string) int {
	return p.intRange(name, raw, 1, 65535)
}

func (p *parser) hostPort(name, raw string) string {
	_, port, err := net.SplitHostPort(raw)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		p.add(name, fmt.Sprintf("%q is not host:port or :port, such as :9090", raw))
		return ""
	}
	return raw
}

func (p *parser) intRange(name, raw string, lo, hi int) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		p.add(name, fmt.Sprintf("%q is not a whole number from %d to %d", raw, lo, hi))
		return 0
	}
	return n
}

func (p *parser) oneOf(name, raw string, allowed ...string) string {
	for _, a := range allowed {
		if strings.EqualFold(raw, a) {
			return a
		}
	}
	p.add(name, fmt.Sprintf("%q is not one of %s", raw, strings.Join(allowed, ", ")))
	return ""
}

// duration accepts a Go duration ("20s", "1m30s") or a bare number of seconds.
func (p *parser) duration(name, raw string) time.Duration {
	if n, err := strconv.Atoi(raw); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.add(name, fmt.Sprintf("%q is not a positive duration such as 20s", raw))
		return 0
	}
	return d
}

// delay accepts a Go duration or whole seconds, zero included, up to ten minutes.
func (p *parser) delay(name, raw string) time.Duration {
	if n, err := strconv.Atoi(raw); err == nil && n >= 0 && n <= 600 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 || d > 10*time.Minute {
		p.add(name, fmt.Sprintf("%q is not a duration from 0s to 10m, such as 5s", raw))
		return 0
	}
	return d
}

func (p *parser) baseURL(name, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.add(name, fmt.Sprintf("%q is not an http or https base URL such as https://zoom.us", raw))
		return ""
	}
	return strings.TrimRight(raw, "/")
}

// origins returns nil for "*" (any origin) or the listed origins, each scheme://host[:port].
func (p *parser) origins(name, raw string) []string {
	if strings.TrimSpace(raw) == "*" {
		return nil
	}
	var list []string
	for _, o := range strings.Split(raw, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			// A browser's Origin is scheme://host[:port] exactly: anything else never matches.
			p.add(name, fmt.Sprintf("%q can never match a browser's Origin, which is scheme://host[:port] with no path or trailing slash, such as https://app.example.com (or use * alone for any)", o))
			continue
		}
		list = append(list, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if len(list) == 0 && len(p.problems) == 0 {
		p.add(name, "lists no origin; use * to allow any")
	}
	return list
}

// group enforces all-or-none for variables that only make sense together, naming the missing
// ones. It reports whether the whole group is set (and well formed).
func (p *parser) group(settings ...setting) bool {
	var set, missing []string
	for _, s := range settings {
		if s.value == "" {
			missing = append(missing, s.name)
		} else {
			set = append(set, s.name)
		}
	}
	if len(set) == 0 {
		return false
	}
	if len(missing) > 0 {
		for _, m := range missing {
			p.add(m, "must be set together with "+strings.Join(set, ", "))
		}
		return false
	}
	ok := true
	for _, s := range settings {
		ok = p.credential(s.name, s.value) != "" && ok
	}
	return ok
}

// credential refuses values that are almost always a copy-and-paste accident: surrounding
// whitespace or control characters. The value itself is never part of the reason.
func (p *parser) credential(name, raw string) string {
	if strings.TrimSpace(raw) != raw {
		p.add(name, "has leading or trailing whitespace (a copy-and-paste accident?)")
		return ""
	}
	if strings.ContainsFunc(raw, unicode.IsControl) {
		p.add(name, "contains control characters")
		return ""
	}
	return raw
}

// callbackSecrets splits the comma-separated list; spaces around commas and empty entries (a
// trailing comma) are dropped.
func (p *parser) callbackSecrets(name, raw string) []Secret {
	var secrets []Secret
	for _, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.ContainsFunc(s, unicode.IsControl) {
			p.add(name, fmt.Sprintf("entry %d contains control characters", len(secrets)+1))
			continue
		}
		secrets = append(secrets, NewSecret(s))
	}
	return secrets
}

// minCallbackSecretLength is the shortest callback secret accepted: it is all that guards the bot
// routes.
const minCallbackSecretLength = 16

// minAdminTokenLength is the shortest admin token accepted: a bearer token guards every
// connection, so a guessable one is refused at start.
const minAdminTokenLength = 16

// connections reads the connected-accounts variables. They are validated only when the OAuth
// pair turns the feature on, so a platform's DATABASE_URL set for something else never stops a
// start.
func (p *parser) connections(env environment) *Connections {
	if !p.group(
		setting{"ZOOM_OAUTH_CLIENT_ID", env.OAuthClientID},
		setting{"ZOOM_OAUTH_CLIENT_SECRET", env.OAuthClientSecret},
	) {
		return nil
	}
	c := &Connections{
		ClientID:     env.OAuthClientID,
		ClientSecret: NewSecret(env.OAuthClientSecret),
		Keepalive:    p.duration("CONNECTION_KEEPALIVE", env.ConnectionKeepalive),
		Database:     p.database("DATABASE_URL", env.DatabaseURL),
	}
	if env.PublicURL == "" {
		p.add("PUBLIC_URL", "must be set with connected accounts: Zoom sends people back to PUBLIC_URL/oauth/callback")
	} else {
		c.PublicURL = p.publicURL("PUBLIC_URL", env.PublicURL)
	}
	if env.TokenEncryptionKeys == "" {
		p.add("TOKEN_ENCRYPTION_KEYS", "must be set with connected accounts: stored tokens are encrypted with it (make a key with: openssl rand -base64 32)")
	} else if keys, err := seal.ParseKeys(env.TokenEncryptionKeys); err != nil {
		p.add("TOKEN_ENCRYPTION_KEYS", err.Error())
	} else {
		for _, k := range keys {
			c.EncryptionKeys = append(c.EncryptionKeys, NewSecret(string(k)))
		}
	}
	if env.ConnectSuccessURL != "" {
		c.ConnectSuccessURL = p.absoluteURL("CONNECT_SUCCESS_URL", env.ConnectSuccessURL)
	}
	c.AppName = strings.TrimSpace(env.ConnectAppName)
	if utf8.RuneCountInString(c.AppName) > maxAppNameLength || strings.ContainsFunc(c.AppName, unicode.IsControl) {
		p.add("CONNECT_APP_NAME", fmt.Sprintf("must be one line of at most %d characters", maxAppNameLength))
	}
	if env.ConnectLogoURL != "" {
		if u, err := url.Parse(env.ConnectLogoURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			p.add("CONNECT_LOGO_URL", "must be an absolute https URL (the pages load nothing else over plain http)")
		} else {
			c.LogoURL = env.ConnectLogoURL
		}
	}
	if raw := env.ConnectSupportURL; raw != "" {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "mailto" && u.Opaque != "" {
			c.SupportURL = raw
		} else {
			c.SupportURL = p.absoluteURL("CONNECT_SUPPORT_URL", raw)
		}
	}
	return c
}

// maxAppNameLength bounds CONNECT_APP_NAME: it is a heading, not a paragraph.
const maxAppNameLength = 100

// rtms reads the RTMS app: ZOOM_RTMS_CLIENT_ID and _SECRET, or else the connected-accounts app.
// RTMS is on when an app is known and ZOOM_WEBHOOK_SECRET_TOKENS is set (streams arrive by
// webhook). Streams live in the connections database, so RTMS needs connected accounts on.
func (p *parser) rtms(env environment, cfg Config) *RTMS {
	explicit := p.group(
		setting{"ZOOM_RTMS_CLIENT_ID", env.RTMSClientID},
		setting{"ZOOM_RTMS_CLIENT_SECRET", env.RTMSClientSecret},
	)
	ttl := p.duration("RTMS_STREAM_TTL", env.RTMSStreamTTL)
	switch {
	case explicit && cfg.Connections == nil:
		p.add("ZOOM_RTMS_CLIENT_ID", "needs connected accounts on (ZOOM_OAUTH_CLIENT_ID, ZOOM_OAUTH_CLIENT_SECRET, PUBLIC_URL, "+
			"TOKEN_ENCRYPTION_KEYS): streams are kept in their database")
		return nil
	case explicit && len(cfg.WebhookSecretTokens) == 0:
		p.add("ZOOM_WEBHOOK_SECRET_TOKENS", "must be set with ZOOM_RTMS_CLIENT_ID: streams are announced by Zoom's webhooks")
		return nil
	case explicit:
		return &RTMS{ClientID: env.RTMSClientID, ClientSecret: NewSecret(env.RTMSClientSecret), StreamTTL: ttl}
	case cfg.Connections != nil && len(cfg.WebhookSecretTokens) > 0:
		return &RTMS{ClientID: cfg.Connections.ClientID, ClientSecret: cfg.Connections.ClientSecret, StreamTTL: ttl}
	}
	return nil
}

// minAttendeeKeyLength is the shortest decoded attendee secret accepted; attendee makes 32 bytes.
const minAttendeeKeyLength = 16

// attendee reads ATTENDEE_WEBHOOK_SECRETS: base64 entries, each decoded to the HMAC key. The
// callback needs a token source, the S2S app or connected accounts.
func (p *parser) attendee(name, raw string, cfg Config) *Attendee {
	list := p.callbackSecrets(name, raw)
	if len(list) == 0 {
		return nil
	}
	a := &Attendee{}
	for i, s := range list {
		key, err := base64.StdEncoding.DecodeString(s.Reveal())
		switch {
		case err != nil:
			p.add(name, fmt.Sprintf("entry %d is not base64 (copy the secret as attendee's dashboard shows it)", i+1))
			return nil
		case len(key) < minAttendeeKeyLength:
			p.add(name, fmt.Sprintf("entry %d decodes to fewer than %d bytes: too easy to guess", i+1, minAttendeeKeyLength))
			return nil
		}
		a.Keys = append(a.Keys, NewSecret(string(key)))
	}
	if cfg.S2S == nil && cfg.Connections == nil {
		p.add(name, "needs a token source: the S2S credentials (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET) or connected accounts")
		return nil
	}
	return a
}

// database reads DATABASE_URL: postgres:// or postgresql:// for PostgreSQL, sqlite:PATH or
// file:PATH for SQLite, unset for the default SQLite file. The value is never echoed: a URL may
// carry a password.
func (p *parser) database(name, raw string) Database {
	switch {
	case raw == "":
		return Database{Engine: SQLite, Path: DefaultSQLitePath}
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			p.add(name, "is not a valid postgres:// URL")
			return Database{}
		}
		return Database{Engine: Postgres, URL: NewSecret(raw)}
	case strings.HasPrefix(raw, "sqlite:"), strings.HasPrefix(raw, "file:"):
		_, path, _ := strings.Cut(raw, ":")
		path = strings.TrimPrefix(path, "//")
		if path == "" || strings.ContainsAny(path, "?#") {
			p.add(name, "names no SQLite path: write sqlite:PATH, such as sqlite:/data/zoomtoken.db")
			return Database{}
		}
		return Database{Engine: SQLite, Path: path}
	}
	p.add(name, "has a scheme zoomtoken does not use: write postgres://… (or postgresql://…) for PostgreSQL, or sqlite:PATH for SQLite")
	return Database{}
}

// publicURL accepts an absolute http(s) URL without query or fragment and drops a trailing slash.
func (p *parser) publicURL(name, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" ||
		u.Fragment != "" || u.User != nil {
		p.add(name, fmt.Sprintf("%q is not an absolute http or https URL without a query, such as https://tokens.example.com", raw))
		return ""
	}
	return strings.TrimSuffix(raw, "/")
}

// absoluteURL accepts any absolute http(s) URL.
func (p *parser) absoluteURL(name, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		p.add(name, fmt.Sprintf("%q is not an absolute http or https URL", raw))
		return ""
	}
	return raw
}

// tokens splits a comma-separated list of secrets, each at least minLength characters.
func (p *parser) tokens(name, raw string, minLength int) []Secret {
	list := p.callbackSecrets(name, raw)
	for i, s := range list {
		if len(s.Reveal()) < minLength {
			p.add(name, fmt.Sprintf("entry %d is shorter than %d characters: too easy to guess", i+1, minLength))
			return nil
		}
	}
	return list
}

// signingSecret accepts a Standard Webhooks secret: whsec_ followed by standard base64, and
// returns "" after reporting anything else.
func (p *parser) signingSecret(name, raw string) string {
	encoded, ok := strings.CutPrefix(raw, "whsec_")
	if _, err := base64.StdEncoding.DecodeString(encoded); !ok || err != nil || encoded == "" {
		p.add(name, "is not whsec_ followed by base64, as Standard Webhooks secrets are")
		return ""
	}
	return raw
}
