// Package config turns the process environment into a validated Config.
//
// Every variable is declared once, in the environment struct below: its name, default and
// description. Load reads those names through a getenv function (so nothing here touches the
// real process environment), parses every value, and reports all problems together by variable
// name. A secret's value never appears in a problem.
package config

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"
)

// environment declares every variable the service reads. All fields are strings on purpose:
// parsing happens in Load, which can then report every bad value at once instead of stopping at
// the first. The struct tags are envconfig's, so the same declaration prints the usage table.
type environment struct {
	Port               string `envconfig:"PORT" default:"4000" desc:"listen port"`
	SDKKey             string `envconfig:"ZOOM_MEETING_SDK_KEY" desc:"Meeting SDK app key; with the secret, enables POST /"`
	SDKSecret          string `envconfig:"ZOOM_MEETING_SDK_SECRET" desc:"Meeting SDK app secret" secret:"true"`
	AccountID          string `envconfig:"ZOOM_ACCOUNT_ID" desc:"Server-to-Server OAuth account id; enables the bot endpoints"`
	ClientID           string `envconfig:"ZOOM_CLIENT_ID" desc:"Server-to-Server OAuth client id"`
	ClientSecret       string `envconfig:"ZOOM_CLIENT_SECRET" desc:"Server-to-Server OAuth client secret" secret:"true"`
	ZAKUser            string `envconfig:"ZOOM_ZAK_USER" desc:"Zoom user id or email whose ZAK GET /zak returns"`
	ZAKTTLSeconds      string `envconfig:"ZOOM_ZAK_TTL_SECONDS" desc:"ttl asked of Zoom for each ZAK (unset: Zoom's default)"`
	CallbackSecrets    string `envconfig:"CALLBACK_SECRETS" desc:"comma-separated secrets accepted by the bot endpoints" secret:"true"`
	OAuthBaseURL       string `envconfig:"ZOOM_OAUTH_BASE_URL" default:"https://zoom.us" desc:"where /oauth/token lives"`
	APIBaseURL         string `envconfig:"ZOOM_API_BASE_URL" desc:"Zoom REST base (default https://api.zoom.us, or api_url from the token)"`
	ZoomTimeout        string `envconfig:"ZOOM_TIMEOUT" default:"10s" desc:"time budget of one Zoom call, retries and waits included"`
	CORSAllowedOrigins string `envconfig:"CORS_ALLOWED_ORIGINS" default:"*" desc:"comma-separated origins allowed to call POST /; * for any"`
	LogLevel           string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat          string `envconfig:"LOG_FORMAT" default:"json" desc:"json or console"`
	ShutdownTimeout    string `envconfig:"SHUTDOWN_TIMEOUT" default:"20s" desc:"how long in-flight requests may drain on SIGTERM"`
	MetricsAddr        string `envconfig:"METRICS_ADDR" desc:"host:port for a separate /metrics listener (unset: /metrics on the main port)"`
}

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

// S2S holds the Server-to-Server OAuth app credentials behind the bot endpoints.
type S2S struct {
	AccountID    string
	ClientID     string
	ClientSecret Secret
}

// Config is the validated configuration. A feature's pointer is nil when the feature is off.
type Config struct {
	Port int

	MeetingSDK *MeetingSDK
	S2S        *S2S

	// ZAKUser is empty when GET /zak is off; ZAKTTL is zero for Zoom's default lifetime.
	ZAKUser string
	ZAKTTL  time.Duration

	CallbackSecrets []Secret

	OAuthBaseURL string
	// APIBaseURL is the REST base; APIBaseURLSet says the operator chose it, in which case the
	// api_url of Zoom's token response is ignored.
	APIBaseURL    string
	APIBaseURLSet bool
	// ZoomTimeout bounds one call to Zoom from start to end, retries and waits included.
	ZoomTimeout time.Duration

	// CORSAllowedOrigins is nil when any origin may call POST /.
	CORSAllowedOrigins []string

	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration

	// MetricsAddr is where /metrics is served on a listener of its own; empty serves it on the
	// main port.
	MetricsAddr string
}

// Feature names, as the startup line prints them.
const (
	FeatureSignature = "signature"
	FeatureJoinToken = "join-token"
	FeatureZAK       = "zak"
)

// Features lists the features that are on, in route order.
func (c Config) Features() []string {
	var on []string
	if c.MeetingSDK != nil {
		on = append(on, FeatureSignature)
	}
	if c.S2S != nil {
		on = append(on, FeatureJoinToken)
		if c.ZAKUser != "" {
			on = append(on, FeatureZAK)
		}
	}
	return on
}

// Problem is one bad variable and why.
type Problem struct {
	Variable string
	Reason   string
}

// Error lists every problem found in the environment.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
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
		ZoomTimeout:     p.duration("ZOOM_TIMEOUT", env.ZoomTimeout),
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
		setting{"ZOOM_ACCOUNT_ID", env.AccountID},
		setting{"ZOOM_CLIENT_ID", env.ClientID},
		setting{"ZOOM_CLIENT_SECRET", env.ClientSecret},
	) {
		cfg.S2S = &S2S{AccountID: env.AccountID, ClientID: env.ClientID, ClientSecret: NewSecret(env.ClientSecret)}
	}
	cfg.CallbackSecrets = p.callbackSecrets("CALLBACK_SECRETS", env.CallbackSecrets)

	if env.ZAKUser != "" {
		cfg.ZAKUser = p.credential("ZOOM_ZAK_USER", env.ZAKUser)
		if cfg.S2S == nil {
			p.add("ZOOM_ZAK_USER", "needs the S2S credentials ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET")
		}
	}
	if env.ZAKTTLSeconds != "" {
		cfg.ZAKTTL = time.Duration(p.intRange("ZOOM_ZAK_TTL_SECONDS", env.ZAKTTLSeconds, 1, 365*24*3600)) * time.Second
	}
	if cfg.S2S != nil && len(cfg.CallbackSecrets) == 0 {
		p.add("CALLBACK_SECRETS", "must be set when S2S credentials are: the bot endpoints never run unguarded")
	}
	if cfg.MeetingSDK == nil && cfg.S2S == nil && len(p.problems) == 0 {
		p.add("ZOOM_MEETING_SDK_KEY", "no feature is configured: set ZOOM_MEETING_SDK_KEY and ZOOM_MEETING_SDK_SECRET "+
			"for POST /, or ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and CALLBACK_SECRETS for the bot endpoints")
	}
	if len(p.problems) > 0 {
		return Config{}, &Error{Problems: p.problems}
	}
	return cfg, nil
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
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.add(name, fmt.Sprintf("%q is not an origin such as https://app.example.com (or use * alone for any)", o))
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
