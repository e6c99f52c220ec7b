// Package app wires the service together in dependency order and runs it: Postgres (with
// migrations), Redis, keys, the embedded sandbox in sandbox mode, gateways, repositories,
// services and the HTTP server, with a graceful shutdown that drains in-flight requests.
package app

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gopay-miniapp/bff/internal/coalesce"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/gateway/coreapi"
	"github.com/gopay-miniapp/bff/internal/gateway/gopay"
	"github.com/gopay-miniapp/bff/internal/gateway/snap"
	"github.com/gopay-miniapp/bff/internal/gateway/upstream"
	"github.com/gopay-miniapp/bff/internal/handler"
	"github.com/gopay-miniapp/bff/internal/idempotency"
	"github.com/gopay-miniapp/bff/internal/linkcache"
	"github.com/gopay-miniapp/bff/internal/metrics"
	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/repo"
	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/service"
	"github.com/gopay-miniapp/bff/internal/session"
	"github.com/gopay-miniapp/bff/internal/snapsig"
	"github.com/gopay-miniapp/bff/migrations"
)

// App is a running service instance.
type App struct {
	cfg     *config.Config
	log     *zap.Logger
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	server  *http.Server
	ln      net.Listener
	admin   *http.Server // /metrics and /debug/pprof, on ADMIN_ADDR
	adminLn net.Listener
	Metrics *metrics.Metrics

	// Sandbox is the embedded upstream sandbox, nil in upstream mode.
	Sandbox    *sandbox.Sandbox
	sandboxSrv *http.Server
	sandboxLn  net.Listener

	bgCtx          context.Context //nolint:containedctx // the lifetime of background work, ended by close
	stopBackground context.CancelFunc
	draining       atomic.Bool // set on shutdown: readiness fails while the listener still serves
	backgroundDone sync.WaitGroup
}

// What to do when a dependency is down, printed as it is so `make run` tells the user.
const (
	postgresHelp        = "start PostgreSQL with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start   (or point DATABASE_URL at a running server)"
	missingDatabaseHelp = "create the database named in DATABASE_URL (createdb, or CREATE DATABASE in psql) and start again; migrations are applied at start-up"
	redisHelp           = "start Redis with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log   (or point REDIS_URL at a running server)"
)

