// Package doctor checks, live, that every configured feature can work: the S2S app and its
// scopes, the ZAK user, the Meeting and Video SDK credentials, the local clock against Zoom's,
// the strength of the callback secrets, and for connected accounts the OAuth app, the public
// URL, the database and every stored row. It reports a checklist with a fix for each failure; it never
// prints a secret or a token.
package doctor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/zoomtoken/zoomtoken/internal/config"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

// Status is the verdict of one check.
type Status int

// The verdicts. A warning does not fail the run; a skipped check could not run because one it
// depends on failed.
const (
	Pass Status = iota
	Warn
	Fail
	Skip
)

// Check is one line of the checklist.
type Check struct {
	Name   string
	Status Status
	Detail string
	// Fix says what to do about a warning or failure.
	Fix string
}

// Deps is what the checks need.
type Deps struct {
	Config config.Config
	// Zoom is the S2S client; nil when the bot endpoints are off.
	Zoom *zoom.Client
	// HTTPClient reads Zoom's clock; Now is the local one.
	HTTPClient *http.Client
	Now        func() time.Time
	// Connected is set when connected accounts are on.
	Connected *Connected
}

// Limits of the checks.
const (
	maxClockSkew = 5 * time.Second
)

// zoomCredential is what Zoom's app keys and secrets look like: letters, digits, - and _.
var zoomCredential = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Offline performs the checks that need no network and no database, which start-up runs too so
// that it warns, in the doctor's words, of what the doctor would fail: the SDK credentials' shape
// and a test signature, the callback and signing secrets, who reaches connected accounts,
// PUBLIC_URL, and variables set but read by no configured feature.
func Offline(cfg config.Config) []Check {
	var checks []Check
	if cfg.MeetingSDK != nil {
		checks = append(checks, checkSDKCredentials(cfg.MeetingSDK)...)
	}
	if cfg.VideoSDK != nil {
		checks = append(checks, checkVideoSDKCredentials(cfg.VideoSDK)...)
	}
	if len(cfg.CallbackSecrets) > 0 {
		checks = append(checks, checkCallbackSecrets(cfg.CallbackSecrets))
	}
	if len(cfg.CallbackSigningSecrets) > 0 {
		checks = append(checks, checkSigningSecrets(cfg.CallbackSigningSecrets))
	}
	if cfg.S2S != nil || cfg.Connections != nil {
		checks = append(checks, checkReach(cfg))
	}
	if cfg.Connections != nil {
		checks = append(checks, checkPublicURL(cfg.Connections.PublicURL))
	}
	if len(cfg.Unused) > 0 {
		checks = append(checks, Check{Name: "unused variables", Status: Warn,
			Detail: "set, but read by no configured feature: " + strings.Join(cfg.Unused, ", "),
			Fix:    "remove them, or set the other variables of the feature they belong to (zoomtoken -h lists them)"})
	}
	return checks
}

// Run performs every check that applies to the configured features, in order.
func Run(ctx context.Context, d Deps) []Check {
	checks := []Check{{Name: "configuration", Status: Pass, Detail: "features on: " + strings.Join(d.Config.Features(), ", ")}}
	checks = append(checks, checkClock(ctx, d))
	offline := Offline(d.Config)
	if d.Zoom != nil {
		checks = append(checks, checkS2S(ctx, d)...)
	}
	checks = append(checks, offline...)
	if d.Config.Connections != nil && d.Connected != nil {
		checks = append(checks, checkConnected(ctx, d.Config.Connections, d.Connected)...)
		checks = append(checks, checkWebhooks(d.Config.WebhookSecretTokens))
		if d.Config.Events != nil {
			checks = append(checks, checkEventsURL(ctx, d.HTTPClient, d.Config.Events.URL))
		}
		if d.Config.RTMS != nil {
			checks = append(checks, checkRTMS(ctx, d.Config, d))
		}
	}
	return checks
}

// Print writes the checklist and reports whether any check failed.
func Print(w io.Writer, checks []Check) (failed int) {
	marks := map[Status]string{Pass: "ok  ", Warn: "warn", Fail: "FAIL", Skip: "skip"}
	for _, c := range checks {
		fmt.Fprintf(w, "[%s] %s: %s\n", marks[c.Status], c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "       fix: %s\n", c.Fix)
		}
		if c.Status == Fail {
			failed++
		}
	}
	fmt.Fprintf(w, "%s, %d failed\n", countOf(len(checks), "check"), failed)
	return failed
}

