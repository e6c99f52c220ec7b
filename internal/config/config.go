// Package config reads the service's configuration from the environment, validates it once at
// start-up, and decides between sandbox mode (no upstream configured: embedded sandbox and
// generated development keys) and upstream mode (every credential and key must be given).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gopay-miniapp/bff/internal/ratelimit"
	"github.com/gopay-miniapp/bff/internal/repo"
	"github.com/gopay-miniapp/bff/internal/seal"
)

// Config is every setting of the service. The help tag is what `server -help` prints; the
// secret tag keeps a value out of logs.
type Config struct {
	HTTPAddr              string        `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080" help:"address the API listens on"`
	HTTPReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s" help:"time to read request headers"`
	HTTPReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"10s" help:"time to read a whole request"`
	HTTPWriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s" help:"time to handle a request and write the answer; above the upstream retry budget"`
	ShutdownDelay         time.Duration `env:"SHUTDOWN_DELAY" envDefault:"5s" help:"on SIGTERM, how long /readyz answers 503 while the listener keeps serving, so load balancers stop sending before the drain (SHUTDOWN_TIMEOUT) begins"`
	MigrateOnStart        bool          `env:"MIGRATE_ON_START" envDefault:"true" help:"apply migrations at start-up; false in upstream mode leaves them to 'server migrate up', run before a rollout (sandbox mode always migrates)"`
	AdminAddr             string        `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9090" help:"operators' listener: /metrics (Prometheus, OpenMetrics) and /debug/pprof; keep it off the public network"`
	Tracing               string        `env:"TRACING" envDefault:"auto" help:"OpenTelemetry spans: auto (on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set), on, off; off costs nothing per request"`
	OTLPEndpoint          string        `env:"OTEL_EXPORTER_OTLP_ENDPOINT" help:"OTLP/HTTP collector for traces (the standard OpenTelemetry variable; the other OTEL_* apply too)"`
	OTLPTracesEndpoint    string        `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" help:"OTLP/HTTP endpoint for traces only (standard OpenTelemetry variable)"`
	RequestTimeout        time.Duration `env:"REQUEST_TIMEOUT" envDefault:"20s" help:"deadline of each request: its upstream calls and their retries, the database and Redis share it, and the client gets 504 upstream_timeout by then; at most HTTP_WRITE_TIMEOUT minus 5s"`
	HTTPIdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"60s" help:"keep-alive idle time"`
	HTTPMaxBodyBytes      int64         `env:"HTTP_MAX_BODY_BYTES" envDefault:"65536" help:"largest accepted request body; larger ones get 413"`
	ShutdownTimeout       time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" help:"how long shutdown waits for in-flight requests"`

	DatabaseURL           string        `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/gopay_bff?sslmode=disable" secret:"url" help:"PostgreSQL connection URL"`
	DatabaseMaxConns      int32         `env:"DATABASE_MAX_CONNS" envDefault:"10" help:"pool size"`
	DatabaseQueryMode     string        `env:"DATABASE_QUERY_MODE" envDefault:"cache_statement" help:"pgx query mode: cache_statement (prepared statements, fastest), or exec (no prepared statements) behind PgBouncer in transaction pooling; also cache_describe, describe_exec, simple_protocol"`
	DatabaseMigrationsURL string        `env:"DATABASE_MIGRATIONS_URL" secret:"url" help:"where migrations run, when DATABASE_URL is a pooler: they hold a session-level advisory lock, which transaction pooling cannot keep; default DATABASE_URL"`
	RedisURL              string        `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0" secret:"url" help:"Redis connection URL"`
	RedisKeyPrefix        string        `env:"REDIS_KEY_PREFIX" envDefault:"bff:" help:"prefix of every Redis key this service writes"`
	RedisClusterAddrs     string        `env:"REDIS_CLUSTER_ADDRS" help:"host:port of Redis Cluster nodes, comma-separated; set, the service speaks Cluster (REDIS_URL then gives only password and TLS)"`
	RedisSentinelAddrs    string        `env:"REDIS_SENTINEL_ADDRS" help:"host:port of Redis Sentinels, comma-separated; set (with REDIS_SENTINEL_MASTER), the service follows the primary they name"`
	RedisSentinelMaster   string        `env:"REDIS_SENTINEL_MASTER" help:"the master name the Sentinels watch"`
	RedisDialTimeout      time.Duration `env:"REDIS_DIAL_TIMEOUT" envDefault:"50ms" help:"time to connect to Redis; with no dial or command retries, a Redis that is down is noticed within it"`
	RedisTimeout          time.Duration `env:"REDIS_TIMEOUT" envDefault:"500ms" help:"time for one Redis command's write and read (and to wait for a pooled connection)"`

	SandboxAddr string `env:"SANDBOX_ADDR" envDefault:"127.0.0.1:8081" help:"address of the embedded upstream sandbox (sandbox mode only)"`

	GoPayBaseURL      string        `env:"GOPAY_BASE_URL" help:"GoPay mini app backend, e.g. https://public-mini-app-merchants.gopayapi.com; unset = sandbox mode"`
	GoPayClientID     string        `env:"GOPAY_CLIENT_ID" help:"Basic auth user for the GoPay mini app backend"`
	GoPayClientSecret string        `env:"GOPAY_CLIENT_SECRET" secret:"true" help:"Basic auth password for the GoPay mini app backend"`
	GoPayTimeout      time.Duration `env:"GOPAY_TIMEOUT" envDefault:"5s" help:"timeout of one GoPay call attempt"`
	GoPayMaxAttempts  int           `env:"GOPAY_MAX_ATTEMPTS" envDefault:"3" help:"attempts per GoPay call; only 5xx and network errors are retried"`

	SNAPBaseURL         string        `env:"SNAP_BASE_URL" help:"BI-SNAP API of Midtrans/GoPay, e.g. https://merchants.midtrans.com; unset = sandbox mode"`
	SNAPClientKey       string        `env:"SNAP_CLIENT_KEY" help:"SNAP client key (X-CLIENT-KEY, and the first half of the B2B string to sign)"`
	SNAPClientSecret    string        `env:"SNAP_CLIENT_SECRET" secret:"true" help:"SNAP client secret (HMAC-SHA512 key of service-call signatures)"`
	SNAPPrivateKeyFile  string        `env:"SNAP_PRIVATE_KEY_FILE" help:"PEM RSA private key that signs B2B access-token requests"`
	SNAPPartnerID       string        `env:"SNAP_PARTNER_ID" help:"X-PARTNER-ID sent on SNAP calls"`
	SNAPChannelID       string        `env:"SNAP_CHANNEL_ID" envDefault:"95221" help:"CHANNEL-ID sent on SNAP calls (5 digits)"`
	SNAPMerchantID      string        `env:"SNAP_MERCHANT_ID" help:"merchantId sent in SNAP bodies"`
	SNAPTimeout         time.Duration `env:"SNAP_TIMEOUT" envDefault:"5s" help:"timeout of one SNAP call attempt"`
	SNAPMaxAttempts     int           `env:"SNAP_MAX_ATTEMPTS" envDefault:"3" help:"attempts per SNAP call; only 5xx and network errors are retried"`
	BreakerMinRequests  uint32        `env:"UPSTREAM_BREAKER_MIN_REQUESTS" envDefault:"10" help:"attempts an upstream operation must see in the window before its circuit can open"`
	BreakerFailureRatio float64       `env:"UPSTREAM_BREAKER_FAILURE_RATIO" envDefault:"0.5" help:"share of failed attempts (5xx, network errors, timeouts) in the window that opens an operation's circuit"`
	BreakerWindow       time.Duration `env:"UPSTREAM_BREAKER_WINDOW" envDefault:"30s" help:"the rolling window those attempts are counted over"`
	BreakerOpenFor      time.Duration `env:"UPSTREAM_BREAKER_OPEN_FOR" envDefault:"10s" help:"how long an open circuit fails fast (503 with Retry-After) before one probe is let through"`

	MidtransBaseURL   string        `env:"MIDTRANS_BASE_URL" help:"Midtrans Core API, e.g. https://api.midtrans.com; unset = sandbox mode"`
	MidtransServerKey string        `env:"MIDTRANS_SERVER_KEY" secret:"true" help:"Midtrans server key (Basic auth user)"`
	MidtransTimeout   time.Duration `env:"MIDTRANS_TIMEOUT" envDefault:"5s" help:"timeout of one Core API call attempt"`

	CardBaseURL                string        `env:"CARD_BASE_URL" help:"SNAP host of Get OAuth Code (card registration); unset = sandbox mode"`
	CardClientID               string        `env:"CARD_CLIENT_ID" help:"X-CLIENT-KEY of Get OAuth Code: the 32-character client_id (PJP name)"`
	CardMerchantID             string        `env:"CARD_MERCHANT_ID" help:"6-character merchant id of card registration (merchantId and X-PARTNER-ID)"`
	CardWebviewBaseURL         string        `env:"CARD_WEBVIEW_BASE_URL" help:"card-binding webview; the auth code is appended as ?authCode="`
	CardReturnURL              string        `env:"CARD_RETURN_URL" help:"where the user is sent back into the mini app after a card binding; default gopay-miniapp://card-binding, in sandbox mode the demo mini app"`
	PaymentNotifyPublicKeyFile string        `env:"PAYMENT_NOTIFY_PUBLIC_KEY_FILE" help:"PEM public key of the provider's payment notifications (SHA256withRSA); sandbox mode: the sandbox's. Unset in upstream mode: every notification is refused"`
	PaymentPendingAfter        time.Duration `env:"PAYMENT_PENDING_AFTER" envDefault:"30s" help:"a payment whose outcome is unknown this long is settled with the status API"`
	PaymentReconcileInterval   time.Duration `env:"PAYMENT_RECONCILE_INTERVAL" envDefault:"10s" help:"how often each instance looks for payments to reconcile"`
	PaymentValidity            time.Duration `env:"PAYMENT_VALIDITY" envDefault:"15m" help:"validUpTo of a charge: how long the customer has to confirm with their PIN"`
	CardBindingTTL             time.Duration `env:"CARD_BINDING_TTL" envDefault:"15m" help:"how long a started card binding can be completed"`
	PublicBaseURL              string        `env:"PUBLIC_BASE_URL" help:"this service's external base URL, for the card-binding redirect targets; default http://HTTP_ADDR"`

	InternalClients             string        `env:"INTERNAL_CLIENTS" secret:"clients" help:"internal callers allowed to fetch payment-option tokens: id:sha256hex(secret), comma-separated"`
	InternalTokenTTL            time.Duration `env:"INTERNAL_TOKEN_TTL" envDefault:"5m" help:"lifetime of internal access tokens"`
	PaymentOptionsMaxAge        time.Duration `env:"PAYMENT_OPTIONS_MAX_AGE" envDefault:"60s" help:"stored payment options younger than this are served without a refresh (refresh=true, and a payment, always refresh); 0 refreshes on every read"`
	PaymentOptionsCacheTTL      time.Duration `env:"PAYMENT_OPTIONS_CACHE_TTL" envDefault:"1s" help:"each instance keeps a user's link and options in memory this long after reading them; writes on any instance drop them (Redis pub/sub), and this bounds staleness when a message is lost; 0 turns the cache off"`
	PaymentOptionsCacheMaxUsers int           `env:"PAYMENT_OPTIONS_CACHE_MAX_USERS" envDefault:"10000" help:"users whose link and options one instance keeps in memory"`
	StaleTokensMaxAge           time.Duration `env:"STALE_TOKENS_MAX_AGE" envDefault:"15m" help:"if a refresh fails, last payment-option tokens younger than this are served marked stale; older ones are not served"`

	EncryptionKeys string        `env:"ENCRYPTION_KEYS" secret:"true" help:"AES-256 keys for data at rest, id:base64(32 bytes), comma-separated; the first encrypts, all decrypt"`
	BlindIndexKey  string        `env:"BLIND_INDEX_KEY" secret:"true" help:"base64(32 bytes) HMAC key that lets the database spot a bank account linked twice; never rotate without re-indexing"`
	SessionKeys    string        `env:"SESSION_KEYS" secret:"true" help:"HMAC keys for session tokens, id:base64(32 bytes), comma-separated; the first signs, all verify"`
	SessionTTL     time.Duration `env:"SESSION_TTL" envDefault:"15m" help:"session token lifetime"`

	IdempotencyTTL     time.Duration `env:"IDEMPOTENCY_TTL" envDefault:"24h" help:"how long a completed request is replayed for its idempotency key"`
	IdempotencyLockTTL time.Duration `env:"IDEMPOTENCY_LOCK_TTL" envDefault:"10s" help:"lease of an in-progress key: renewed every third of it while its request runs, so it is how long the key stays blocked after its instance dies"`

	CORSAllowedOrigins              string          `env:"CORS_ALLOWED_ORIGINS" help:"origins of the mini app pages that may call the /v1 API from a browser, comma-separated (scheme://host[:port]); sandbox mode adds the demo's"`
	TrustedProxies                  string          `env:"TRUSTED_PROXIES" help:"CIDRs of the proxies in front of the service, comma-separated; only they may name the client in X-Forwarded-For. Empty: the TCP peer is the client"`
	RateLimitSessionsPerIP          ratelimit.Limit `env:"RATE_LIMIT_SESSIONS_PER_IP" envDefault:"120/1m" help:"POST /v1/sessions per client address (N/duration, or off)"`
	RateLimitSessionsPerAuthCode    ratelimit.Limit `env:"RATE_LIMIT_SESSIONS_PER_AUTH_CODE" envDefault:"5/1m" help:"POST /v1/sessions per auth code (single use: retries only)"`
	RateLimitWritesPerUser          ratelimit.Limit `env:"RATE_LIMIT_WRITES_PER_USER" envDefault:"60/1m" help:"POST and DELETE per signed-in user"`
	RateLimitTokensPerClient        ratelimit.Limit `env:"RATE_LIMIT_TOKENS_PER_CLIENT" envDefault:"60/1m" help:"POST /internal/v1/access-token per internal client id"`
	RateLimitTokensPerIP            ratelimit.Limit `env:"RATE_LIMIT_TOKENS_PER_IP" envDefault:"60/1m" help:"POST /internal/v1/access-token per client address"`
	LockoutTokenFailuresPerClientIP ratelimit.Limit `env:"LOCKOUT_TOKEN_FAILURES_PER_CLIENT_IP" envDefault:"5/15m" help:"failed client-credential checks allowed per client id and address before a lockout"`
	LockoutTokenFailuresPerIP       ratelimit.Limit `env:"LOCKOUT_TOKEN_FAILURES_PER_IP" envDefault:"20/15m" help:"failed client-credential checks allowed per address (any client id) before a lockout"`

	DevStateDir string `env:"DEV_STATE_DIR" envDefault:".dev" help:"sandbox mode: where generated development keys are kept"`
	LogLevel    string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	LogFormat   string `env:"LOG_FORMAT" envDefault:"json" help:"json or console"`

	// DevKeysFile is set when sandbox mode filled keys from the development key file.
	DevKeysFile string `env:"-"`
}