// New builds every dependency and binds the listeners; Serve starts answering.
func New(ctx context.Context, cfg *config.Config, log *zap.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, Metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	if a.pool, err = openPostgres(ctx, cfg, log); err != nil {
		return nil, err
	}
	if cfg.MigrateOnStart || cfg.Sandbox() {
		if err = migrate(ctx, cfg, a.pool); err != nil {
			return nil, err
		}
	}
	logMigrations(ctx, a.pool, log)
	if a.rdb, err = openRedis(ctx, cfg); err != nil {
		return nil, err
	}

	encKeys, err := seal.ParseKeys(cfg.EncryptionKeys, 32)
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTION_KEYS: %w", err)
	}
	ring, err := seal.NewKeyring(encKeys)
	if err != nil {
		return nil, err
	}
	indexKey, err := cfg.BlindIndexKeyBytes()
	if err != nil {
		return nil, fmt.Errorf("BLIND_INDEX_KEY: %w", err)
	}
	sessionKeys, err := seal.ParseKeys(cfg.SessionKeys, 32)
	if err != nil {
		return nil, fmt.Errorf("SESSION_KEYS: %w", err)
	}
	signer, err := session.NewSigner(sessionKeys, cfg.SessionTTL, session.AudienceMiniApp, nil)
	if err != nil {
		return nil, err
	}
	internalSigner, err := session.NewSigner(sessionKeys, cfg.InternalTokenTTL, session.AudienceInternal, nil)
	if err != nil {
		return nil, err
	}
	clients, err := config.ParseInternalClients(cfg.InternalClients)
	if err != nil {
		return nil, fmt.Errorf("INTERNAL_CLIENTS: %w", err)
	}
	if len(clients) == 0 && !cfg.Sandbox() {
		log.Warn("NO INTERNAL CLIENTS: INTERNAL_CLIENTS is empty, so no internal service can get an access token; " +
			"payment-option tokens and the accounts listing are unreachable until it is set")
	}
	snapKeyPEM, err := os.ReadFile(cfg.SNAPPrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("SNAP_PRIVATE_KEY_FILE: %w", err)
	}
	snapKey, err := snapsig.ParsePrivateKey(snapKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("SNAP_PRIVATE_KEY_FILE: %w", err)
	}

	a.Metrics.RegisterPools(a.pool, a.rdb)
	if a.adminLn, err = new(net.ListenConfig).Listen(ctx, "tcp", cfg.AdminAddr); err != nil {
		return nil, fmt.Errorf("ADMIN_ADDR %s: %w", cfg.AdminAddr, err)
	}
	a.admin = &http.Server{Handler: adminHandler(a.Metrics.Registry), ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ErrorLog: zap.NewStdLog(log.Named("admin"))}

	// The API listens before the handler is built: the card-binding redirect targets need its
	// real address when PUBLIC_BASE_URL is not set (an ephemeral port in tests).
	if a.ln, err = new(net.ListenConfig).Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	publicBase := cfg.PublicBaseURL
	if publicBase == "" {
		publicBase = browserURL(a.ln.Addr())
	}
	gopayURL, snapURL, midtransURL, cardURL, webviewURL := cfg.GoPayBaseURL, cfg.SNAPBaseURL, cfg.MidtransBaseURL, cfg.CardBaseURL, cfg.CardWebviewBaseURL
	returnURL := cfg.CardReturnURL
	corsOrigins, err := cfg.CORSOrigins()
	if err != nil {
		return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err)
	}
	if cfg.Sandbox() {
		sandboxURL, err := a.startSandbox(ctx, &snapKey.PublicKey, publicBase)
		if err != nil {
			return nil, err
		}
		gopayURL, snapURL, midtransURL, cardURL = sandboxURL, sandboxURL, sandboxURL, sandboxURL
		// What a browser opens (the card webview, the demo) names the sandbox as a browser
		// reaches it.
		pages := browserURL(a.sandboxLn.Addr())
		if webviewURL == "" {
			webviewURL = pages + "/sandbox/card-webview"
		}
		// The demo mini app is served by the sandbox, on its own origin, and calls the API
		// from the browser; a card binding ends back in it.
		corsOrigins = append(corsOrigins, demoOrigins(a.sandboxLn.Addr())...)
		if returnURL == "" {
			returnURL = pages + sandbox.DemoPath
		}
	}
	if returnURL == "" {
		returnURL = config.DefaultCardReturnURL
	}
	upstreamClient := func(name string, timeout time.Duration, attempts int) *upstream.Client {
		return upstream.New(upstream.Options{Name: name, Timeout: timeout, MaxAttempts: attempts, Metrics: a.Metrics, Log: log,
			Breaker: upstream.BreakerSettings{MinRequests: cfg.BreakerMinRequests, FailureRatio: cfg.BreakerFailureRatio,
				Window: cfg.BreakerWindow, OpenFor: cfg.BreakerOpenFor}})
	}
	gopayClient := gopay.New(upstreamClient("gopay", cfg.GoPayTimeout, cfg.GoPayMaxAttempts),
		gopayURL, cfg.GoPayClientID, cfg.GoPayClientSecret, log)
	snapClient, err := snap.New(snap.Options{
		BaseURL: snapURL, ClientKey: cfg.SNAPClientKey, ClientSecret: cfg.SNAPClientSecret, PrivateKey: snapKey,
		PartnerID: cfg.SNAPPartnerID, ChannelID: cfg.SNAPChannelID, MerchantID: cfg.SNAPMerchantID,
		Upstream: upstreamClient("snap", cfg.SNAPTimeout, cfg.SNAPMaxAttempts), Redis: a.rdb, KeyPrefix: cfg.RedisKeyPrefix, Sealer: ring, Log: log,
	})
	if err != nil {
		return nil, err
	}
	coreClient := coreapi.New(upstreamClient("coreapi", cfg.MidtransTimeout, cfg.SNAPMaxAttempts), midtransURL, cfg.MidtransServerKey, log)

	users := repo.NewUsers(a.pool, ring)
	accounts := repo.NewBankAccounts(a.pool, ring, indexKey)
	links := linkcache.New(repo.NewGoPayLinks(a.pool, ring, indexKey), linkcache.Options{
		TTL: cfg.PaymentOptionsCacheTTL, MaxEntries: cfg.PaymentOptionsCacheMaxUsers,
		Redis: a.rdb, KeyPrefix: cfg.RedisKeyPrefix, Events: a.Metrics.LinkCache, Log: log,
	})
	a.background(links.Run)
	trusted, err := cfg.TrustedProxyNets()
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	refreshes := coalesce.New(a.rdb, cfg.RedisKeyPrefix, 30*time.Second, a.Metrics.Coalesced)
	gopayLinks := service.NewGoPayLinks(snapClient, coreClient, links, refreshes, cfg.PaymentOptionsMaxAge, cfg.StaleTokensMaxAge)
	notifyKey, err := a.notifyKey(publicBase)
	if err != nil {
		return nil, fmt.Errorf("PAYMENT_NOTIFY_PUBLIC_KEY_FILE: %w", err)
	}
	payments := service.NewPayments(repo.NewPayments(a.pool), snapClient, gopayLinks, service.PaymentConfig{
		PendingAfter: cfg.PaymentPendingAfter, Validity: cfg.PaymentValidity, NotifyKey: notifyKey, Log: log, Metrics: a.Metrics.Payments})
	a.background(func(ctx context.Context) { payments.RunReconciler(ctx, cfg.PaymentReconcileInterval) })
	e, err := handler.New(handler.Deps{
		Sessions:     service.NewSessions(gopayClient, users, signer),
		BankAccounts: service.NewBankAccounts(gopayClient, accounts),
		GoPay:        gopayLinks,
		Payments:     payments,
		Cards: service.NewCardBindings(snapClient, repo.NewCardBindings(a.pool), service.CardBindingConfig{
			Card:        snap.CardOptions{BaseURL: cardURL, ClientID: cfg.CardClientID, MerchantID: cfg.CardMerchantID},
			WebviewBase: webviewURL, RedirectURLs: handler.CardRedirectURLs(publicBase), ReturnURL: returnURL, TTL: cfg.CardBindingTTL,
		}),
		InternalAuth:   service.NewInternalAuth(clients, internalSigner, cfg.InternalTokenTTL),
		Signer:         signer,
		InternalSigner: internalSigner,
		Idempotency:    idempotency.NewStore(a.rdb, ring, cfg.RedisKeyPrefix, cfg.IdempotencyTTL, cfg.IdempotencyLockTTL),
		Readiness: []handler.ReadinessCheck{
			{Name: "accepting", Check: func(context.Context) error {
				if a.draining.Load() {
					return errors.New("shutting down: draining")
				}
				return nil
			}},
			{Name: "postgres", Check: a.pool.Ping},
			{Name: "redis", Check: func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() }, Degrades: true},
			{Name: "migrations", Check: func(ctx context.Context) error { return repo.CheckMigrations(ctx, a.pool) }},
		},
		Metrics:        a.Metrics,
		Log:            log,
		MaxBodyBytes:   cfg.HTTPMaxBodyBytes,
		RequestTimeout: cfg.RequestTimeout,
		Traced:         cfg.TracingOn(),
		Limiter:        ratelimit.New(a.rdb, cfg.RedisKeyPrefix, a.Metrics.RateLimit, log),
		Policies:       ratePolicies(cfg),
		TrustedProxies: trusted,
		CORSOrigins:    corsOrigins,
	})
	if err != nil {
		return nil, err
	}
	a.server = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	return a, nil
}

