// Command server runs the GoPay mini app BFF.
//
//	server                 serve (sandbox mode unless GOPAY_BASE_URL is set)
//	server migrate up|down apply, or roll back one step of, the embedded migrations
//	server version         the build: module version, commit, commit time, Go version
//	server dev-credentials sandbox mode: the internal client id and secret, as JSON
//	server -help           list the environment variables
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/app"
	"github.com/gopay-miniapp/bff/internal/buildinfo"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/gcpolicy"
	"github.com/gopay-miniapp/bff/internal/logging"
	"github.com/gopay-miniapp/bff/internal/repo"
	"github.com/gopay-miniapp/bff/internal/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if code := exitCode(err); code != 0 {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(code)
		}
	}
}

// exitCode is 0 for success and for -help (the user asked for the usage and got it), 1 otherwise.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: server [migrate up|down | version | dev-credentials]\n\n%s\n%s", config.Usage(), gcpolicy.Usage)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if rest := fs.Args(); len(rest) == 1 && rest[0] == "version" { // needs no configuration
		fmt.Fprintln(stdout, buildinfo.Read())
		return nil
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
		// go-redis logs dial and pool trouble itself, through one process-wide logger: into ours.
		// (Set here, once per process, not in app.New, which tests run many times in parallel.)
		redis.SetLogger(logging.Printf{Log: log, Name: "go-redis"})
		bi := buildinfo.Read()
		stopTracing, err := tracing.Setup(ctx, getenv, bi.Version)
		if err != nil {
			return fmt.Errorf("tracing: %w", err)
		}
		defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
		log.Info("starting", zap.String("version", bi.Version), zap.String("commit", bi.Commit), zap.String("go", bi.GoVersion))
		log.Info("configuration", cfg.LogFields()...)
		gc := gcpolicy.Apply(getenv)
		log.Info("garbage collector", zap.Int("gogc", gc.Percent), zap.String("gogc_from", gc.PercentFrom),
			zap.Int64("memory_limit_bytes", gc.MemoryLimit), zap.String("memory_limit_from", gc.LimitFrom))
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		if a.SandboxURL() != "" {
			fmt.Fprintf(stdout, "sandbox: %s\ndemo mini app (open in a browser): %s\n", a.SandboxURL(), a.DemoURL())
		}
		fmt.Fprintf(stdout, "api: http://%s\nadmin (metrics, pprof): http://%s\n", a.Addr(), a.AdminAddr())
		return a.Serve(ctx)
	case len(rest) == 1 && rest[0] == "dev-credentials":
		// The walk-through's internal calls need the generated secret wherever DEV_STATE_DIR
		// points (a container included), without knowing the file's layout.
		id, secret, err := cfg.DevInternalClient()
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]string{"internal_client_id": id, "internal_client_secret": secret})
	case len(rest) == 2 && rest[0] == "migrate":
		url := cfg.DatabaseURL
		if cfg.DatabaseMigrationsURL != "" { // a direct connection when DATABASE_URL is a pooler
			url = cfg.DatabaseMigrationsURL
		}
		pool, err := repo.Open(ctx, url, 2, repo.PoolOptions{})
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