// Sandbox reports whether the service plays its own upstreams: no upstream URL is set. Setting
// some but not all is refused by validate, so a deployment never half-talks to a sandbox.
func (c *Config) Sandbox() bool {
	return c.GoPayBaseURL == "" && c.SNAPBaseURL == "" && c.MidtransBaseURL == "" && c.CardBaseURL == ""
}

// Load reads the configuration through getenv, fills development keys in sandbox mode, and
// validates the result.
func Load(getenv func(string) string) (*Config, error) {
	environ := map[string]string{}
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			environ[p.Key] = v
		}
	}
	// Every problem is reported at once, in the order the variables are declared: a duration
	// that does not parse must not hide a missing key further down.
	var c Config
	parseErrs := parseErrors(env.ParseWithOptions(&c, env.Options{Environment: environ}))
	if c.Sandbox() {
		if err := c.fillDevKeys(); err != nil {
			return nil, err
		}
	}
	problems := parseErrs
	for _, p := range c.validate() {
		if _, unparsed := parseErrs.names()[p.name]; !unparsed { // its own parse error says more
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, problems.sorted()
	}
	return &c, nil
}

// problem is one variable's fault.
type problem struct {
	name string
	err  error
}

type problems []problem

func (ps problems) names() map[string]struct{} {
	out := map[string]struct{}{}
	for _, p := range ps {
		out[p.name] = struct{}{}
	}
	return out
}

