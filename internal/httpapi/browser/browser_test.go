package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/connectlink"
	"github.com/zoomtoken/zoomtoken/internal/httpapi"
	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/vend/vendtest"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

const (
	sdkKey    = "browserKey"
	sdkSecret = "browser-test-secret"
)

// page is what a front-end developer writes: fetch calls to the service from another origin.
// Each function answers {status, body}, or {error} when the browser refused to hand over the
// answer (which is what a CORS failure looks like from the page).
const page = `<!doctype html>
<meta charset="utf-8">
<title>zoomtoken browser test</title>
<script>
async function call(init, path = "") {
  try {
    const r = await fetch(window.service + path, init);
    return {status: r.status, body: await r.text()};
  } catch (e) {
    return {error: String(e)};
  }
}
// A JSON request with a Content-Type header: the browser sends a preflight first.
function jsonRequest() {
  return call({method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({meetingNumber: "123456789", role: 0})});
}
// A string body and no headers: the browser sends it as text/plain, with no preflight.
function plainRequest() {
  return call({method: "POST", body: JSON.stringify({meetingNumber: 987654321, role: 1})});
}
// A request that fails validation: the page must still be able to read the 400.
function badRequest() {
  return call({method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({meetingNumber: "12a", role: 7})});
}
// A Video SDK signature, as a Video SDK web app asks for one.
function videoRequest() {
  return call({method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({role: 1, sessionName: "browser session", userIdentity: "u1"})}, "video-sdk");
}
</script>`

// recorder notes every request the service saw: method and status.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.seen = append(rec.seen, fmt.Sprintf("%s %d", r.Method, sw.status))
		rec.mu.Unlock()
	})
}

func (rec *recorder) saw(entry string) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Contains(rec.seen, entry)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// browser starts headless Chromium, or skips the test when none is installed. In CI (CI set)
// a missing browser fails instead: the CI script installs one, so this test always runs there.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser test (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (Debian: apt-get install chromium); skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// fixture serves the page from one loopback origin and the service from another.
func fixture(t *testing.T, allowedOrigins func(pageOrigin string) []string) (pageURL, serviceURL string, rec *recorder) {
	t.Helper()
	pageSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	t.Cleanup(pageSrv.Close)

	rec = &recorder{}
	handler := httpapi.NewHandler(httpapi.Deps{
		Logger:             zerolog.New(io.Discard),
		Signer:             sdkjwt.NewSigner(sdkKey, []byte(sdkSecret), time.Now),
		VideoSigner:        sdkjwt.NewVideoSigner(sdkKey, []byte(sdkSecret), time.Now),
		CORSAllowedOrigins: allowedOrigins(pageSrv.URL),
	})
	svc := httptest.NewServer(rec.wrap(handler))
	t.Cleanup(svc.Close)
	// Both listen on 127.0.0.1: the origins differ by port, which is enough to make every call
	// cross-origin.
	return pageSrv.URL, svc.URL + "/", rec
}

type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

// inPage opens the page, points it at the service and runs one of its functions.
func inPage(t *testing.T, ctx context.Context, pageURL, serviceURL, function string) answer {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("opening the page: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("window.service = %q", serviceURL))); err != nil {
		t.Fatalf("pointing the page at the service: %v", err)
	}
	a, err := chromedp.Run(ctx, chromedp.Evaluate[answer](function+"()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s in the browser: %v", function, err)
	}
	return a
}

