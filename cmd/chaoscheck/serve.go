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
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Browse the runs of the store and their reports over HTTP (read-only)",
		Long: `Serve the store read-only: an index of the runs (newest first, with their
verdicts) and each run's files, report.html included (generated on the fly
when missing). Listens on 127.0.0.1:8080 unless --addr says otherwise;
Ctrl-C stops it.`,
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
			return serve(ctx, cmd, storeRoot, addr, host)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&storeRoot, "store", "store", "store directory")
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, host:port (localhost only unless told otherwise)")
	return cmd
}

// serve runs the server until ctx ends, then shuts it down gracefully
// within serveShutdownTimeout.
func serve(ctx context.Context, cmd *cobra.Command, storeRoot, addr, host string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return couldNotRun(fmt.Errorf("listen on %s: %w", addr, err))
	}
	srv := &http.Server{
		Handler:           reports.NewServer(storeRoot),
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