// sorted orders problems as the variables are declared (stable, so the same configuration
// always reports the same way) and joins them.
func (ps problems) sorted() error {
	order := map[string]int{}
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		order[t.Field(i).Tag.Get("env")] = i
	}
	sort.SliceStable(ps, func(i, j int) bool { return order[ps[i].name] < order[ps[j].name] })
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = fmt.Errorf("%s: %w", p.name, p.err)
	}
	return errors.Join(errs...)
}

// parseErrors names the variable, not the Go field, in parse errors ("SESSION_TTL: cannot
// parse as time.Duration", not "SessionTTL").
func parseErrors(err error) problems {
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return problems{{name: "configuration", err: err}}
	}
	t := reflect.TypeOf(Config{})
	var out problems
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				out = append(out, problem{f.Tag.Get("env"), fmt.Errorf("cannot parse as %s: %w", pe.Type, pe.Err)})
				continue
			}
		}
		out = append(out, problem{"configuration", e})
	}
	return out
}

// upstreamURLs are the variables that leave sandbox mode: all five are set, or none.
func (c *Config) upstreamURLs() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"GOPAY_BASE_URL", c.GoPayBaseURL}, {"SNAP_BASE_URL", c.SNAPBaseURL}, {"MIDTRANS_BASE_URL", c.MidtransBaseURL},
		{"CARD_BASE_URL", c.CardBaseURL}, {"CARD_WEBVIEW_BASE_URL", c.CardWebviewBaseURL},
	}
}

