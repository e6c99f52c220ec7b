// Command server runs the GoPay mini app BFF.
//
//	server                 serve (sandbox mode unless GOPAY_BASE_URL is set)
//	server migrate up|down apply, or roll back one step of, the embedded migrations
//	server -help           list the environment variables
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/app"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/repo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: server [migrate up|down]\n\n%s", config.Usage())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	switch rest := fs.Args(); {
	case len(rest) == 0:
		log.Info("configuration", cfg.LogFields()...)
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		if a.SandboxURL() != "" {
			fmt.Fprintf(stdout, "sandbox: %s\n", a.SandboxURL())
		}
		fmt.Fprintf(stdout, "api: http://%s\n", a.Addr())
		return a.Serve(ctx)
	case len(rest) == 2 && rest[0] == "migrate":
		url := cfg.DatabaseURL
		if cfg.DatabaseMigrationsURL != "" { // a direct connection when DATABASE_URL is a pooler
			url = cfg.DatabaseMigrationsURL
		}
		pool, err := repo.Open(ctx, url, 2, "")
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := repo.Migrate(pool, rest[1]); err != nil {
			return err
		}
		log.Info("migrated", zap.String("direction", rest[1]))
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", rest)
	}
}