// ratePolicies names each configured limit: the name is its metric label and Redis key part.
func ratePolicies(cfg *config.Config) handler.Policies {
	return handler.Policies{
		SessionsPerIP:            ratelimit.Policy{Name: "sessions_per_ip", Limit: cfg.RateLimitSessionsPerIP},
		SessionsPerAuthCode:      ratelimit.Policy{Name: "sessions_per_auth_code", Limit: cfg.RateLimitSessionsPerAuthCode},
		WritesPerUser:            ratelimit.Policy{Name: "writes_per_user", Limit: cfg.RateLimitWritesPerUser},
		TokensPerClient:          ratelimit.Policy{Name: "tokens_per_client", Limit: cfg.RateLimitTokensPerClient},
		TokensPerIP:              ratelimit.Policy{Name: "tokens_per_ip", Limit: cfg.RateLimitTokensPerIP},
		TokenFailuresPerClientIP: ratelimit.Policy{Name: "token_failures_per_client_ip", Limit: cfg.LockoutTokenFailuresPerClientIP},
		TokenFailuresPerIP:       ratelimit.Policy{Name: "token_failures_per_ip", Limit: cfg.LockoutTokenFailuresPerIP},
	}
}

// logMigrations says, once at start-up, where the database's schema stands against this binary.
func logMigrations(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) {
	own, _ := repo.LatestMigration()
	at, dirty, err := repo.MigrationVersion(ctx, pool)
	if err != nil {
		log.Warn("database migrations: version unknown", zap.Uint("binary", own), zap.Error(err))
		return
	}
	log.Info("database migrations", zap.Uint("database", at), zap.Bool("dirty", dirty), zap.Uint("binary", own),
		zap.Uint("binary_serves_up_to", own+migrations.NewerCompatible))
}

