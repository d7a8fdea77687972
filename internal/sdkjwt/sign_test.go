package sdkjwt

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testKey    = "testKey"
	testSecret = "testSecretXyz"
)

func fixedClock() time.Time { return time.Unix(1700000000, 0) }

func newTestSigner() *Signer { return NewSigner(testKey, []byte(testSecret), fixedClock) }

// The reference vectors of ZOOM.md, produced by Zoom's Node sample with the clock at 1700000000.
func TestSignMatchesReferenceVectors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"web token, string meeting number", `{"meetingNumber":"123456789","role":0}`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBLZXkiOiJ0ZXN0S2V5Iiwic2RrS2V5IjoidGVzdEtleSIsIm1uIjoiMTIzNDU2Nzg5Iiwicm9sZSI6MCwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDcyMDAsInRva2VuRXhwIjoxNzAwMDA3MjAwfQ.HpT2Huq-ahtx4XJqQcJC5Pk4t0tj8t99_iG9ZV08Vx0"},
		{"native token", `{}`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBLZXkiOiJ0ZXN0S2V5Iiwic2RrS2V5IjoidGVzdEtleSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDA3MjAwLCJ0b2tlbkV4cCI6MTcwMDAwNzIwMH0.odOCivh_9cvY2pgxyDuOk7pADxC0q1CkF1JhAejb4tY"},
		{"web token, numeric meeting number", `{"meetingNumber":123456789,"role":1}`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBLZXkiOiJ0ZXN0S2V5Iiwic2RrS2V5IjoidGVzdEtleSIsIm1uIjoxMjM0NTY3ODksInJvbGUiOjEsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDA3MjAwLCJ0b2tlbkV4cCI6MTcwMDAwNzIwMH0.0HZ2jX9Fp82E6jaltgm4p11qI2JebwIFikZH0J4nDUk"},
		{"empty body is the empty object", ``,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBLZXkiOiJ0ZXN0S2V5Iiwic2RrS2V5IjoidGVzdEtleSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDA3MjAwLCJ0b2tlbkV4cCI6MTcwMDAwNzIwMH0.odOCivh_9cvY2pgxyDuOk7pADxC0q1CkF1JhAejb4tY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := newTestSigner().Sign(req)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// payload returns the decoded JSON payload of a JWT.
func payload(tb testing.TB, token string) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestSignPayload(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"key order with every claim", `{"videoWebRtcMode":"1","expirationSeconds":"1800","role":"1","meetingNumber":"0012"}`,
			`{"appKey":"testKey","sdkKey":"testKey","mn":"0012","role":1,"iat":1700000000,"exp":1700001800,"tokenExp":1700001800,"video_webrtc_mode":1}`},
		{"numeric meeting number is canonical", `{"meetingNumber":1.2345e4,"role":0,"videoWebRtcMode":0}`,
			`{"appKey":"testKey","sdkKey":"testKey","mn":12345,"role":0,"iat":1700000000,"exp":1700007200,"tokenExp":1700007200,"video_webrtc_mode":0}`},
		{"native token with lifetime", `{"expirationSeconds":172800}`,
			`{"appKey":"testKey","sdkKey":"testKey","iat":1700000000,"exp":1700172800,"tokenExp":1700172800}`},
		{"unknown and differently cased fields are ignored", `{"Role":1,"MEETINGNUMBER":"1","extra":{"a":[1]}}`,
			`{"appKey":"testKey","sdkKey":"testKey","iat":1700000000,"exp":1700007200,"tokenExp":1700007200}`},
		{"a repeated key takes its last value", `{"meetingNumber":"1","role":1,"role":0}`,
			`{"appKey":"testKey","sdkKey":"testKey","mn":"1","role":0,"iat":1700000000,"exp":1700007200,"tokenExp":1700007200}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			token, err := newTestSigner().Sign(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := payload(t, token); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSignVerifiesWithRawSecret(t *testing.T) {
	// A secret made only of hex digits is used as raw bytes, never hex-decoded.
	const hexSecret = "abcdef0123456789"
	signer := NewSigner(testKey, []byte(hexSecret), time.Now)
	token, err := signer.Sign(Request{ExpirationSeconds: DefaultExpirationSeconds})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(hexSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify with the raw secret: %v", err)
	}
}

// Sign builds the token itself; it must be exactly what golang-jwt's SignedString makes of the
// same claims.
func TestSignEqualsGolangJWT(t *testing.T) {
	signer := newTestSigner()
	for _, body := range []string{`{}`, `{"meetingNumber":"123456789","role":0}`, `{"meetingNumber":42,"role":"1","expirationSeconds":1800,"videoWebRtcMode":1}`} {
		req, err := Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := signer.Sign(req)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, signer.Claims(req)).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s:\ngot  %s\nwant %s", body, got, want)
		}
	}
}

func TestAppendJSStringMatchesJSONStringify(t *testing.T) {
	// Expected outputs are what JavaScript's JSON.stringify returns for the same strings.
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"<&>", `"<&>"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"\u2028é", "\"\u2028é\""},
	}
	for _, tt := range tests {
		if got := string(appendJSString(nil, tt.in)); got != tt.want {
			t.Errorf("appendJSString(%q): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	signer := newTestSigner()
	req, err := Decode([]byte(`{"meetingNumber":"123456789","role":0}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signer.Sign(req); err != nil {
			b.Fatal(err)
		}
	}
}

// One Signer serves every request; its prepared HMAC state must survive concurrent use.
func TestSignConcurrently(t *testing.T) {
	signer := newTestSigner()
	req, _ := Decode([]byte(`{"meetingNumber":"123456789","role":0}`))
	want, _ := signer.Sign(req)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got, _ := signer.Sign(req); got != want {
					t.Errorf("got %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
