// Package crowd runs one call as many callers at once, for tests of what a burst does to a cache,
// a refresh or a rate gate: the call says whether it went well, and Count says how many did.
package crowd

import (
	"sync"
	"sync/atomic"
)

// Count runs call n times concurrently, waits for every one, and returns how many returned true.
func Count(n int, call func() bool) int {
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if call() {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}