// upstreamCredentials are what upstream mode needs besides the URLs; sandbox mode generates
// development values for them.
func (c *Config) upstreamCredentials() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"GOPAY_CLIENT_ID", c.GoPayClientID}, {"GOPAY_CLIENT_SECRET", c.GoPayClientSecret},
		{"SNAP_CLIENT_KEY", c.SNAPClientKey}, {"SNAP_CLIENT_SECRET", c.SNAPClientSecret},
		{"SNAP_PRIVATE_KEY_FILE", c.SNAPPrivateKeyFile}, {"SNAP_PARTNER_ID", c.SNAPPartnerID},
		{"SNAP_MERCHANT_ID", c.SNAPMerchantID}, {"MIDTRANS_SERVER_KEY", c.MidtransServerKey},
		{"ENCRYPTION_KEYS", c.EncryptionKeys}, {"BLIND_INDEX_KEY", c.BlindIndexKey}, {"SESSION_KEYS", c.SessionKeys},
		{"CARD_CLIENT_ID", c.CardClientID}, {"CARD_MERCHANT_ID", c.CardMerchantID},
	}
}

// TracingOn says whether requests, queries and Redis commands get spans: the instrumentation
// costs CPU on every request even with nothing exporting (10-30% of a read's), so it is
// installed only when traces go somewhere, or when asked for.
func (c *Config) TracingOn() bool {
	return c.Tracing == "on" || c.Tracing == "auto" && (c.OTLPEndpoint != "" || c.OTLPTracesEndpoint != "")
}

