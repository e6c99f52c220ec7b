// Command chaos runs three service instances and the standalone sandbox (cmd/sandbox) on
// loopback, on a PostgreSQL cluster and a Redis of its own (started here, so they can be
// killed), drives a bounded mixed load through a client that behaves like a load balancer
// (it sends only to instances whose /readyz answers 200) and like a mobile client (it retries
// 5xx, 409, 429 and network errors with the same Request-Id), and meanwhile:
//
//	faults    30% upstream 5xx and 10% hangs on the GoPay and SNAP calls
//	redis     Redis killed, down 2 s, started again
//	postgres  PostgreSQL restarted (fast shutdown)
//	sigterm   one instance sent SIGTERM, then started again
//
// It prints one table and exits 1 on any duplicate effect, lost row, 500 or connection cut
// (EOF) answered to a client. Run it with `make chaos`; it is not part of `make test`.
//
// Root cannot run PostgreSQL: the cluster is run as the "postgres" user (runuser).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gopay-miniapp/bff/internal/config"
	"github.com/gopay-miniapp/bff/internal/seal"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

const pgBin = "/usr/lib/postgresql/15/bin"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
}

type world struct {
	dir        string
	pgPort     string
	redisPort  string
	redis      *exec.Cmd
	sandbox    *exec.Cmd
	sandboxURL string
	servers    []*server
	serverEnv  []string
	bin        string
}

type server struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func run() error {
	dir, err := os.MkdirTemp("", "chaos-")
	if err != nil {
		return err
	}
	w := &world{dir: dir, bin: os.Getenv("CHAOS_BIN")}
	defer w.teardown()
	if err := w.start(); err != nil {
		return err
	}
	return w.play()
}