// claims verifies the signature in a 200 body and returns its claims.
func claims(t *testing.T, body string) jwt.MapClaims {
	t.Helper()
	var resp struct{ Signature, SDKKey string }
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.SDKKey != sdkKey {
		t.Fatalf("body %q: %v", body, err)
	}
	c := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(resp.Signature, c, func(*jwt.Token) (any, error) { return []byte(sdkSecret), nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	return c
}

func TestFrontEndCallsFromAnotherOrigin(t *testing.T) {
	ctx := browser(t)
	pageURL, serviceURL, rec := fixture(t, func(string) []string { return nil }) // any origin

	t.Run("JSON with a preflight", func(t *testing.T) {
		a := inPage(t, ctx, pageURL, serviceURL, "jsonRequest")
		if a.Error != "" || a.Status != 200 {
			t.Fatalf("got %+v, want 200", a)
		}
		if c := claims(t, a.Body); c["mn"] != "123456789" || c["role"] != float64(0) {
			t.Errorf("claims: %v", c)
		}
		if !rec.saw("OPTIONS 204") {
			t.Errorf("the service saw no preflight: %v", rec.seen)
		}
	})
	t.Run("string body without headers is text/plain and still a web token", func(t *testing.T) {
		a := inPage(t, ctx, pageURL, serviceURL, "plainRequest")
		if a.Error != "" || a.Status != 200 {
			t.Fatalf("got %+v, want 200", a)
		}
		if c := claims(t, a.Body); c["mn"] != float64(987654321) || c["role"] != float64(1) {
			t.Errorf("claims: %v, want a web token for meeting 987654321", c)
		}
	})
	t.Run("a Video SDK token", func(t *testing.T) {
		a := inPage(t, ctx, pageURL, serviceURL, "videoRequest")
		if a.Error != "" || a.Status != 200 {
			t.Fatalf("got %+v, want 200", a)
		}
		var resp struct{ Signature string }
		if err := json.Unmarshal([]byte(a.Body), &resp); err != nil {
			t.Fatalf("body %q: %v", a.Body, err)
		}
		c := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(resp.Signature, c, func(*jwt.Token) (any, error) { return []byte(sdkSecret), nil },
			jwt.WithValidMethods([]string{"HS256"})); err != nil {
			t.Fatalf("the signature does not verify: %v", err)
		}
		if c["tpc"] != "browser session" || c["role_type"] != float64(1) || c["user_identity"] != "u1" || c["app_key"] != sdkKey {
			t.Errorf("claims: %v", c)
		}
	})
	t.Run("a 400 is readable by the page", func(t *testing.T) {
		a := inPage(t, ctx, pageURL, serviceURL, "badRequest")
		if a.Error != "" || a.Status != 400 {
			t.Fatalf("got %+v, want a readable 400", a)
		}
		var e sdkjwt.ValidationError
		if err := json.Unmarshal([]byte(a.Body), &e); err != nil || len(e.Errors) != 2 ||
			e.Errors[0].Property != "meetingNumber" || e.Errors[1].Property != "role" {
			t.Errorf("error body %q: %v", a.Body, err)
		}
	})
}

func TestFrontEndFromAnOriginNotAllowed(t *testing.T) {
	ctx := browser(t)
	pageURL, serviceURL, rec := fixture(t, func(string) []string { return []string{"https://app.example.com"} })
	a := inPage(t, ctx, pageURL, serviceURL, "jsonRequest")
	if a.Error == "" {
		t.Errorf("the page read an answer (%+v); want fetch to fail", a)
	}
	if !rec.saw("OPTIONS 403") {
		t.Errorf("the service did not answer 403: %v", rec.seen)
	}
	a = inPage(t, ctx, pageURL, serviceURL, "plainRequest") // no preflight: the POST itself is refused
	if a.Error == "" || !rec.saw("POST 403") {
		t.Errorf("got %+v, service saw %v; want a failed fetch and a 403", a, rec.seen)
	}
}

// TestConnectAccountInABrowser walks the connect flow as a person does: open the connect link,
// click Allow on (the emulator's) Zoom consent page, and land on the confirmation page.
func TestConnectAccountInABrowser(t *testing.T) {
	ctx := browser(t)
	var handler atomic.Pointer[http.Handler]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	emu := zoomemu.New(zoomemu.Config{
		OAuthApp: &zoomemu.OAuthApp{ClientID: "oauth-client", ClientSecret: "oauth-secret", RedirectURI: front.URL + "/oauth/callback"},
		Users:    []zoomemu.User{{ID: "alice-id", Email: "alice@example.com", AccountID: "acct"}},
	})
	upstream := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); upstream.Close() })
	store := sqlitetest.Open(t, sqlstore.Options{}).Connections()
	accounts := vendtest.Connected(t, store, upstream.URL, front.URL+"/oauth/callback", vendtest.Config{})
	key, ring := accounts.Key, accounts.Ring
	links := connectlink.NewSigner(front.URL, [][]byte{key}, time.Now)
	h := httpapi.NewHandler(httpapi.Deps{
		Logger:      zerolog.New(io.Discard),
		App:         vend.App{Connected: accounts.Connected},
		ConnectFlow: &httpapi.ConnectFlow{Links: links, Cookies: ring, Now: time.Now},
	})
	handler.Store(&h)

	link, _ := links.Mint("from-the-browser", time.Hour)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
	); err != nil {
		t.Fatalf("the connect flow in the browser: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main h1")))
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Your Zoom account is connected" || !strings.Contains(text, "alice@example.com") {
		t.Errorf("the page says %q: %q", heading, text)
	}
	c, err := store.FindByRef(context.Background(), "from-the-browser")
	if err != nil || c.ZoomUserID != "alice-id" {
		t.Errorf("stored: %+v %v", c.Fields(), err)
	}
}
