package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gopay-miniapp/bff/internal/app"
	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/snapsig"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// instance is one running server under test.
type instance struct {
	t       *testing.T
	app     *app.App
	sandbox string // the sandbox it talks to, when not its own
	base    string
	client  *http.Client
	logs    *observer.ObservedLogs

	stop     context.CancelFunc // as SIGTERM does
	finished chan struct{}      // closed when Serve has returned
}

// env is a test's shared settings: one database, one Redis prefix, one set of keys, so
// several instances can stand for one deployment.
type env map[string]string

func newEnv(t *testing.T) env {
	t.Helper()
	redisURL, _, prefix := testenv.Redis(t)
	e := env{
		"HTTP_ADDR":             "127.0.0.1:0",
		"ADMIN_ADDR":            "127.0.0.1:0",
		"SANDBOX_ADDR":          "127.0.0.1:0",
		"DATABASE_URL":          testenv.Postgres(t),
		"REDIS_URL":             redisURL,
		"REDIS_KEY_PREFIX":      prefix,
		"DEV_STATE_DIR":         t.TempDir(),
		"ENCRYPTION_KEYS":       seal.NewKeySpec("t1", 32),
		"BLIND_INDEX_KEY":       seal.NewKeySpec("x", 32)[2:],
		"SESSION_KEYS":          seal.NewKeySpec("t1", 32),
		"GOPAY_CLIENT_ID":       "test-client",
		"GOPAY_CLIENT_SECRET":   "test-secret-" + seal.NewKeySpec("x", 8)[2:],
		"GOPAY_TIMEOUT":         "2s",
		"LOG_LEVEL":             "debug",
		"SNAP_CLIENT_KEY":       "test-snap-client",
		"SNAP_CLIENT_SECRET":    "snap-secret-" + seal.NewKeySpec("x", 8)[2:],
		"SNAP_PRIVATE_KEY_FILE": snapKeyFile(t),
		"SNAP_PARTNER_ID":       "TESTPARTNER",
		"SNAP_MERCHANT_ID":      "G99999",
		"MIDTRANS_SERVER_KEY":   "SB-Mid-server-test-" + seal.NewKeySpec("x", 8)[2:],
		"INTERNAL_CLIENTS":      "payments:" + config.HashSecret(internalSecret),
		"CARD_CLIENT_ID":        "CARDCLIENT0123456789012345678901",
		"CARD_MERCHANT_ID":      "G99999",
		"SHUTDOWN_DELAY":        "0s", // TestShutdownTurnsNotReadyBeforeItStopsServing sets its own
	}
	if addrs := os.Getenv("TEST_REDIS_CLUSTER_ADDRS"); addrs != "" { // tools/redis-cluster.sh
		e["REDIS_CLUSTER_ADDRS"] = addrs
	}
	if addrs := os.Getenv("TEST_REDIS_SENTINEL_ADDRS"); addrs != "" { // tools/redis-sentinel.sh
		e["REDIS_SENTINEL_ADDRS"], e["REDIS_SENTINEL_MASTER"] = addrs, os.Getenv("TEST_REDIS_SENTINEL_MASTER")
	}
	if bouncer := os.Getenv("TEST_PGBOUNCER_ADDR"); bouncer != "" { // tools/pgbouncer.sh
		u, _ := url.Parse(e["DATABASE_URL"])
		e["DATABASE_MIGRATIONS_URL"] = u.String()
		u.Host = bouncer
		e["DATABASE_URL"], e["DATABASE_QUERY_MODE"] = u.String(), "exec"
	}
	return e
}

// internalSecret is the test internal client's secret (client id "payments").
const internalSecret = "payments-test-secret"

var (
	snapKeyOnce sync.Once
	snapKeyPEM  []byte
)

