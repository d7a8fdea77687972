// Package logtest collects what a logger writes, for tests that read the log lines of code
// logging from several goroutines at once.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer that is safe to write and read concurrently.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