// countOf writes n things, singular for one.
func countOf(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// ConfigProblems turns configuration errors into failed checks, one per variable.
func ConfigProblems(err *config.Error) []Check {
	checks := make([]Check, len(err.Problems))
	for i, p := range err.Problems {
		if p.Variable == "" { // nothing is configured: say what could be
			var b strings.Builder
			b.WriteString("no feature is configured; each needs its variables:")
			for _, f := range config.StarterFeatures {
				fmt.Fprintf(&b, "\n         %s: %s", f.Feature, strings.Join(f.Variables, ", "))
			}
			checks[i] = Check{Name: "configuration", Status: Fail, Detail: b.String(),
				Fix: "cp .env.example .env and fill in one feature's variables (make demo shows every feature working first)"}
			continue
		}
		checks[i] = Check{Name: "configuration", Status: Fail, Detail: p.Variable + ": " + p.Reason,
			Fix: "set " + p.Variable + " as .env.example describes"}
	}
	return checks
}

// checkClock compares the local clock with the Date header of Zoom's OAuth host. A Meeting SDK
// signature whose iat is off by more than a few seconds is refused by the SDK ("Signature is
// invalid", 3712, or expired, 3705).
func checkClock(ctx context.Context, d Deps) Check {
	c := Check{Name: "clock"}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, d.Config.OAuthBaseURL+"/", nil)
	if err != nil {
		c.Status, c.Detail = Fail, "cannot build a request to ZOOM_OAUTH_BASE_URL"
		return c
	}
	sent := d.Now()
	resp, err := d.HTTPClient.Do(req)
	if err != nil {
		c.Status, c.Detail = Warn, "could not reach "+d.Config.OAuthBaseURL+" to read Zoom's clock"
		c.Fix = "check the network path to Zoom (and ZOOM_OAUTH_BASE_URL)"
		return c
	}
	resp.Body.Close()
	received := d.Now()
	zoomTime, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.Status, c.Detail = Warn, "Zoom's answer has no readable Date header"
		return c
	}
	local := sent.Add(received.Sub(sent) / 2)
	// The Date header has whole seconds, so up to a second of difference is rounding.
	skew := local.Truncate(time.Second).Sub(zoomTime)
	if skew.Abs() > maxClockSkew {
		c.Status = Fail
		c.Detail = fmt.Sprintf("the local clock is %s %s Zoom's", skew.Abs().Round(time.Second), aheadOrBehind(skew))
		c.Fix = "synchronise the clock (NTP, e.g. timedatectl set-ntp true); Meeting SDK signatures from a skewed clock fail with \"Signature is invalid\""
		return c
	}
	c.Status, c.Detail = Pass, fmt.Sprintf("within %s of Zoom's", maxClockSkew)
	return c
}

func aheadOrBehind(skew time.Duration) string {
	if skew > 0 {
		return "ahead of"
	}
	return "behind"
}

// checkSDKCredentials looks at the shape of the Meeting SDK key and secret and signs a token.
func checkSDKCredentials(sdk *config.MeetingSDK) []Check {
	shape := checkCredentialShape("Meeting SDK", "ZOOM_MEETING_SDK_KEY", "ZOOM_MEETING_SDK_SECRET", sdk.Key, sdk.Secret.Reveal())
	signer := sdkjwt.NewSigner(sdk.Key, []byte(sdk.Secret.Reveal()), time.Now)
	token, err := signer.Sign(sdkjwt.Request{ExpirationSeconds: sdkjwt.DefaultExpirationSeconds})
	return []Check{shape, checkTestSignature("Meeting SDK signature", token, err, sdk.Secret.Reveal())}
}

// checkVideoSDKCredentials does the same for the Video SDK app.
func checkVideoSDKCredentials(sdk *config.VideoSDK) []Check {
	shape := checkCredentialShape("Video SDK", "ZOOM_VIDEO_SDK_KEY", "ZOOM_VIDEO_SDK_SECRET", sdk.Key, sdk.Secret.Reveal())
	signer := sdkjwt.NewVideoSigner(sdk.Key, []byte(sdk.Secret.Reveal()), time.Now)
	token, err := signer.Sign(sdkjwt.VideoRequest{SessionName: "zoomtoken doctor", ExpirationSeconds: sdkjwt.DefaultExpirationSeconds})
	return []Check{shape, checkTestSignature("Video SDK signature", token, err, sdk.Secret.Reveal())}
}

// checkCredentialShape tells whether an SDK app's key and secret look like Zoom's: the SDK apps'
// credentials are letters, digits, - and _, the key at least 10 characters, the secret 16.
func checkCredentialShape(product, keyVar, secretVar, key, secret string) Check {
	shape := Check{Name: product + " credentials", Status: Pass, Detail: "key and secret look like Zoom's"}
	if key == secret {
		shape.Status, shape.Detail = Fail, keyVar+" and "+secretVar+" are the same value"
		shape.Fix = "copy the Client ID (or SDK Key) into the key and the Client Secret (or SDK Secret) into the secret"
		return shape
	}
	for _, v := range []struct {
		name, value string
		min         int
		what        string
	}{{keyVar, key, 10, "key"}, {secretVar, secret, 16, "secret"}} {
		if problem := credentialProblem(v.value, v.min); problem != "" {
			shape.Status, shape.Detail = Fail, v.name+" "+problem
			shape.Fix = "copy the " + v.what + " of the " + product + " app (App Credentials page) exactly, with nothing around it"
			return shape
		}
	}
	return shape
}

