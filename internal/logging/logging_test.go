package logging

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// countingWriter records each Write call, to tell batches from lines.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestInfoLinesAreBatchedAndFlushed(t *testing.T) {
	out := &countingWriter{}
	log, flush, err := New("info", "json", out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		log.Info().Int("i", i).Msg("request")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(out.snapshot()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	writes := out.snapshot()
	if len(writes) == 0 || len(writes) >= 100 {
		t.Fatalf("100 lines took %d writes, want a few batches", len(writes))
	}
	flush()
	all := strings.Join(out.snapshot(), "")
	if got := strings.Count(all, "\n"); got != 100 {
		t.Errorf("got %d lines after flush, want 100", got)
	}
	log.Info().Msg("after close")
	if last := out.snapshot(); !strings.Contains(last[len(last)-1], "after close") {
		t.Errorf("a line written after close was held back")
	}
}

func TestWarningsAreWrittenAtOnce(t *testing.T) {
	out := &countingWriter{}
	log, flush, err := New("debug", "json", out)
	if err != nil {
		t.Fatal(err)
	}
	defer flush()
	log.Debug().Msg("first")
	log.Warn().Msg("upstream failed")
	writes := out.snapshot()
	if len(writes) != 1 || !strings.Contains(writes[0], "first") || !strings.Contains(writes[0], "upstream failed") {
		t.Errorf("writes: %q, want one write holding both lines in order", writes)
	}
}

func TestLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log, flush, err := New("warn", "console", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Error().Msg("shown")
	flush()
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") || strings.HasPrefix(buf.String(), "{") {
		t.Errorf("console output at warn: %q", buf.String())
	}
	if _, _, err := New("loud", "json", &buf); err == nil {
		t.Error("an unknown level was accepted")
	}
}

func TestConsoleFormatHasNoColourOutsideATerminal(t *testing.T) {
	var out bytes.Buffer
	logger, flush, err := New("info", "console", &out)
	if err != nil {
		t.Fatal(err)
	}
	logger.Warn().Str("k", "v").Msg("hello")
	flush()
	if !strings.Contains(out.String(), "hello") || strings.Contains(out.String(), "\x1b[") {
		t.Errorf("console line %q", out.String())
	}
}

// stuckWriter is a stdout that takes its time: each Write waits until release is closed.
type stuckWriter struct {
	countingWriter
	entered chan struct{}
	release chan struct{}
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.countingWriter.Write(p)
}

func TestLoggingGoesOnWhileABatchIsWritten(t *testing.T) {
	out := &stuckWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	log, flush, err := New("info", "json", out)
	if err != nil {
		t.Fatal(err)
	}
	go log.Warn().Msg("line 0") // written at once: stuck in Write until released
	<-out.entered
	logged := make(chan struct{})
	go func() {
		for i := 1; i <= 50; i++ {
			log.Info().Msgf("line %d", i)
		}
		close(logged)
	}()
	select {
	case <-logged:
	case <-time.After(5 * time.Second):
		t.Fatal("info lines waited for a slow stdout")
	}
	close(out.release)
	flush()
	all := strings.Join(out.snapshot(), "")
	for i := 0; i <= 50; i++ {
		at := strings.Index(all, fmt.Sprintf(`"line %d"`, i))
		if at < 0 {
			t.Fatalf("line %d is missing", i)
		}
		if next := strings.Index(all, fmt.Sprintf(`"line %d"`, i+1)); i < 50 && next < at {
			t.Fatalf("line %d came out before line %d", i+1, i)
		}
	}
}

func TestLinesAreStampedToTheSecond(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 20, 5, 100, time.FixedZone("CET", 3600))
	clock := &secondClock{now: func() time.Time { return at }}
	var out bytes.Buffer
	log := zerolog.New(&out).Hook(clock)
	var reference bytes.Buffer
	zerolog.TimestampFunc = func() time.Time { return at }
	defer func() { zerolog.TimestampFunc = time.Now }()
	withTimestamp := zerolog.New(&reference).With().Timestamp().Logger()
	withTimestamp.Info().Msg("x")

	log.Info().Msg("x")
	if out.String() != reference.String() {
		t.Errorf("got %s, zerolog's own Timestamp writes %s", out.String(), reference.String())
	}
	at = at.Add(800 * time.Millisecond) // the same second: the same text
	log.Info().Msg("x")
	at = at.Add(200 * time.Millisecond) // the next one
	log.Info().Msg("x")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[1] != lines[0] || !strings.Contains(lines[2], `"time":"2026-12-02T13:20:06+01:00"`) {
		t.Errorf("lines: %q", lines)
	}
}

// In a terminal, durations carry their unit and empty fields are left out.
func TestConsoleLinesAreForPeople(t *testing.T) {
	var out bytes.Buffer
	logger, flush, err := New("info", "console", &out)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info().Dur("duration", 214386*time.Microsecond).Dur("retry_in", time.Second).Str("zoom_tracking_id", "").Msg("request")
	flush()
	line := out.String()
	if !strings.Contains(line, "duration=214.386ms") || !strings.Contains(line, "retry_in=1s") || strings.Contains(line, "zoom_tracking_id") {
		t.Errorf("got %q", line)
	}
}
