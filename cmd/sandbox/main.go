// Command sandbox runs the upstream sandbox on its own, for pointing a server (or several) at
// one shared sandbox:
//
//	GOPAY_CLIENT_SECRET=s go run ./cmd/sandbox
//	GOPAY_BASE_URL=http://127.0.0.1:8081 GOPAY_CLIENT_ID=sandbox-client GOPAY_CLIENT_SECRET=s ... go run ./cmd/server
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gopay-miniapp/bff/internal/sandbox"
)

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
	id := getenv("GOPAY_CLIENT_ID")
	if id == "" {
		id = "sandbox-client"
	}
	secret := getenv("GOPAY_CLIENT_SECRET")
	if secret == "" {
		return errors.New("GOPAY_CLIENT_SECRET is required: the sandbox checks it as GoPay would")
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           sandbox.New(sandbox.Options{GoPayClientID: id, GoPayClientSecret: secret}).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	fmt.Fprintf(stdout, "sandbox: http://%s (GoPay client id %q)\n", ln.Addr(), id)
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
