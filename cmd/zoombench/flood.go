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
	maxRSS := flags.Int64("max-rss-mb", 0, "fail when zoomtoken's peak resident memory passes this many MiB (a container's limit); 0: no check")
	slowBodies := flags.Bool("slow-bodies", false, "each connection posts a 1 MiB webhook body slowly (4 KiB every 200 ms, for 5 s) instead of idling")
	if err := flags.Parse(args); err != nil {
		return err
	}
	env := []string{"ZOOM_MEETING_SDK_KEY=benchKey", "ZOOM_MEETING_SDK_SECRET=bench-sdk-secret", "LOG_LEVEL=info",
		"MAX_CONNECTIONS=" + *limit, "ZOOM_WEBHOOK_SECRET_TOKENS=bench-webhook-secret-token"}
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
	parallel := 200
	if *slowBodies {
		parallel = *n // every slow body at once
	}
	sem := make(chan struct{}, parallel)
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
			if *slowBodies {
				// A stranger's webhook body, 1 MiB announced and sent slowly: held, never finished.
				fmt.Fprintf(c, "POST /webhooks/zoom HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<20)
				chunk := make([]byte, 4<<10)
				for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
					if _, err := c.Write(chunk); err != nil {
						break
					}
				}
				served.Add(1)
				held.Store(c, true)
				return
			}
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
	what := "connections opened and held"
	if *slowBodies {
		what = "connections posting 1 MiB webhook bodies slowly"
	}
	fmt.Fprintf(stdout, "\nconnection flood: %d "+what+": %d served; zoomtoken resident memory %d MB (peak %d MB); "+
		"/healthz on a new connection every 100 ms meanwhile: %d answered, %d failed, p99 %s, worst %s\n",
		*n, served.Load(), rss>>20, peak>>20, len(latencies), failed.Load(), ms(p99), ms(worst))
	if *maxRSS > 0 && peak>>20 >= *maxRSS {
		return fmt.Errorf("zoomtoken's peak resident memory, %d MiB, passed the %d MiB limit", peak>>20, *maxRSS)
	}
	return nil
}