// requestMargin is what HTTP_WRITE_TIMEOUT keeps above REQUEST_TIMEOUT: up to 3 s to record
// what an upstream already did (service.recordTimeout) and the rest to write the answer.
const requestMargin = 5 * time.Second

func (c *Config) validate() problems {
	var errs problems
	bad := func(name, format string, args ...any) {
		errs = append(errs, problem{name, fmt.Errorf(format, args...)})
	}
	for name, addr := range map[string]string{"HTTP_ADDR": c.HTTPAddr, "SANDBOX_ADDR": c.SandboxAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(name, "want host:port, got %q", addr)
		}
	}
	for name, d := range map[string]time.Duration{
		"HTTP_READ_HEADER_TIMEOUT": c.HTTPReadHeaderTimeout, "HTTP_READ_TIMEOUT": c.HTTPReadTimeout,
		"HTTP_WRITE_TIMEOUT": c.HTTPWriteTimeout, "HTTP_IDLE_TIMEOUT": c.HTTPIdleTimeout, "REQUEST_TIMEOUT": c.RequestTimeout,
		"REDIS_DIAL_TIMEOUT": c.RedisDialTimeout, "REDIS_TIMEOUT": c.RedisTimeout,
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "GOPAY_TIMEOUT": c.GoPayTimeout, "SESSION_TTL": c.SessionTTL,
		"SNAP_TIMEOUT": c.SNAPTimeout, "MIDTRANS_TIMEOUT": c.MidtransTimeout, "INTERNAL_TOKEN_TTL": c.InternalTokenTTL,
		"STALE_TOKENS_MAX_AGE": c.StaleTokensMaxAge, "CARD_BINDING_TTL": c.CardBindingTTL,
		"IDEMPOTENCY_TTL": c.IdempotencyTTL, "IDEMPOTENCY_LOCK_TTL": c.IdempotencyLockTTL,
		"PAYMENT_PENDING_AFTER": c.PaymentPendingAfter, "PAYMENT_RECONCILE_INTERVAL": c.PaymentReconcileInterval,
		"PAYMENT_VALIDITY": c.PaymentValidity,
	} {
		if d <= 0 {
			bad(name, "must be positive")
		}
	}
	if c.PaymentOptionsMaxAge < 0 {
		bad("PAYMENT_OPTIONS_MAX_AGE", "must not be negative")
	}
	if c.PaymentOptionsCacheTTL < 0 || c.PaymentOptionsCacheTTL > time.Minute {
		bad("PAYMENT_OPTIONS_CACHE_TTL", "must be between 0 (off) and 1m: it is how stale a read may be when a change's message is lost")
	}
	if c.PaymentOptionsCacheMaxUsers < 1 {
		bad("PAYMENT_OPTIONS_CACHE_MAX_USERS", "must be at least 1")
	}
	if strings.ContainsAny(c.RedisKeyPrefix, "{}") {
		bad("REDIS_KEY_PREFIX", "must not contain { or }: keys put their own hash tag after it, for Redis Cluster")
	}
	if c.RedisClusterAddrs != "" && c.RedisSentinelAddrs != "" {
		bad("REDIS_SENTINEL_ADDRS", "set either REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS, not both")
	}
	if (c.RedisSentinelAddrs == "") != (c.RedisSentinelMaster == "") {
		bad("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER go together")
	}
	if c.Tracing != "auto" && c.Tracing != "on" && c.Tracing != "off" {
		bad("TRACING", "want auto, on or off")
	}
	if c.ShutdownDelay < 0 {
		bad("SHUTDOWN_DELAY", "must not be negative")
	}
	if c.BreakerMinRequests < 1 {
		bad("UPSTREAM_BREAKER_MIN_REQUESTS", "must be at least 1")
	}
	if c.BreakerFailureRatio <= 0 || c.BreakerFailureRatio > 1 {
		bad("UPSTREAM_BREAKER_FAILURE_RATIO", "must be above 0 and at most 1")
	}
	if c.BreakerWindow < time.Second {
		bad("UPSTREAM_BREAKER_WINDOW", "must be at least 1s")
	}
	if c.BreakerOpenFor <= 0 {
		bad("UPSTREAM_BREAKER_OPEN_FOR", "must be positive")
	}
	if c.RequestTimeout > c.HTTPWriteTimeout-requestMargin {
		bad("REQUEST_TIMEOUT", "must be at most HTTP_WRITE_TIMEOUT (%s) minus %s: past the deadline the service still records what an upstream did and writes the answer, and a cut connection tells the client nothing", c.HTTPWriteTimeout, requestMargin)
	}
	if c.IdempotencyLockTTL < 3*time.Second {
		bad("IDEMPOTENCY_LOCK_TTL", "must be at least 3s: it is renewed every third of it, and a shorter lease could lapse under a pause of the process")
	}
	if c.HTTPMaxBodyBytes < 1024 || c.HTTPMaxBodyBytes > 10<<20 {
		bad("HTTP_MAX_BODY_BYTES", "must be between 1024 and 10485760")
	}
	if _, err := repo.QueryMode(c.DatabaseQueryMode); err != nil {
		bad("DATABASE_QUERY_MODE", "%v", err)
	}
	if c.DatabaseMaxConns < 1 {
		bad("DATABASE_MAX_CONNS", "must be at least 1")
	}
	if c.GoPayMaxAttempts < 1 || c.GoPayMaxAttempts > 10 {
		bad("GOPAY_MAX_ATTEMPTS", "must be between 1 and 10")
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", "want postgres://user@host:port/db")
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		bad("REDIS_URL", "want redis://host:port/db")
	}
	if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "want debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("LOG_FORMAT", "want json or console")
	}
	if !c.Sandbox() {
		for _, u := range c.upstreamURLs() {
			switch u.value {
			case "":
				bad(u.name, "required once any upstream URL is set (GOPAY_BASE_URL, SNAP_BASE_URL, MIDTRANS_BASE_URL, CARD_BASE_URL and CARD_WEBVIEW_BASE_URL: all five, or none for sandbox mode)")
			default:
				if err := checkUpstreamURL(u.value); err != nil {
					bad(u.name, "%v", err)
				}
			}
		}
		if c.PublicBaseURL == "" {
			bad("PUBLIC_BASE_URL", "required once upstream URLs are set: the card-binding webview redirects there")
		}
		for _, v := range c.upstreamCredentials() {
			if v.value == "" {
				bad(v.name, "required once upstream URLs are set (development keys and credentials are for sandbox mode only)")
			}
		}
	}
	if !channelIDPattern.MatchString(c.SNAPChannelID) {
		bad("SNAP_CHANNEL_ID", "must be 5 digits")
	}
	if c.CardClientID != "" && len(c.CardClientID) != 32 {
		bad("CARD_CLIENT_ID", "must be exactly 32 characters (seed 003)")
	}
	if c.CardMerchantID != "" && len(c.CardMerchantID) != 6 {
		bad("CARD_MERCHANT_ID", "must be exactly 6 characters (seed 003)")
	}
	if c.SNAPMaxAttempts < 1 || c.SNAPMaxAttempts > 10 {
		bad("SNAP_MAX_ATTEMPTS", "must be between 1 and 10")
	}
	if _, err := c.TrustedProxyNets(); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	if _, err := c.CORSOrigins(); err != nil {
		bad("CORS_ALLOWED_ORIGINS", "%v", err)
	}
	if _, err := ParseInternalClients(c.InternalClients); err != nil {
		bad("INTERNAL_CLIENTS", "%v", err)
	}
	if _, err := seal.ParseKeys(c.EncryptionKeys, 32); c.EncryptionKeys != "" && err != nil {
		bad("ENCRYPTION_KEYS", "%v", err)
	}
	if _, err := seal.ParseKeys(c.SessionKeys, 32); c.SessionKeys != "" && err != nil {
		bad("SESSION_KEYS", "%v", err)
	}
	if _, err := c.BlindIndexKeyBytes(); c.BlindIndexKey != "" && err != nil {
		bad("BLIND_INDEX_KEY", "%v", err)
	}
	return errs
}

