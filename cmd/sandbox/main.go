// Command sandbox runs the upstream sandbox on its own, for pointing a server (or several) at
// one shared sandbox. It checks the same credentials the upstreams would, so it takes the same
// variables as the server: GOPAY_CLIENT_ID (default sandbox-client), GOPAY_CLIENT_SECRET,
// SNAP_CLIENT_KEY (default sandbox-snap-client), SNAP_CLIENT_SECRET, SNAP_PRIVATE_KEY_FILE (its
// public half verifies B2B requests), MIDTRANS_SERVER_KEY and CARD_CLIENT_ID. Point the server's
// GOPAY_BASE_URL, SNAP_BASE_URL and MIDTRANS_BASE_URL at it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

const usage = `Usage: sandbox

Plays GoPay, BI-SNAP, the Midtrans Core API and card registration for servers pointed at it,
checking the credentials each upstream would, and serves the demo mini app at /demo/.
Configured by environment variables (the same the server takes):

  SANDBOX_ADDR           listen address (default 127.0.0.1:8081)
  GOPAY_CLIENT_ID        GoPay Basic auth user (default sandbox-client)
  GOPAY_CLIENT_SECRET    GoPay Basic auth password (required)
  SNAP_CLIENT_KEY        BI-SNAP X-CLIENT-KEY (default sandbox-snap-client)
  SNAP_CLIENT_SECRET     BI-SNAP HMAC-SHA512 key of service-call signatures (required)
  SNAP_PRIVATE_KEY_FILE  PEM file whose public half verifies B2B token requests (required)
  MIDTRANS_SERVER_KEY    Core API server key (required)
  CARD_CLIENT_ID         X-CLIENT-KEY of Get OAuth Code, 32 characters (required)
  DEMO_API_URL           the server the demo calls (default http://127.0.0.1:8080); that server
                         must list this sandbox's origin in CORS_ALLOWED_ORIGINS

Point the server's GOPAY_BASE_URL, SNAP_BASE_URL, MIDTRANS_BASE_URL and CARD_BASE_URL here.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { _, _ = fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	addr := getenv("SANDBOX_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	opts := sandbox.Options{
		GoPayClientID: or(getenv("GOPAY_CLIENT_ID"), "sandbox-client"), GoPayClientSecret: getenv("GOPAY_CLIENT_SECRET"),
		SNAPClientKey: or(getenv("SNAP_CLIENT_KEY"), "sandbox-snap-client"), SNAPClientSecret: getenv("SNAP_CLIENT_SECRET"),
		MidtransServerKey: getenv("MIDTRANS_SERVER_KEY"), CardClientID: getenv("CARD_CLIENT_ID"),
		DemoAPIURL: getenv("DEMO_API_URL"),
	}
	for name, v := range map[string]string{"GOPAY_CLIENT_SECRET": opts.GoPayClientSecret, "SNAP_CLIENT_SECRET": opts.SNAPClientSecret,
		"MIDTRANS_SERVER_KEY": opts.MidtransServerKey, "SNAP_PRIVATE_KEY_FILE": getenv("SNAP_PRIVATE_KEY_FILE"),
		"CARD_CLIENT_ID": opts.CardClientID} {
		if v == "" {
			return fmt.Errorf("%s is required: the sandbox checks it as the upstream would (sandbox -help lists the variables)", name)
		}
	}
	pemBytes, err := os.ReadFile(getenv("SNAP_PRIVATE_KEY_FILE"))
	if err != nil {
		return err
	}
	key, err := snapsig.ParsePrivateKey(pemBytes)
	if err != nil {
		return err
	}
	opts.SNAPPublicKey = &key.PublicKey
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           sandbox.New(opts).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	fmt.Fprintf(stdout, "sandbox: http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