func freePort() string {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func sh(name string, args ...string) error {
	out, err := exec.CommandContext(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (w *world) pg(args ...string) error {
	return sh("runuser", append([]string{"-u", "postgres", "--", pgBin + "/pg_ctl"}, args...)...)
}

func (w *world) pgStart() error {
	return w.pg("-D", filepath.Join(w.dir, "pg"), "-o", "-p "+w.pgPort+" -k "+w.dir+" -c listen_addresses=127.0.0.1",
		"-l", filepath.Join(w.dir, "pg.log"), "-w", "start")
}

func (w *world) redisStart() error {
	w.redis = exec.CommandContext(context.Background(), "redis-server", "--port", w.redisPort, "--bind", "127.0.0.1", //nolint:gosec // ours
		"--save", "", "--appendonly", "no", "--dir", w.dir)
	return w.redis.Start()
}

func (w *world) redisKill() {
	if w.redis != nil && w.redis.Process != nil {
		_ = w.redis.Process.Kill()
		_ = w.redis.Wait()
	}
}

func (w *world) start() error {
	if err := os.Chmod(w.dir, 0o777); err != nil { //nolint:gosec // the postgres user writes its cluster here
		return err
	}
	w.pgPort, w.redisPort = freePort(), freePort()
	if err := sh("runuser", "-u", "postgres", "--", pgBin+"/initdb", "-D", filepath.Join(w.dir, "pg"), "-A", "trust", "-U", "postgres"); err != nil {
		return err
	}
	if err := w.pgStart(); err != nil {
		return err
	}
	if err := w.redisStart(); err != nil {
		return err
	}
	dbURL := "postgres://postgres@127.0.0.1:" + w.pgPort + "/chaos?sslmode=disable"
	conn, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:"+w.pgPort+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	_, err = conn.Exec(context.Background(), "CREATE DATABASE chaos")
	_ = conn.Close(context.Background())
	if err != nil {
		return err
	}

	keyPEM, err := snapsig.NewPrivateKeyPEM()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(w.dir, "snap.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	secret := func() string { return seal.NewKeySpec("x", 12)[2:] }
	shared := []string{
		"GOPAY_CLIENT_ID=chaos-client", "GOPAY_CLIENT_SECRET=" + secret(),
		"SNAP_CLIENT_KEY=chaos-snap", "SNAP_CLIENT_SECRET=" + secret(), "SNAP_PRIVATE_KEY_FILE=" + keyFile,
		"MIDTRANS_SERVER_KEY=SB-Mid-server-" + secret(), "CARD_CLIENT_ID=CHAOSCLIENT012345678901234567890",
	}
	sbPort := freePort()
	w.sandboxURL = "http://127.0.0.1:" + sbPort
	w.sandbox = exec.CommandContext(context.Background(), filepath.Join(w.bin, "sandbox")) //nolint:gosec // ours
	w.sandbox.Env = append(os.Environ(), append(shared, "SANDBOX_ADDR=127.0.0.1:"+sbPort)...)
	if err := w.sandbox.Start(); err != nil {
		return err
	}
	w.serverEnv = append(os.Environ(), append(shared,
		"DATABASE_URL="+dbURL, "REDIS_URL=redis://127.0.0.1:"+w.redisPort+"/0", "REDIS_KEY_PREFIX=chaos:",
		"GOPAY_BASE_URL="+w.sandboxURL, "SNAP_BASE_URL="+w.sandboxURL, "MIDTRANS_BASE_URL="+w.sandboxURL,
		"CARD_BASE_URL="+w.sandboxURL, "CARD_WEBVIEW_BASE_URL="+w.sandboxURL+"/sandbox/card-webview",
		"PUBLIC_BASE_URL=http://127.0.0.1:1", "SNAP_PARTNER_ID=CHAOSPARTNER", "SNAP_MERCHANT_ID=G77777", "CARD_MERCHANT_ID=G77777",
		"ENCRYPTION_KEYS="+seal.NewKeySpec("c1", 32), "BLIND_INDEX_KEY="+seal.NewKeySpec("x", 32)[2:],
		"SESSION_KEYS="+seal.NewKeySpec("c1", 32), "INTERNAL_CLIENTS=payments:"+config.HashSecret("chaos"),
		"GOPAY_TIMEOUT=1s", "SNAP_TIMEOUT=1s", "MIDTRANS_TIMEOUT=1s", "REQUEST_TIMEOUT=4s", "HTTP_WRITE_TIMEOUT=10s",
		"SHUTDOWN_DELAY=1500ms", "ADMIN_ADDR=127.0.0.1:0", "SHUTDOWN_TIMEOUT=8s", "LOG_LEVEL=warn",
		"RATE_LIMIT_SESSIONS_PER_IP=off", "RATE_LIMIT_SESSIONS_PER_AUTH_CODE=off", "RATE_LIMIT_WRITES_PER_USER=off",
		"RATE_LIMIT_TOKENS_PER_IP=off", "RATE_LIMIT_TOKENS_PER_CLIENT=off")...)
	// CHAOS_SERVER_ENV (KEY=VALUE,...) overrides the servers' settings, to see what one of them
	// buys: CHAOS_SERVER_ENV=SHUTDOWN_DELAY=0s make chaos.
	if extra := os.Getenv("CHAOS_SERVER_ENV"); extra != "" {
		w.serverEnv = append(w.serverEnv, strings.Split(extra, ",")...)
	}
	for range 3 {
		w.servers = append(w.servers, &server{addr: "127.0.0.1:" + freePort()})
	}
	for i := range w.servers {
		if err := w.startServer(i); err != nil {
			return err
		}
	}
	return waitAll(30*time.Second, func() bool { return len(w.ready()) == 3 })
}

func (w *world) startServer(i int) error {
	s := w.servers[i]
	log, err := os.Create(filepath.Join(w.dir, fmt.Sprintf("server%d.log", i)))
	if err != nil {
		return err
	}
	s.cmd = exec.CommandContext(context.Background(), filepath.Join(w.bin, "server")) //nolint:gosec // ours
	s.cmd.Env = append(slices.Clone(w.serverEnv), "HTTP_ADDR="+s.addr)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); _ = log.Close(); close(s.done) }()
	return nil
}

func (w *world) teardown() {
	for _, s := range w.servers {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if w.sandbox != nil && w.sandbox.Process != nil {
		_ = w.sandbox.Process.Kill()
		_ = w.sandbox.Wait()
	}
	w.redisKill()
	_ = w.pg("-D", filepath.Join(w.dir, "pg"), "-m", "immediate", "stop")
	if os.Getenv("CHAOS_KEEP") == "" {
		_ = os.RemoveAll(w.dir)
	} else {
		fmt.Println("kept", w.dir)
	}
}

var probe = &http.Client{Timeout: 500 * time.Millisecond}

// ready lists the instances whose /readyz answers 200: what a load balancer sends to.
func (w *world) ready() []string {
	var out []string
	for _, s := range w.servers {
		resp, err := get(probe, "http://"+s.addr+"/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				out = append(out, "http://"+s.addr)
			}
		}
	}
	return out
}

func get(c *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func waitAll(limit time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return errors.New("timed out waiting for the fleet to be ready")
}