// migrate applies the migrations on DATABASE_MIGRATIONS_URL when set (a direct connection,
// when DATABASE_URL is a transaction pooler that cannot hold their advisory lock), else on pool.
func migrate(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool) error {
	if cfg.DatabaseMigrationsURL == "" {
		return repo.Migrate(pool, "up")
	}
	direct, err := repo.Open(ctx, cfg.DatabaseMigrationsURL, 1, repo.PoolOptions{})
	if err != nil {
		return fmt.Errorf("DATABASE_MIGRATIONS_URL: %w", err)
	}
	defer direct.Close()
	return repo.Migrate(direct, "up")
}

func openPostgres(ctx context.Context, cfg *config.Config, log *zap.Logger) (*pgxpool.Pool, error) {
	pool, err := repo.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns, repo.PoolOptions{QueryMode: cfg.DatabaseQueryMode, Traced: cfg.TracingOn()})
	if err != nil && repo.IsMissingDatabase(err) && cfg.Sandbox() {
		log.Info("database does not exist; creating it (sandbox mode)")
		if err = repo.CreateDatabase(ctx, cfg.DatabaseURL); err == nil {
			pool, err = repo.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns, repo.PoolOptions{QueryMode: cfg.DatabaseQueryMode, Traced: cfg.TracingOn()})
		}
	}
	switch {
	case err != nil && repo.IsMissingDatabase(err):
		// PostgreSQL answers; it is the database that is missing (upstream mode never creates it).
		return nil, fmt.Errorf("cannot use PostgreSQL: %w\n  -> %s", err, missingDatabaseHelp)
	case err != nil:
		return nil, fmt.Errorf("cannot use PostgreSQL: %w\n  -> %s", err, postgresHelp)
	}
	return pool, nil
}