var (
	channelIDPattern = regexp.MustCompile(`^[0-9]{5}$`)
	clientIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	sha256HexPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseInternalClients parses "id:sha256hex,...": only hashes of the secrets are configured.
func ParseInternalClients(spec string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		id, hash, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !clientIDPattern.MatchString(id) || !sha256HexPattern.MatchString(hash) {
			return nil, errors.New("want id:sha256hex (lowercase hex of SHA-256 of the secret), comma-separated")
		}
		out[id] = hash
	}
	return out, nil
}

// checkUpstreamURL insists on https, except for loopback hosts (a sandbox run on its own).
func checkUpstreamURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return fmt.Errorf("must be https (plain http only to a loopback sandbox)")
}

// DefaultCardReturnURL is where a card binding sends the user back when CARD_RETURN_URL is
// unset outside sandbox mode: the mini app's deep link.
const DefaultCardReturnURL = "gopay-miniapp://card-binding"

// CORSOrigins parses CORS_ALLOWED_ORIGINS: exact origins, no wildcard (the API hands out bank
// details to whoever holds a session, so which pages may read its answers is an explicit list).
func (c *Config) CORSOrigins() ([]string, error) {
	var out []string
	for _, part := range strings.Split(c.CORSAllowedOrigins, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			u.User != nil || u.Fragment != "" || part != u.Scheme+"://"+u.Host || strings.Contains(part, "*") {
			return nil, fmt.Errorf("want origins such as https://miniapp.example.com, comma-separated; got %q", part)
		}
		out = append(out, part)
	}
	return out, nil
}

