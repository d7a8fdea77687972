package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zoomtoken/zoomtoken/internal/sdkjwt"
	"github.com/zoomtoken/zoomtoken/internal/sqlite/sqlitetest"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
	"github.com/zoomtoken/zoomtoken/internal/vend"
	"github.com/zoomtoken/zoomtoken/internal/zoom"
	"github.com/zoomtoken/zoomtoken/internal/zoomemu"
)

// BenchmarkSignatureHandler measures POST / and POST /video-sdk through the whole handler:
// routing, request id, access log (JSON, discarded), CORS, decoding, signing and the response.
func BenchmarkSignatureHandler(b *testing.B) {
	h := NewHandler(Deps{
		Logger:      zerolog.New(io.Discard),
		Signer:      sdkjwt.NewSigner("testKey", []byte("testSecretXyz"), time.Now),
		VideoSigner: sdkjwt.NewVideoSigner("testKey", []byte("testSecretXyz"), time.Now),
	})
	for _, route := range []struct{ name, path, body string }{
		{"POST /", "/", `{"meetingNumber":"123456789","role":0}`},
		{"POST /video-sdk", "/video-sdk", `{"role":1,"sessionName":"test-session"}`},
	} {
		b.Run(route.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, route.path, nil)
			req.Header.Set("Content-Type", "application/json")
			reader := strings.NewReader(route.body)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				reader.Reset(route.body)
				req.Body = io.NopCloser(reader)
				clear(w.header)
				w.status = 0
				h.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so the benchmark measures the
// handler rather than a recorder.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func (w *discardWriter) WriteHeader(status int) { w.status = status }

// BenchmarkBotRoutes measures the bot routes' own cost: each token route is timed through the
// whole handler and, next to it, as the bare client call to the emulator that it wraps. The
// difference between the two is what the service adds.
func BenchmarkBotRoutes(b *testing.B) {
	emu := zoomemu.New(zoomemu.Config{
		Apps:     []zoomemu.App{{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret"}},
		Users:    []zoomemu.User{{ID: "u-1", Email: botUser}},
		Meetings: []int64{85746065432},
	})
	upstream := httptest.NewServer(emu)
	b.Cleanup(upstream.Close)
	client := zoom.New(zoom.Config{AccountID: "acct", ClientID: "client", ClientSecret: "client-secret",
		OAuthBaseURL: upstream.URL, APIBaseURL: upstream.URL})
	h := NewHandler(Deps{Logger: zerolog.New(io.Discard), App: vend.App{S2S: client, ZAKUser: botUser}, CallbackSecrets: []string{botSecret}})
	ctx := context.Background()

	through := func(path string) func(*testing.B) {
		return func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				w.status = 0
				h.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		}
	}
	b.Run("zak/client only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.ZAK(ctx, botUser, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("zak/through the handler", through("/zak?secret="+botSecret))
	b.Run("join-token/client only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.JoinToken(ctx, 85746065432, zoom.LocalRecording, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("join-token/through the handler", through("/join-token?meeting_id="+botMeeting+"&secret="+botSecret))
}

// BenchmarkOBFToken is GET /obf-token of a connection with a warm access token, on SQLite,
// against the emulator over loopback: what the service adds to Zoom's own answer.
func BenchmarkOBFToken(b *testing.B) {
	f := newConnectedFixture(b, nil, "")
	if resp, _ := f.connect(b, "alice-id", "bench"); resp.StatusCode != http.StatusOK {
		b.Fatalf("connect: %d", resp.StatusCode)
	}
	url := f.srv.URL + "/obf-token?secret=" + botSecret + "&ref=bench"
	client := f.srv.Client()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkAttendeeCallback is one zoom_tokens callback that gets all four tokens (two OBF
// tokens, the host's join token, a ZAK) from connections with warm access tokens, on SQLite,
// against the emulator: over bare loopback, and with 20 ms added to each Zoom answer, where
// running the four calls at once should make it cost about one of them, not four.
func BenchmarkAttendeeCallback(b *testing.B) {
	f := attendeeFixture(b, sqlitetest.Open(b, sqlstore.Options{}))
	canonical := attendeeCallback(`{"team":{"a":[1,2.5],"z":"Zoë"},"zoomtoken_ref":["mobile","customer-42"],"zoomtoken_zak":"true"}`,
		"https://us02web.zoom.us/j/81112223333?pwd=x")
	body := asRequestsSends(canonical)
	signature := signAttendee(attendeeKey, canonical)
	client := f.srv.Client()
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run("zoom latency "+latency.String(), func(b *testing.B) {
			f.emu.SetLatency(latency)
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/callbacks/attendee", strings.NewReader(body))
				req.Header.Set("X-Webhook-Signature", signature)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strings.Count(string(got), "emu_") != 4 {
					b.Fatalf("%d %s", resp.StatusCode, got)
				}
			}
		})
	}
}