// openRedis connects to one Redis (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_ADDRS) or a
// Sentinel-managed primary (REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER). REDIS_URL still
// gives the password, database and TLS in the other two modes.
func openRedis(ctx context.Context, cfg *config.Config) (redis.UniversalClient, error) {
	u, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, errors.New("REDIS_URL does not parse")
	}
	opts := &redis.UniversalOptions{Addrs: []string{u.Addr}, Username: u.Username, Password: u.Password, DB: u.DB, TLSConfig: u.TLSConfig,
		// Fail fast, and once. go-redis would otherwise dial 5 times 100 ms apart and retry each
		// command 3 times with backoff (1.75 s before a request learnt Redis was down), and a
		// retried SET NX GET is not even safe: it would find its own claim and answer "in
		// progress". (Cluster redirects, MOVED and ASK, are not retries and still follow.)
		DialTimeout: cfg.RedisDialTimeout, DialerRetries: 1, MaxRetries: -1,
		ReadTimeout: cfg.RedisTimeout, WriteTimeout: cfg.RedisTimeout, PoolTimeout: cfg.RedisTimeout}
	switch {
	case cfg.RedisClusterAddrs != "":
		opts.Addrs, opts.IsClusterMode, opts.DB = splitAddrs(cfg.RedisClusterAddrs), true, 0
	case cfg.RedisSentinelAddrs != "":
		opts.Addrs, opts.MasterName = splitAddrs(cfg.RedisSentinelAddrs), cfg.RedisSentinelMaster
	}
	rdb := redis.NewUniversalClient(opts)
	// A span per command, with its name only: arguments are keys and sealed values.
	if cfg.TracingOn() {
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false)); err != nil {
			return nil, err
		}
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w\n  -> %s", strings.Join(opts.Addrs, ","), err, redisHelp)
	}
	return rdb, nil
}

func splitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// startSandbox serves the embedded sandbox and returns its base URL.
func (a *App) startSandbox(ctx context.Context, snapPublicKey *rsa.PublicKey, apiURL string) (string, error) {
	a.Sandbox = sandbox.New(sandbox.Options{
		GoPayClientID: a.cfg.GoPayClientID, GoPayClientSecret: a.cfg.GoPayClientSecret,
		SNAPClientKey: a.cfg.SNAPClientKey, SNAPClientSecret: a.cfg.SNAPClientSecret, SNAPPublicKey: snapPublicKey,
		MidtransServerKey: a.cfg.MidtransServerKey, CardClientID: a.cfg.CardClientID, DemoAPIURL: apiURL,
	})
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", a.cfg.SandboxAddr)
	if err != nil {
		return "", fmt.Errorf("SANDBOX_ADDR %s: %w", a.cfg.SandboxAddr, err)
	}
	a.sandboxLn = ln
	a.sandboxSrv = &http.Server{Handler: a.Sandbox.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := a.sandboxSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("sandbox stopped", zap.Error(err))
		}
	}()
	url := "http://" + ln.Addr().String()
	a.log.Warn("SANDBOX MODE: upstreams are played by the embedded sandbox; development keys in use",
		zap.String("sandbox_url", url), zap.String("dev_keys_file", a.cfg.DevKeysFile))
	a.log.Info("demo mini app: open it in a browser", zap.String("url", browserURL(ln.Addr())+sandbox.DemoPath))
	return url, nil
}

// notifyKey is the public key payment notifications are verified with: the file's, or in
// sandbox mode the sandbox's, which is also told where to post them.
func (a *App) notifyKey(publicBase string) (*rsa.PublicKey, error) {
	if f := a.cfg.PaymentNotifyPublicKeyFile; f != "" {
		raw, err := os.ReadFile(f) //nolint:gosec // the operator's own setting
		if err != nil {
			return nil, err
		}
		return snapsig.ParsePublicKey(raw)
	}
	if a.Sandbox != nil {
		a.Sandbox.SetNotifyURL(strings.TrimRight(publicBase, "/") + service.NotifyPath)
		return a.Sandbox.NotifyPublicKey(), nil
	}
	a.log.Warn("PAYMENT_NOTIFY_PUBLIC_KEY_FILE is unset: payment notifications are refused; payments settle through the status API")
	return nil, nil
}

