// Package logging builds the service's zerolog logger and the writer under it, which batches
// log lines so a busy server makes one write system call per batch rather than one per request.
package logging

import (
	"encoding/json"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Batch limits: a batch is written when it reaches flushSize bytes, and at the latest
// flushInterval after its first line.
const (
	flushSize     = 32 << 10
	flushInterval = 50 * time.Millisecond
)

// New returns a logger at level ("debug", "info", "warn", "error") in format ("json" or
// "console") writing to out, and a function that writes out what is buffered and stops the
// background flusher; call it before the process exits.
func New(level, format string, out io.Writer) (zerolog.Logger, func(), error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, nil, err
	}
	bw := newBatchWriter(out)
	var w io.Writer = bw
	if format == "console" {
		// Colour codes only for a person at a terminal, not in a file or a platform's log view.
		w = zerolog.ConsoleWriter{Out: bw, TimeFormat: time.RFC3339, NoColor: !isTerminal(out), FormatPrepare: readableForPeople}
	}
	return zerolog.New(w).Level(lvl).Hook(&secondClock{now: time.Now}), bw.close, nil
}

// durationFields are the fields the service logs with zerolog's Dur: numbers of milliseconds in
// JSON, for machines.
var durationFields = []string{"duration", "retry_in", "zoom_retry_after", "timeout", "delay"}

// readableForPeople prepares a console line for a person: durations with their unit (214ms,
// 1.5s), and no field left empty (an unset Zoom tracking id says nothing).
func readableForPeople(fields map[string]any) error {
	for _, name := range durationFields {
		n, ok := fields[name].(json.Number) // the console writer reads numbers as json.Number
		if ms, err := n.Float64(); ok && err == nil {
			fields[name] = time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
		}
	}
	for name, v := range fields {
		if v == "" || v == nil {
			delete(fields, name)
		}
	}
	return nil
}

// secondClock stamps each line with the time as zerolog's Timestamp does (the "time" field,
// RFC 3339, to the second), but formats it once a second rather than once a line: every request
// writes a line, and the formatting was a third of that line's cost.
type secondClock struct {
	now  func() time.Time
	last atomic.Pointer[stamp]
}

type stamp struct {
	unix int64
	text string
}

// Run implements zerolog.Hook.
func (c *secondClock) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	t := c.now()
	s := c.last.Load()
	if s == nil || s.unix != t.Unix() {
		s = &stamp{unix: t.Unix(), text: t.Format(time.RFC3339)}
		c.last.Store(s)
	}
	e.Str(zerolog.TimestampFieldName, s.text)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// batchWriter buffers whole log lines (zerolog writes one line per call) and writes them out in
// batches. It never splits a line. Lines at warn level and above are written at once, with
// whatever is buffered before them, so a failure shows in the log without delay.
type batchWriter struct {
	mu     sync.Mutex // guards buf and closed
	buf    []byte
	closed bool

	// writing is held while a batch is written, and mu is not, so request handlers keep
	// buffering lines while a slow stdout takes one; it also keeps the batches in order.
	writing sync.Mutex
	spare   []byte // the buffer that takes over from buf, guarded by writing

	out  io.Writer
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
}

func newBatchWriter(out io.Writer) *batchWriter {
	bw := &batchWriter{out: out, buf: make([]byte, 0, flushSize), spare: make([]byte, 0, flushSize), stop: make(chan struct{})}
	bw.done.Go(bw.flushPeriodically)
	return bw
}

// Write implements io.Writer.
func (bw *batchWriter) Write(p []byte) (int, error) {
	return bw.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel implements zerolog.LevelWriter.
func (bw *batchWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	bw.mu.Lock()
	bw.buf = append(bw.buf, p...)
	now := bw.closed || len(bw.buf) >= flushSize || (level >= zerolog.WarnLevel && level <= zerolog.PanicLevel)
	bw.mu.Unlock()
	if now {
		bw.flush()
	}
	return len(p), nil
}

// flush writes out what is buffered.
func (bw *batchWriter) flush() {
	bw.writing.Lock()
	defer bw.writing.Unlock()
	bw.mu.Lock()
	batch := bw.buf
	bw.buf = bw.spare[:0]
	bw.mu.Unlock()
	if len(batch) > 0 {
		bw.out.Write(batch)
	}
	bw.spare = batch
}

func (bw *batchWriter) flushPeriodically() {
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			bw.flush()
		case <-bw.stop:
			return
		}
	}
}

// close stops the flusher and writes out what is left. Lines written afterwards go straight
// through, so nothing logged late in shutdown is lost.
func (bw *batchWriter) close() {
	bw.once.Do(func() {
		close(bw.stop)
		bw.done.Wait()
		bw.mu.Lock()
		bw.closed = true
		bw.mu.Unlock()
		bw.flush()
	})
}
