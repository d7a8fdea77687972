package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheck probes /healthz on the local port, for container health checks in images with no
// shell or curl. It needs only PORT, so it works whatever else is configured.
func runHealthcheck(ctx context.Context, inv invocation) error {
	return healthcheck(ctx, inv.addr, inv.getenv("PORT"))
}

// healthcheck probes addr, or 127.0.0.1:port.
func healthcheck(ctx context.Context, addr, port string) error {
	if port == "" {
		port = "4000"
	}
	target := "127.0.0.1:" + port
	if addr != "" {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("healthcheck: -addr %q is not host:port", addr)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		target = net.JoinHostPort(host, p)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}