// browserURL is the http URL a browser on this machine opens for a listener: a wildcard
// address (0.0.0.0, in a container) is reached as 127.0.0.1.
func browserURL(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://127.0.0.1:%d", tcp.Port)
	}
	return "http://" + addr.String()
}

// demoOrigins are the origins a browser gives the demo page served at addr: as browserURL
// names it, and localhost for a loopback or wildcard one (both open the same page).
func demoOrigins(addr net.Addr) []string {
	out := []string{browserURL(addr)}
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP.IsLoopback() || tcp.IP.IsUnspecified()) {
		out = append(out, fmt.Sprintf("http://localhost:%d", tcp.Port))
	}
	return out
}

// adminHandler serves operators: Prometheus metrics (gzip and OpenMetrics when asked for) and
// the runtime profiles. None of it is on the public listener.
func adminHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// AdminAddr is the address of the operators' listener.
func (a *App) AdminAddr() string { return a.adminLn.Addr().String() }

// Addr is the address the API listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// DemoURL is where a browser opens the demo mini app, or "" in upstream mode.
func (a *App) DemoURL() string {
	if a.sandboxLn == nil {
		return ""
	}
	return browserURL(a.sandboxLn.Addr()) + sandbox.DemoPath
}

// SandboxURL is the embedded sandbox's base URL, or "" in upstream mode.
func (a *App) SandboxURL() string {
	if a.sandboxLn == nil {
		return ""
	}
	return "http://" + a.sandboxLn.Addr().String()
}

// Serve answers requests until ctx is done. Then /readyz fails for SHUTDOWN_DELAY while the
// listener keeps serving, then in-flight requests drain for up to SHUTDOWN_TIMEOUT, and every
// resource is released.
func (a *App) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(a.ln) }()
	go func() {
		if err := a.admin.Serve(a.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin listener stopped", zap.Error(err))
		}
	}()
	a.log.Info("listening", zap.String("addr", a.Addr()))

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	if serveErr == nil && a.cfg.ShutdownDelay > 0 {
		// Readiness fails first while the listener keeps serving, so load balancers take this
		// instance out before it stops accepting: no client is refused mid-rollout.
		a.draining.Store(true)
		a.log.Info("shutting down: not ready, still serving", zap.Duration("for", a.cfg.ShutdownDelay))
		select {
		case serveErr = <-errc:
		case <-time.After(a.cfg.ShutdownDelay):
		}
	}
	a.draining.Store(true)
	a.log.Info("shutting down; draining in-flight requests", zap.Duration("timeout", a.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	err := a.server.Shutdown(shutdownCtx)
	_ = a.admin.Shutdown(shutdownCtx) // metrics until the end: nothing to drain that matters
	if a.sandboxSrv != nil {
		err = errors.Join(err, a.sandboxSrv.Shutdown(shutdownCtx))
	}
	a.close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, err)
}

// background runs fn until the app closes; close waits for it before closing the stores.
func (a *App) background(fn func(context.Context)) {
	if a.stopBackground == nil {
		var ctx context.Context
		ctx, a.stopBackground = context.WithCancel(context.Background())
		a.bgCtx = ctx
	}
	a.backgroundDone.Go(func() { fn(a.bgCtx) })
}

func (a *App) close() {
	if a.stopBackground != nil {
		a.stopBackground()
		a.backgroundDone.Wait()
	}
	if a.ln != nil {
		_ = a.ln.Close() // already closed after Serve; needed when New fails after listening
	}
	if a.adminLn != nil {
		_ = a.adminLn.Close()
	}
	if a.sandboxSrv != nil {
		_ = a.sandboxSrv.Close()
	} else if a.sandboxLn != nil {
		_ = a.sandboxLn.Close()
	}
	if a.rdb != nil {
		if err := a.rdb.Close(); err != nil {
			a.log.Warn("closing redis", zap.Error(err))
		}
	}
	if a.pool != nil {
		a.pool.Close()
	}
}