// credentialProblem says what is wrong with a credential of at least min characters from
// zoomCredential's alphabet, or "" when nothing is.
func credentialProblem(v string, min int) string {
	switch {
	case !zoomCredential.MatchString(v):
		return fmt.Sprintf("has %d characters, not all letters, digits, - or _ (a space or a quote pasted with it?)", len(v))
	case len(v) < min:
		return fmt.Sprintf("has %d characters; Zoom's have at least %d", len(v), min)
	}
	return ""
}

// checkTestSignature verifies a token just signed with the secret, as the SDK would.
func checkTestSignature(name, token string, signErr error, secret string) Check {
	c := Check{Name: name, Status: Pass, Detail: "a test signature verifies with the secret"}
	err := signErr
	if err == nil {
		_, err = jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	}
	if err != nil {
		c.Status, c.Detail = Fail, "a test signature does not verify"
	}
	return c
}

// checkS2S fetches a token (proving the credentials and the app type), then checks the scopes
// of every enabled route and, for /zak, that a ZAK can be minted.
func checkS2S(ctx context.Context, d Deps) []Check {
	token := Check{Name: "S2S access token"}
	scopes, err := d.Zoom.GrantedScopes(ctx)
	if err != nil {
		token.Status, token.Detail, token.Fix = Fail, zoomProblem(err), tokenFix(err)
		checks := []Check{token, skipped("S2S scopes", token.Name)}
		if d.Config.ZAKUser != "" {
			checks = append(checks, skipped("ZAK user", token.Name))
		}
		return checks
	}
	token.Status = Pass
	token.Detail = "fetched: the credentials are right and the app is a Server-to-Server OAuth app"
	checks := []Check{token, checkScopes(d.Config, scopes)}
	if d.Config.ZAKUser != "" {
		checks = append(checks, checkZAK(ctx, d))
	}
	return checks
}

// skipped is a check that could not run because the one named failed.
func skipped(name, failedCheck string) Check {
	return Check{Name: name, Status: Skip, Detail: "not checked: the " + failedCheck + " check failed"}
}

// checkScopes checks that the granted scopes cover every enabled route and says which
// join-token kinds they allow.
func checkScopes(cfg config.Config, granted []string) Check {
	c := Check{Name: "S2S scopes", Status: Pass}
	var missing, allowed, denied []string
	for i, k := range zoom.JoinTokenKinds() {
		switch {
		case slices.Contains(granted, k.Scope()):
			allowed = append(allowed, string(k))
		case i == 0:
			// The default kind: GET /join-token without type= needs it.
			missing = append(missing, k.Scope()+" (GET /join-token)")
		default:
			denied = append(denied, string(k)+" (needs "+k.Scope()+")")
		}
	}
	if cfg.ZAKUser != "" && !slices.Contains(granted, zoom.ScopeZAK) {
		missing = append(missing, zoom.ScopeZAK+" (GET /zak)")
	}
	kinds := "join tokens of type " + strings.Join(allowed, ", ")
	if len(allowed) == 0 {
		kinds = "no join tokens"
	}
	switch {
	case len(missing) > 0:
		c.Status, c.Detail = Fail, "missing "+strings.Join(missing, ", ")+"; the scopes allow "+kinds
		c.Fix = "add the scopes to the Server-to-Server OAuth app in the Zoom App Marketplace (Scopes page), then reactivate it"
	case len(denied) > 0:
		c.Status, c.Detail = Warn, "every enabled route is covered and the scopes allow "+kinds+
			"; type="+strings.Join(denied, ", type=")+" answers 502"
		c.Fix = "add those scopes if bots ask for those types"
	default:
		c.Detail = "every enabled route is covered and the scopes allow " + kinds
	}
	return c
}

func checkZAK(ctx context.Context, d Deps) Check {
	c := Check{Name: "ZAK user"}
	if _, err := d.Zoom.ZAK(ctx, d.Config.ZAKUser, d.Config.ZAKTTL); err != nil {
		c.Status, c.Detail = Fail, zoomProblem(err)
		if zoom.KindOf(err) == zoom.KindNotFound {
			c.Detail = "Zoom has no user " + d.Config.ZAKUser
			c.Fix = "set ZOOM_ZAK_USER to the user id or email of a user on the app's account"
		}
		return c
	}
	c.Status, c.Detail = Pass, "a ZAK was minted for "+d.Config.ZAKUser+" (not shown)"
	return c
}

