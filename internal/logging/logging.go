// Package logging builds the service's zerolog logger and the writer under it, which batches
// log lines so a busy server makes one write system call per batch rather than one per request.
package logging

import (
	"io"
	"os"
	"sync"
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
		w = zerolog.ConsoleWriter{Out: bw, TimeFormat: time.RFC3339, NoColor: !isTerminal(out)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), bw.close, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// batchWriter buffers whole log lines (zerolog writes one line per call) and writes them out in
// batches. It never splits a line. Lines at warn level and above are written at once, with
// whatever is buffered before them, so a failure shows in the log without delay.
type batchWriter struct {
	mu     sync.Mutex
	buf    []byte
	out    io.Writer
	closed bool
	stop   chan struct{}
	once   sync.Once
	done   sync.WaitGroup
}

func newBatchWriter(out io.Writer) *batchWriter {
	bw := &batchWriter{out: out, buf: make([]byte, 0, flushSize), stop: make(chan struct{})}
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
	defer bw.mu.Unlock()
	bw.buf = append(bw.buf, p...)
	if bw.closed || len(bw.buf) >= flushSize || (level >= zerolog.WarnLevel && level <= zerolog.PanicLevel) {
		bw.flushLocked()
	}
	return len(p), nil
}

func (bw *batchWriter) flushLocked() {
	if len(bw.buf) > 0 {
		bw.out.Write(bw.buf)
		bw.buf = bw.buf[:0]
	}
}

func (bw *batchWriter) flush() {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	bw.flushLocked()
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
		defer bw.mu.Unlock()
		bw.closed = true
		bw.flushLocked()
	})
}