// TrustedProxyNets parses TRUSTED_PROXIES (a bare address is a /32 or /128).
func (c *Config) TrustedProxyNets() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(c.TrustedProxies, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			if ip := net.ParseIP(part); ip != nil && ip.To4() != nil {
				part += "/32"
			} else {
				part += "/128"
			}
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8, comma-separated; got %q", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// BlindIndexKeyBytes decodes BLIND_INDEX_KEY.
func (c *Config) BlindIndexKeyBytes() ([]byte, error) {
	keys, err := seal.ParseKeys("index:"+c.BlindIndexKey, 32)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), `key "index": `))
	}
	return keys[0].Secret, nil
}

// LogFields describes the configuration for the start-up log line, secrets masked.
func (c *Config) LogFields() []zap.Field {
	var fields []zap.Field
	v := reflect.ValueOf(*c)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		switch f.Tag.Get("secret") {
		case "true":
			val = maskSecret(val)
		case "url":
			val = maskURL(val)
		case "clients":
			val = clientIDs(val)
		}
		fields = append(fields, zap.String(name, val))
	}
	fields = append(fields, zap.Bool("sandbox_mode", c.Sandbox()))
	if c.DevKeysFile != "" {
		fields = append(fields, zap.String("dev_keys_file", c.DevKeysFile))
	}
	return fields
}

