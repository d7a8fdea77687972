package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf returns a getenv over the given map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func sdkOnly() map[string]string {
	return map[string]string{"ZOOM_MEETING_SDK_KEY": "key", "ZOOM_MEETING_SDK_SECRET": "sdk-secret-value"}
}

func s2sOnly() map[string]string {
	return map[string]string{
		"ZOOM_ACCOUNT_ID":      "acct",
		"ZOOM_CLIENT_ID":       "client",
		"ZOOM_CLIENT_SECRET":   "client-secret-value",
		"CALLBACK_SECRETS":     "cb-secret-one-0123, cb-secret-two-0123,",
		"ZOOM_ZAK_USER":        "bot@example.com",
		"ZOOM_ZAK_TTL_SECONDS": "3600",
	}
}

// connectionsOnly turns on connected accounts, and nothing else.
func connectionsOnly() map[string]string {
	return map[string]string{
		"ZOOM_OAUTH_CLIENT_ID":     "oauth-client",
		"ZOOM_OAUTH_CLIENT_SECRET": "oauth-secret-value",
		"PUBLIC_URL":               "https://tokens.example.com/",
		// Two keys: standard base64 and URL-safe raw base64.
		"TOKEN_ENCRYPTION_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=, __79_Pv6-fj39vX08_Lx8O_u7ezr6uno5-bl5OPi4eA",
		"CALLBACK_SECRETS":      "cb-secret-one-long-enough",
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(envOf(sdkOnly()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 4000 || cfg.OAuthBaseURL != "https://zoom.us" || cfg.APIBaseURL != DefaultAPIBaseURL ||
		cfg.APIBaseURLSet || cfg.CORSAllowedOrigins != nil || cfg.LogLevel != "info" || cfg.LogFormat != "json" ||
		cfg.ShutdownTimeout != 20*time.Second || cfg.ZoomTimeout != 10*time.Second {
		t.Errorf("defaults: got %+v", cfg)
	}
	if got, want := cfg.Features(), []string{FeatureSignature}; !slices.Equal(got, want) {
		t.Errorf("features: got %v, want %v", got, want)
	}
	if cfg.MeetingSDK.Key != "key" || cfg.MeetingSDK.Secret.Reveal() != "sdk-secret-value" {
		t.Errorf("sdk: got %q", cfg.MeetingSDK.Key)
	}
}

func TestLoadS2S(t *testing.T) {
	env := s2sOnly()
	env["ZOOM_API_BASE_URL"] = "http://127.0.0.1:9000/"
	env["CORS_ALLOWED_ORIGINS"] = "https://A.example.com, http://localhost:3000"
	env["SHUTDOWN_TIMEOUT"] = "5"
	env["METRICS_ADDR"] = "127.0.0.1:9090"
	cfg, err := Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Features(), []string{FeatureJoinToken, FeatureZAK}; !slices.Equal(got, want) {
		t.Errorf("features: got %v, want %v", got, want)
	}
	if len(cfg.CallbackSecrets) != 2 || cfg.CallbackSecrets[0].Reveal() != "cb-secret-one-0123" ||
		cfg.CallbackSecrets[1].Reveal() != "cb-secret-two-0123" {
		t.Errorf("callback secrets: got %d entries", len(cfg.CallbackSecrets))
	}
	if cfg.ZAKTTL != time.Hour || cfg.ZAKUser != "bot@example.com" {
		t.Errorf("zak: got %v %q", cfg.ZAKTTL, cfg.ZAKUser)
	}
	if cfg.APIBaseURL != "http://127.0.0.1:9000" || !cfg.APIBaseURLSet {
		t.Errorf("api base: got %q %v", cfg.APIBaseURL, cfg.APIBaseURLSet)
	}
	if got, want := cfg.CORSAllowedOrigins, []string{"https://a.example.com", "http://localhost:3000"}; !slices.Equal(got, want) {
		t.Errorf("origins: got %v, want %v", got, want)
	}
	if cfg.ShutdownTimeout != 5*time.Second || cfg.MetricsAddr != "127.0.0.1:9090" || cfg.ShutdownDelay != 0 {
		t.Errorf("shutdown, metrics: got %v %q", cfg.ShutdownTimeout, cfg.MetricsAddr)
	}
}

func TestS2SWithoutZAKUserLeavesZAKOff(t *testing.T) {
	env := s2sOnly()
	delete(env, "ZOOM_ZAK_USER")
	delete(env, "ZOOM_ZAK_TTL_SECONDS")
	cfg, err := Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Features(), []string{FeatureJoinToken}; !slices.Equal(got, want) {
		t.Errorf("features: got %v, want %v", got, want)
	}
}

func TestLoadConnections(t *testing.T) {
	env := connectionsOnly()
	env["DATABASE_URL"] = "postgresql://zt:pw@db.internal:5432/zoomtoken?sslmode=require"
	env["CONNECTION_KEEPALIVE"] = "24h"
	env["ADMIN_TOKENS"] = "admin-token-0123456789,admin-token-abcdefghij"
	env["ZOOM_WEBHOOK_SECRET_TOKENS"] = "whs1,whs2"
	env["EVENTS_URL"] = "https://backend.example.com/zoomtoken-events"
	env["EVENTS_SIGNING_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	env["CONNECT_SUCCESS_URL"] = "https://app.example.com/connected?x=1"
	cfg, err := Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	// Webhooks with connected accounts turn RTMS on, with the connected-accounts app.
	if got, want := cfg.Features(), []string{FeatureConnections, FeatureRTMS}; !slices.Equal(got, want) {
		t.Errorf("features: got %v, want %v", got, want)
	}
	if r := cfg.RTMS; r == nil || r.ClientID != env["ZOOM_OAUTH_CLIENT_ID"] || r.ClientSecret.Reveal() != env["ZOOM_OAUTH_CLIENT_SECRET"] || r.StreamTTL != 24*time.Hour {
		t.Errorf("RTMS: %+v", r)
	}
	c := cfg.Connections
	if c.ClientID != "oauth-client" || c.ClientSecret.Reveal() != "oauth-secret-value" || c.PublicURL != "https://tokens.example.com" ||
		c.Keepalive != 24*time.Hour || c.ConnectSuccessURL != "https://app.example.com/connected?x=1" {
		t.Errorf("connections: got %+v", c)
	}
	if len(c.EncryptionKeys) != 2 || len(c.EncryptionKeys[0].Reveal()) != 32 || c.EncryptionKeys[0].Reveal()[1] != 1 ||
		c.EncryptionKeys[1].Reveal()[0] != 0xff {
		t.Errorf("keys: got %d keys, not decoded as written", len(c.EncryptionKeys))
	}
	if c.Database.Engine != Postgres || c.Database.URL.Reveal() != env["DATABASE_URL"] {
		t.Errorf("database: got %+v", c.Database)
	}
	if len(cfg.AdminTokens) != 2 || len(cfg.WebhookSecretTokens) != 2 || cfg.Events == nil ||
		cfg.Events.URL != env["EVENTS_URL"] || cfg.Events.SigningSecret.Reveal() != env["EVENTS_SIGNING_SECRET"] {
		t.Errorf("admin %d, webhooks %d, events %+v", len(cfg.AdminTokens), len(cfg.WebhookSecretTokens), cfg.Events)
	}
	for _, out := range []string{fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		for _, name := range SecretVariables() {
			if v := env[name]; v != "" && strings.Contains(out, v) {
				t.Errorf("the config prints %s", name)
			}
		}
	}

	for raw, want := range map[string]Database{
		"":                       {Engine: SQLite, Path: "zoomtoken.db"},
		"sqlite:/data/zt.db":     {Engine: SQLite, Path: "/data/zt.db"},
		"sqlite:///data/zt.db":   {Engine: SQLite, Path: "/data/zt.db"},
		"file:relative/zt.db":    {Engine: SQLite, Path: "relative/zt.db"},
		"postgres://h/db":        {Engine: Postgres, URL: NewSecret("postgres://h/db")},
		"postgresql://h:5432/db": {Engine: Postgres, URL: NewSecret("postgresql://h:5432/db")},
	} {
		env := connectionsOnly()
		env["DATABASE_URL"] = raw
		cfg, err := Load(envOf(env))
		if err != nil {
			t.Errorf("DATABASE_URL=%q: %v", raw, err)
			continue
		}
		if got := cfg.Connections.Database; got.Engine != want.Engine || got.Path != want.Path || got.URL.Reveal() != want.URL.Reveal() {
			t.Errorf("DATABASE_URL=%q: got %+v, want %+v", raw, got, want)
		}
	}

	// Without the OAuth pair, the database is not looked at: platforms set DATABASE_URL for
	// their own reasons.
	env = sdkOnly()
	env["DATABASE_URL"] = "mysql://somewhere"
	if cfg, err := Load(envOf(env)); err != nil || cfg.Connections != nil {
		t.Errorf("DATABASE_URL without connected accounts: %v", err)
	}
}

func TestLoadVideoSDKAndSigningSecrets(t *testing.T) {
	cfg, err := Load(envOf(map[string]string{"ZOOM_VIDEO_SDK_KEY": "vkey", "ZOOM_VIDEO_SDK_SECRET": "video-secret-value"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Features(), []string{FeatureVideoSDK}; !slices.Equal(got, want) || cfg.VideoSDK.Key != "vkey" ||
		cfg.VideoSDK.Secret.Reveal() != "video-secret-value" {
		t.Errorf("video SDK alone: features %v, %+v", got, cfg.VideoSDK)
	}

	// Signing secrets alone guard the bot routes.
	env := s2sOnly()
	delete(env, "CALLBACK_SECRETS")
	env["CALLBACK_SIGNING_SECRETS"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_c2Vjb25kLXNlY3JldC1rZXk="
	cfg, err = Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CallbackSigningSecrets) != 2 || len(cfg.CallbackSecrets) != 0 ||
		cfg.CallbackSigningSecrets[1].Reveal() != "whsec_c2Vjb25kLXNlY3JldC1rZXk=" {
		t.Errorf("signing secrets: %d, callback secrets %d", len(cfg.CallbackSigningSecrets), len(cfg.CallbackSecrets))
	}
	if out := fmt.Sprintf("%+v", cfg); strings.Contains(out, "MfKQ9r8G") || strings.Contains(out, "video-secret-value") {
		t.Errorf("the config prints a secret: %s", out)
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // every variable that must be named, in order
	}{
		{"nothing configured", map[string]string{}, []string{""}},
		{"key without secret", map[string]string{"ZOOM_MEETING_SDK_KEY": "k"}, []string{"ZOOM_MEETING_SDK_SECRET"}},
		{"secret without key", map[string]string{"ZOOM_MEETING_SDK_SECRET": "lone-secret-value"}, []string{"ZOOM_MEETING_SDK_KEY"}},
		{"s2s without callback secrets", func() map[string]string {
			e := s2sOnly()
			delete(e, "CALLBACK_SECRETS")
			return e
		}(), []string{"CALLBACK_SECRETS"}},
		{"callback secrets only commas", func() map[string]string {
			e := s2sOnly()
			e["CALLBACK_SECRETS"] = " , ,"
			return e
		}(), []string{"CALLBACK_SECRETS"}},
		{"partial s2s", map[string]string{"ZOOM_ACCOUNT_ID": "a", "CALLBACK_SECRETS": "callback-secret-long-enough"},
			[]string{"ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"}},
		{"zak user without s2s", func() map[string]string {
			e := sdkOnly()
			e["ZOOM_ZAK_USER"] = "u"
			return e
		}(), []string{"ZOOM_ZAK_USER"}},
		{"every bad value at once", func() map[string]string {
			e := sdkOnly()
			e["PORT"] = "http"
			e["ZOOM_ZAK_TTL_SECONDS"] = "-1"
			e["ZOOM_OAUTH_BASE_URL"] = "zoom.us"
			e["ZOOM_API_BASE_URL"] = "ftp://x"
			e["CORS_ALLOWED_ORIGINS"] = "https://app.example.com/path"
			e["LOG_LEVEL"] = "loud"
			e["LOG_FORMAT"] = "xml"
			e["SHUTDOWN_TIMEOUT"] = "soon"
			e["ZOOM_TIMEOUT"] = "-1s"
			e["METRICS_ADDR"] = "9090"
			return e
		}(), []string{"PORT", "ZOOM_OAUTH_BASE_URL", "LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_TIMEOUT", "ZOOM_TIMEOUT",
			"ZOOM_API_BASE_URL", "CORS_ALLOWED_ORIGINS", "METRICS_ADDR", "ZOOM_ZAK_TTL_SECONDS"}},
		{"port out of range", func() map[string]string { e := sdkOnly(); e["PORT"] = "70000"; return e }(), []string{"PORT"}},
		{"origins a browser never sends", func() map[string]string {
			e := sdkOnly()
			e["CORS_ALLOWED_ORIGINS"] = "https://a.example.com/, app.example.com, https://b.example.com/app"
			return e
		}(), []string{"CORS_ALLOWED_ORIGINS", "CORS_ALLOWED_ORIGINS", "CORS_ALLOWED_ORIGINS"}},
		{"star mixed into a list", func() map[string]string {
			e := sdkOnly()
			e["CORS_ALLOWED_ORIGINS"] = "https://a.example.com,*"
			return e
		}(), []string{"CORS_ALLOWED_ORIGINS"}},
		{"connected accounts without their requirements", map[string]string{
			"ZOOM_OAUTH_CLIENT_ID": "c", "ZOOM_OAUTH_CLIENT_SECRET": "oauth-secret-value"},
			[]string{"PUBLIC_URL", "TOKEN_ENCRYPTION_KEYS", "CALLBACK_SECRETS"}},
		{"half the OAuth pair", func() map[string]string {
			e := connectionsOnly()
			delete(e, "ZOOM_OAUTH_CLIENT_SECRET")
			return e
		}(), []string{"ZOOM_OAUTH_CLIENT_SECRET"}},
		{"bad connected-account values", func() map[string]string {
			e := connectionsOnly()
			e["TOKEN_ENCRYPTION_KEYS"] = "c2hvcnQta2V5LXZhbHVl" // 15 bytes
			e["DATABASE_URL"] = "mysql://user:pw-value@db/zt"
			e["PUBLIC_URL"] = "tokens.example.com"
			e["CONNECTION_KEEPALIVE"] = "0s"
			e["CONNECT_SUCCESS_URL"] = "/done"
			return e
		}(), []string{"CONNECTION_KEEPALIVE", "DATABASE_URL", "PUBLIC_URL", "TOKEN_ENCRYPTION_KEYS", "CONNECT_SUCCESS_URL"}},
		{"an encryption key that is not base64", func() map[string]string {
			e := connectionsOnly()
			e["TOKEN_ENCRYPTION_KEYS"] = "not base64 at all!"
			return e
		}(), []string{"TOKEN_ENCRYPTION_KEYS"}},
		{"sqlite without a path", func() map[string]string {
			e := connectionsOnly()
			e["DATABASE_URL"] = "file:"
			return e
		}(), []string{"DATABASE_URL"}},
		{"weak admin token, half the events pair, bad signing secret", func() map[string]string {
			e := sdkOnly()
			e["ADMIN_TOKENS"] = "admin-token-0123456789,short-admin"
			e["EVENTS_URL"] = "https://backend.example.com/events"
			return e
		}(), []string{"ADMIN_TOKENS", "EVENTS_SIGNING_SECRET"}},
		{"signing secret not whsec_", func() map[string]string {
			e := sdkOnly()
			e["EVENTS_URL"] = "https://backend.example.com/events"
			e["EVENTS_SIGNING_SECRET"] = "plain-signing-secret"
			return e
		}(), []string{"EVENTS_SIGNING_SECRET"}},
		{"a callback secret shorter than 16 characters", func() map[string]string {
			e := s2sOnly()
			e["CALLBACK_SECRETS"] = "long-enough-secret-0123,short-secret15"
			return e
		}(), []string{"CALLBACK_SECRETS"}},
		{"a rate limit that is not a positive number", func() map[string]string {
			e := sdkOnly()
			e["ZOOM_RATE_LIMIT"] = "fast"
			return e
		}(), []string{"ZOOM_RATE_LIMIT"}},
		{"a negative or huge shutdown delay", func() map[string]string {
			e := sdkOnly()
			e["SHUTDOWN_DELAY"] = "-1s"
			return e
		}(), []string{"SHUTDOWN_DELAY"}},
		{"half the Video SDK pair", map[string]string{"ZOOM_VIDEO_SDK_KEY": "k"}, []string{"ZOOM_VIDEO_SDK_SECRET"}},
		{"a signing secret without whsec_", func() map[string]string {
			e := s2sOnly()
			delete(e, "CALLBACK_SECRETS")
			e["CALLBACK_SIGNING_SECRETS"] = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			return e
		}(), []string{"CALLBACK_SIGNING_SECRETS", "CALLBACK_SECRETS"}},
		{"a signing secret that is not base64", func() map[string]string {
			e := sdkOnly()
			e["CALLBACK_SIGNING_SECRETS"] = "whsec_not*base64"
			return e
		}(), []string{"CALLBACK_SIGNING_SECRETS"}},
		{"pasted secret with trailing newline", map[string]string{
			"ZOOM_MEETING_SDK_KEY": "key", "ZOOM_MEETING_SDK_SECRET": "sdk-secret-value\n"}, []string{"ZOOM_MEETING_SDK_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(envOf(tt.env))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("got %v, want *Error", err)
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.Variable)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("named variables: got %v, want %v\n%v", got, tt.want, err)
			}
			for name, value := range tt.env {
				if slices.Contains(SecretVariables(), name) && value != "" && strings.Contains(err.Error(), value) {
					t.Errorf("error prints the value of %s: %v", name, err)
				}
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg, err := Load(envOf(s2sOnly()))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(js)} {
		for _, secret := range []string{"client-secret-value", "cb-secret-one", "cb-secret-two"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q printed in %s", secret, out)
			}
		}
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var buf bytes.Buffer
	if err := Usage(&buf); err != nil {
		t.Fatal(err)
	}
	for _, name := range Variables() {
		if !strings.Contains(buf.String(), name) {
			t.Errorf("usage lacks %s:\n%s", name, buf.String())
		}
	}
	if got := len(Variables()); got != 43 {
		t.Errorf("got %d variables, want the 15 of the contract, ZOOM_TIMEOUT, METRICS_ADDR, the 11 of connected accounts, the 3 of part 2, SHUTDOWN_DELAY, ZOOM_RATE_LIMIT, MAX_CONNECTIONS, the 3 of RTMS, attendee's, the 3 of the connect pages' branding and the 2 of bot links", got)
	}
}

// The operator-facing lists of variables must name exactly the variables Load reads.
func TestDocumentedVariablesMatch(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var inExample []string
	for _, line := range strings.Split(string(example), "\n") {
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			inExample = append(inExample, name)
		}
	}
	if got, want := inExample, Variables(); !slices.Equal(got, want) {
		t.Errorf(".env.example: got %v, want %v", got, want)
	}
	readme, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Variables() {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("docs/configuration.md does not document %s", name)
		}
	}
}

func TestLoadRTMS(t *testing.T) {
	withApp := func(extra map[string]string) map[string]string {
		env := connectionsOnly()
		env["ZOOM_WEBHOOK_SECRET_TOKENS"] = "whs1"
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	cfg, err := Load(envOf(withApp(map[string]string{"ZOOM_RTMS_CLIENT_ID": "rtms-id", "ZOOM_RTMS_CLIENT_SECRET": "rtms-secret", "RTMS_STREAM_TTL": "2h"})))
	if err != nil || cfg.RTMS == nil || cfg.RTMS.ClientID != "rtms-id" || cfg.RTMS.ClientSecret.Reveal() != "rtms-secret" || cfg.RTMS.StreamTTL != 2*time.Hour {
		t.Fatalf("an RTMS app of its own: %+v %v", cfg.RTMS, err)
	}
	noHooks := withApp(nil)
	delete(noHooks, "ZOOM_WEBHOOK_SECRET_TOKENS")
	if cfg, err := Load(envOf(noHooks)); err != nil || cfg.RTMS != nil {
		t.Errorf("without webhooks RTMS is off: %+v %v", cfg.RTMS, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"half an app": {withApp(map[string]string{"ZOOM_RTMS_CLIENT_ID": "rtms-id"}), "ZOOM_RTMS_CLIENT_SECRET"},
		"a bad TTL":   {withApp(map[string]string{"RTMS_STREAM_TTL": "soon"}), "RTMS_STREAM_TTL"},
		"no connected accounts": {map[string]string{"ZOOM_MEETING_SDK_KEY": "k", "ZOOM_MEETING_SDK_SECRET": "s", "ZOOM_WEBHOOK_SECRET_TOKENS": "w",
			"ZOOM_RTMS_CLIENT_ID": "rtms-id", "ZOOM_RTMS_CLIENT_SECRET": "rtms-secret"}, "ZOOM_RTMS_CLIENT_ID"},
	} {
		_, err := Load(envOf(tc.env))
		var cerr *Error
		if !errors.As(err, &cerr) || !slices.ContainsFunc(cerr.Problems, func(p Problem) bool { return p.Variable == tc.want }) {
			t.Errorf("%s: %v, want a problem with %s", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "rtms-secret") {
			t.Errorf("%s: the error prints the secret", name)
		}
	}
}

func TestLoadAttendee(t *testing.T) {
	current := "YXR0ZW5kZWUtcHJvamVjdC13ZWJob29rLXNlY3JldCE=" // 32 bytes, as attendee makes them
	previous := "cHJldmlvdXMtYXR0ZW5kZWUtc2VjcmV0LTEyMzQ1Njc="
	env := s2sOnly()
	env["ATTENDEE_WEBHOOK_SECRETS"] = current + ", " + previous
	cfg, err := Load(envOf(env))
	if err != nil || cfg.Attendee == nil || len(cfg.Attendee.Keys) != 2 ||
		cfg.Attendee.Keys[0].Reveal() != "attendee-project-webhook-secret!" || !slices.Contains(cfg.Features(), FeatureAttendee) {
		t.Fatalf("%+v %v", cfg.Attendee, err)
	}
	if cfg, err := Load(envOf(s2sOnly())); err != nil || cfg.Attendee != nil {
		t.Errorf("unset: %+v %v", cfg.Attendee, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"not base64":      {map[string]string{"ATTENDEE_WEBHOOK_SECRETS": "not*base64"}, "not base64"},
		"too short":       {map[string]string{"ATTENDEE_WEBHOOK_SECRETS": "c2hvcnQ="}, "fewer than 16 bytes"},
		"no token source": {map[string]string{"ATTENDEE_WEBHOOK_SECRETS": current, "ZOOM_MEETING_SDK_KEY": "k", "ZOOM_MEETING_SDK_SECRET": "sdk-secret-value"}, "needs a token source"},
	} {
		e := s2sOnly()
		if strings.Contains(name, "source") {
			e = map[string]string{}
		}
		for k, v := range tc.env {
			e[k] = v
		}
		_, err := Load(envOf(e))
		if err == nil || !strings.Contains(err.Error(), "ATTENDEE_WEBHOOK_SECRETS") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), current) {
			t.Errorf("%s: the error prints the secret", name)
		}
	}
}

func TestLoadConnectBranding(t *testing.T) {
	env := connectionsOnly()
	env["CONNECT_APP_NAME"] = " Acme Notes "
	env["CONNECT_LOGO_URL"] = "https://cdn.acme.example/logo.png"
	env["CONNECT_SUPPORT_URL"] = "mailto:help@acme.example"
	cfg, err := Load(envOf(env))
	if err != nil || cfg.Connections.AppName != "Acme Notes" || cfg.Connections.LogoURL != "https://cdn.acme.example/logo.png" ||
		cfg.Connections.SupportURL != "mailto:help@acme.example" {
		t.Fatalf("%+v %v", cfg.Connections, err)
	}
	for name, bad := range map[string]map[string]string{
		"CONNECT_LOGO_URL":    {"CONNECT_LOGO_URL": "http://cdn.acme.example/logo.png"},
		"CONNECT_SUPPORT_URL": {"CONNECT_SUPPORT_URL": "javascript:alert(1)"},
		"CONNECT_APP_NAME":    {"CONNECT_APP_NAME": "two\nlines"},
	} {
		e := connectionsOnly()
		for k, v := range bad {
			e[k] = v
		}
		if _, err := Load(envOf(e)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
