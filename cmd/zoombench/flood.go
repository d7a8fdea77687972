package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// runFlood holds many connections open against the service and reports its memory, and how
// fast /healthz answers a new connection throughout.
func runFlood(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("zoombench flood", flag.ContinueOnError)
	bin := flags.String("bin", "bin", "folder with the zoomtoken binary")
	n := flags.Int("connections", 10000, "connections to open and hold")
	limit := flags.String("max-connections", "", "MAX_CONNECTIONS for the service (empty: its default)")
	memLimit := flags.String("gomemlimit", "", "GOMEMLIMIT for the service, as a container's limit would set it (48MiB for 64 MiB); empty: none")
	if err := flags.Parse(args); err != nil {
		return err
	}
	env := []string{"ZOOM_MEETING_SDK_KEY=benchKey", "ZOOM_MEETING_SDK_SECRET=bench-sdk-secret", "LOG_LEVEL=info",
		"MAX_CONNECTIONS=" + *limit}
	if *memLimit != "" {
		env = append(env, "GOMEMLIMIT="+*memLimit)
	}
	svc, addr, err := startLine(ctx, *bin+"/zoomtoken", env, addrLine, "-addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer stop(svc)

	// Probe /healthz on a fresh connection every 100 ms while the flood runs.
	probe := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	var failed atomic.Int32
	stopProbe := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stopProbe:
				return
			case <-time.After(100 * time.Millisecond):
			}
			began := time.Now()
			resp, err := probe.Get("http://" + addr + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				continue
			}
			resp.Body.Close()
			latencies = append(latencies, time.Since(began))
		}
	}()

	var held sync.Map
	var served atomic.Int32
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	for range *n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				served.Add(1)
			}
			held.Store(c, true) // kept open, idle, until the end
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	rss, peak := memory(svc.Process.Pid)
	close(stopProbe)
	<-probed
	held.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	var worst, p99 time.Duration
	if len(latencies) > 0 {
		worst, p99 = latencies[len(latencies)-1], latencies[len(latencies)*99/100]
	}
	fmt.Fprintf(stdout, "\nconnection flood: %d connections opened and held: %d served; zoomtoken resident memory %d MB (peak %d MB); "+
		"/healthz on a new connection every 100 ms meanwhile: %d answered, %d failed, p99 %s, worst %s\n",
		*n, served.Load(), rss>>20, peak>>20, len(latencies), failed.Load(), ms(p99), ms(worst))
	return nil
}
