package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/reports"
)

// Bounds of the HTTP server of `chaoscheck serve`.
const (
	serveShutdownTimeout = 5 * time.Second
	serveReadTimeout     = 30 * time.Second
	// serveWriteTimeout leaves time to generate a missing report of a
	// large history.
	serveWriteTimeout = 5 * time.Minute
	serveIdleTimeout  = 2 * time.Minute
)

// newServeCmd is `chaoscheck serve`.
func newServeCmd() *cobra.Command {
	var storeRoot, addr string
	var allowHosts []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Browse the runs of the store and their reports over HTTP (read-only)",
		Long: `Serve the store read-only: an index of the runs (newest first, with their
verdicts) and each run's files, report.html included (generated on the fly
when missing). Listens on 127.0.0.1:8080 unless --addr says otherwise;
Ctrl-C stops it.

Only the index and the files of run directories are served. Requests must
name, in their Host header, localhost, a loopback address, the address of
--addr (any address of this machine when --addr listens on all of them)
or a name given with --allow-host; others get 421 (this is what keeps a
DNS-rebinding web page from reading the store through a local browser).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := os.Stat(storeRoot)
			if err != nil || !st.IsDir() {
				return badInput(fmt.Errorf("store %s is not a directory (run chaoscheck test first, or name it with --store)", storeRoot))
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return badInput(fmt.Errorf("--addr %q: %w", addr, err))
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			hosts, err := boundHosts(host)
			if err != nil {
				return couldNotRun(err)
			}
			return serve(ctx, cmd, storeRoot, addr, host, append(hosts, allowHosts...))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&storeRoot, "store", "store", "store directory")
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, host:port (localhost only unless told otherwise)")
	fl.StringSliceVar(&allowHosts, "allow-host", nil, "host names accepted in requests besides localhost and the listen address (e.g. this machine's DNS name)")
	return cmd
}

// boundHosts are the Host names a server listening on host answers to,
// besides the loopback ones: host itself, or, when host is empty or an
// unspecified address (all interfaces), every address of this machine.
func boundHosts(host string) ([]string, error) {
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		return []string{host}, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this machine's addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP.String())
		}
	}
	return out, nil
}

// serve runs the server until ctx ends, then shuts it down gracefully
// within serveShutdownTimeout.
func serve(ctx context.Context, cmd *cobra.Command, storeRoot, addr, host string, hosts []string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return couldNotRun(fmt.Errorf("listen on %s: %w", addr, err))
	}
	srv := &http.Server{
		Handler:           reports.NewServer(storeRoot, reports.AllowHosts(hosts...)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	out := cmd.OutOrStdout()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: listening on %s: anyone who can reach it can read the store\n", ln.Addr())
	}
	fmt.Fprintf(out, "serving %s at http://%s/ (Ctrl-C to stop)\n", storeRoot, ln.Addr())

	select {
	case err := <-errc:
		return couldNotRun(fmt.Errorf("serve: %w", err))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running past the bound are cut off.
		_ = srv.Close()
	}
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return couldNotRun(fmt.Errorf("serve: %w", err))
		}
	case <-time.After(serveShutdownTimeout):
	}
	fmt.Fprintln(out, "stopped")
	return nil
}
