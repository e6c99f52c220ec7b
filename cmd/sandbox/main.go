// Command sandbox runs the upstream sandbox on its own, for pointing a server (or several) at
// one shared sandbox. It checks the same credentials the upstreams would, so it takes the same
// variables as the server: GOPAY_CLIENT_ID (default sandbox-client), GOPAY_CLIENT_SECRET,
// SNAP_CLIENT_KEY (default sandbox-snap-client), SNAP_CLIENT_SECRET, SNAP_PRIVATE_KEY_FILE (its
// public half verifies B2B requests), MIDTRANS_SERVER_KEY and CARD_CLIENT_ID. Point the server's
// GOPAY_BASE_URL, SNAP_BASE_URL and MIDTRANS_BASE_URL at it.
package main

import (
	"context"
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
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := getenv("SANDBOX_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	opts := sandbox.Options{
		GoPayClientID: or(getenv("GOPAY_CLIENT_ID"), "sandbox-client"), GoPayClientSecret: getenv("GOPAY_CLIENT_SECRET"),
		SNAPClientKey: or(getenv("SNAP_CLIENT_KEY"), "sandbox-snap-client"), SNAPClientSecret: getenv("SNAP_CLIENT_SECRET"),
		MidtransServerKey: getenv("MIDTRANS_SERVER_KEY"), CardClientID: getenv("CARD_CLIENT_ID"),
	}
	for name, v := range map[string]string{"GOPAY_CLIENT_SECRET": opts.GoPayClientSecret, "SNAP_CLIENT_SECRET": opts.SNAPClientSecret,
		"MIDTRANS_SERVER_KEY": opts.MidtransServerKey, "SNAP_PRIVATE_KEY_FILE": getenv("SNAP_PRIVATE_KEY_FILE"),
		"CARD_CLIENT_ID": opts.CardClientID} {
		if v == "" {
			return fmt.Errorf("%s is required: the sandbox checks it as the upstream would", name)
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