// snapKeyFile writes the package's one RSA test key (generating one per test is slow).
func snapKeyFile(t *testing.T) string {
	t.Helper()
	snapKeyOnce.Do(func() {
		var err error
		if snapKeyPEM, err = snapsig.NewPrivateKeyPEM(); err != nil {
			panic(err)
		}
	})
	path := filepath.Join(t.TempDir(), "snap.pem")
	if err := os.WriteFile(path, snapKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// upstreamsAt points every upstream of a second instance at a running sandbox.
func (e env) upstreamsAt(url string) env {
	return e.with("GOPAY_BASE_URL", url, "SNAP_BASE_URL", url, "MIDTRANS_BASE_URL", url, "CARD_BASE_URL", url,
		"CARD_WEBVIEW_BASE_URL", url+"/sandbox/card-webview", "PUBLIC_BASE_URL", "http://127.0.0.1:1")
}

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// start runs an instance until the test ends; its logs are kept for inspection.
func start(t *testing.T, e env) *instance {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, zap.New(core))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	var serveErr error
	finished := make(chan struct{})
	go func() { serveErr = a.Serve(ctx); close(finished) }()
	t.Cleanup(func() {
		cancel()
		<-finished
		if serveErr != nil {
			t.Errorf("Serve: %v", serveErr)
		}
	})
	in := &instance{t: t, app: a, base: "http://" + a.Addr(), client: testenv.ContractClient(t), logs: logs,
		stop: cancel, finished: finished}
	waitReady(t, in)
	return in
}

func waitReady(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(in.base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("instance never became ready")
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request through the contract-checking client; headers are name, value pairs. A
// transport error fails the test and returns a zero response.
func (in *instance) do(method, path, body string, headers ...string) response {
	in.t.Helper()
	return in.send(in.client, method, path, body, headers...)
}

// plain sends a request with a plain client: one no contract documents (a junk method, a
// wrong one, a hostile body), or one the contract client would copy once more.
func (in *instance) plain(method, path, body string, headers ...string) response {
	in.t.Helper()
	return in.send(http.DefaultClient, method, path, body, headers...)
}

func (in *instance) send(client *http.Client, method, path, body string, headers ...string) response {
	in.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	// Errorf, not Fatal: requests are sent from goroutines too, where Fatal must not be called.
	resp, err := client.Do(req)
	if err != nil {
		in.t.Errorf("%s %s: %v", method, path, err)
		return response{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Errorf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// sandboxPost calls a sandbox control endpoint and returns the named field of its answer.
func sandboxPost(t *testing.T, sandboxURL, path, body, field string) string {
	t.Helper()
	resp, err := http.Post(sandboxURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("sandbox %s: %d %v", path, resp.StatusCode, err)
	}
	return m[field]
}

// login opens a session for a sandbox user and returns the Authorization header value.
func (in *instance) login(sandboxURL, user string) string {
	in.t.Helper()
	code := sandboxPost(in.t, sandboxURL, "/sandbox/auth-codes", `{"user_id":"`+user+`"}`, "auth_code")
	r := in.do("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`)
	if r.status != http.StatusCreated {
		in.t.Fatalf("open session: %d %s", r.status, r.body)
	}
	return "Bearer " + r.json(in.t)["session_token"].(string)
}

func accountToken(t *testing.T, sandboxURL, number string) string {
	t.Helper()
	return sandboxPost(t, sandboxURL, "/sandbox/account-tokens", `{"bank_account_number":"`+number+`"}`, "account_token")
}

// assertNoSecretsInLogs fails if any log line, message or field, contains one of secrets.
func (in *instance) assertNoSecretsInLogs(secrets ...string) {
	in.t.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, entry := range in.logs.All() {
		buf, err := enc.EncodeEntry(entry.Entry, entry.Context)
		if err != nil {
			in.t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				in.t.Errorf("a secret reached a log line: %q in %s", s[:min(6, len(s))]+"…", line)
			}
		}
	}
}

// problem checks a problem response's status, code and field.
func problem(t *testing.T, r response, status int, code, field string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	m := r.json(t)
	if m["code"] != code {
		t.Fatalf("code %v, want %s: %s", m["code"], code, r.body)
	}
	if field != "" && m["field"] != field {
		t.Fatalf("field %v, want %s: %s", m["field"], field, r.body)
	}
}

// proxy forwards TCP to target until closed, so a test can take a dependency away: Cut drops
// every connection and refuses new ones (a restart or a network blip), Restore lets them in
// again, Close ends it for good.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	cut    bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				_ = c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every open connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Restore accepts connections again after Cut.
func (p *proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops accepting and cuts every open connection.
func (p *proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func sleep() { time.Sleep(10 * time.Millisecond) }

// directDB is PostgreSQL itself, for a test that inspects rows: DATABASE_URL may be PgBouncer in
// transaction pooling (tools/pgbouncer.sh), where a plain pgx connection's prepared statements
// would collide.
func (e env) directDB() string {
	if u := e["DATABASE_MIGRATIONS_URL"]; u != "" {
		return u
	}
	return e["DATABASE_URL"]
}

// admin GETs path from the instance's operators' listener (/metrics, /debug/pprof).
func (in *instance) admin(path string) response {
	in.t.Helper()
	return (&instance{t: in.t, base: "http://" + in.app.AdminAddr(), client: http.DefaultClient}).plain("GET", path, "")
}