// clientIDs shows which internal clients are configured, never their secrets' hashes: a
// SHA-256 of a weak secret can be brute-forced offline.
func clientIDs(spec string) string {
	clients, err := ParseInternalClients(spec)
	if err != nil {
		return "(unparsable)"
	}
	ids := make([]string, 0, len(clients))
	for id := range clients {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func maskSecret(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(set)"
}

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Usage describes every variable, for `server -help`.
func Usage() string {
	var b strings.Builder
	b.WriteString("Environment variables:\n")
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		fmt.Fprintf(&b, "  %-26s %s", name, f.Tag.Get("help"))
		if d, ok := f.Tag.Lookup("envDefault"); ok {
			fmt.Fprintf(&b, " (default %q)", d)
		}
		b.WriteString("\n")
	}
	var c Config
	var names []string
	for _, u := range c.upstreamURLs() {
		names = append(names, u.name)
	}
	names = append(names, "PUBLIC_BASE_URL")
	for _, v := range c.upstreamCredentials() {
		names = append(names, v.name)
	}
	b.WriteString("\nWith none of the upstream URLs set the server runs in sandbox mode: it plays every upstream itself\n" +
		"and generates development keys. Upstream mode (any upstream URL set) requires all of:\n  " +
		strings.Join(names, ", ") + "\n")
	return b.String()
}