// checkCallbackSecrets warns of a repeated secret (configuration refuses short ones already).
func checkCallbackSecrets(secrets []config.Secret) Check {
	c := Check{Name: "CALLBACK_SECRETS", Status: Pass, Detail: fmt.Sprintf("%d secret(s), each at least 16 characters", len(secrets))}
	seen := map[string]bool{}
	for i, s := range secrets {
		if seen[s.Reveal()] {
			c.Status, c.Detail = Warn, fmt.Sprintf("secret %d repeats an earlier one", i+1)
		}
		seen[s.Reveal()] = true
		if s.NeedsURLEscaping() {
			c.Status, c.Detail = Warn, fmt.Sprintf("secret %d has characters a URL changes (such as +, / or =)", i+1)
			c.Fix = config.URLSafetyAdvice
		}
	}
	return c
}

// minSigningKey is the shortest signing key Standard Webhooks recommends (Svix's are 24 bytes).
const minSigningKey = 24

// checkSigningSecrets checks that every CALLBACK_SIGNING_SECRETS entry is a whsec_ key the
// Standard Webhooks library takes, and long enough.
func checkSigningSecrets(secrets []config.Secret) Check {
	c := Check{Name: "CALLBACK_SIGNING_SECRETS", Status: Pass, Detail: fmt.Sprintf("%d signing secret(s), each a whsec_ key", len(secrets))}
	for i, s := range secrets {
		encoded, ok := strings.CutPrefix(s.Reveal(), "whsec_")
		key, err := base64.StdEncoding.DecodeString(encoded)
		_, libErr := standardwebhooks.NewWebhook(s.Reveal())
		switch {
		case !ok || err != nil || libErr != nil:
			c.Status, c.Detail = Fail, fmt.Sprintf("secret %d of %d is not whsec_ followed by base64", i+1, len(secrets))
			c.Fix = "copy the verification secret from the bot platform's dashboard exactly, whsec_ included"
			return c
		case len(key) < minSigningKey:
			c.Status, c.Detail = Warn, fmt.Sprintf("secret %d of %d is a %d-byte key: shorter than the %d bytes Standard Webhooks recommends", i+1, len(secrets), len(key), minSigningKey)
		}
	}
	return c
}

// zoomProblem says what Zoom answered, from the typed error (which never holds a token).
func zoomProblem(err error) string {
	var zerr *zoom.Error
	if !errors.As(err, &zerr) {
		return err.Error()
	}
	return zerr.Error()
}

func tokenFix(err error) string {
	var zerr *zoom.Error
	if !errors.As(err, &zerr) {
		return ""
	}
	switch {
	case zerr.OAuthError == "invalid_client":
		return "check ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET against the app's App Credentials page, and that the app is activated"
	case zerr.OAuthError == "unsupported_grant_type":
		return "the app is not a Server-to-Server OAuth app: create one (Develop → Build App → Server-to-Server OAuth)"
	case zerr.OAuthError == "invalid_request":
		return "check ZOOM_ACCOUNT_ID against the app's App Credentials page"
	case zerr.Kind == zoom.KindUnavailable:
		return "Zoom could not be reached: check the network and ZOOM_OAUTH_BASE_URL"
	}
	return "read Zoom's message above; the app's App Credentials page has the right values"
}

// checkReach reports who may get a connected account's tokens: with the default reach, only bot
// links; with CALLBACK_SECRETS_REACH=connected, any secret or signed request (a warning). Keys too
// short to sign links are refused by the configuration itself, and reported with its problems.
func checkReach(cfg config.Config) Check {
	c := Check{Name: "who reaches connected accounts", Status: Pass}
	links := "bot links are off (BOT_LINK_KEYS unset)"
	if n := len(cfg.BotLinkKeys); n > 0 {
		links = fmt.Sprintf("bot links signed with %d key(s) of at least %d characters", n, config.MinBotLinkKeyLength)
	}
	switch {
	case cfg.CallbackReach == config.ReachConnected && cfg.Connections != nil:
		c.Status = Warn
		c.Detail = "CALLBACK_SECRETS_REACH=connected: any ?secret= or signed request reaches every connected account; " + links
		c.Fix = "give each bot a bot link (BOT_LINK_KEYS, POST /admin/bot-links), then unset CALLBACK_SECRETS_REACH"
	case cfg.Connections != nil && len(cfg.BotLinkKeys) == 0:
		c.Status = Warn
		c.Detail = "?secret= and signed requests reach the operator's own account only, and " + links +
			": no bot can get a connected account's token"
		c.Fix = "set BOT_LINK_KEYS (openssl rand -hex 32) and mint a link per bot"
	default:
		c.Detail = "?secret= and signed requests reach the operator's own account only; " + links
	}
	return c
}
