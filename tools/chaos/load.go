package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// phase is one stretch of the run: what is done to the fleet at its start (and undone at its
// end), and what the clients saw meanwhile.
type phase struct {
	name     string
	length   time.Duration
	act      func(w *world) (readyAgain time.Duration, err error)
	undo     func(w *world)
	statuses map[int]int
	refused  int // connection refused: the balancer's list was a moment stale; retried elsewhere
	cuts     int // the connection died after the request was sent (EOF, reset): the client got no answer
	millis   []float64
	ready    time.Duration
}

type stats struct {
	mu     sync.Mutex
	phases []*phase
	cur    atomic.Pointer[phase]

	links, linkGaveUp, sessions, cards atomic.Int64
	linkIDs, userIDs, cardIDs          []string
}

func (s *stats) record(status int, took time.Duration, refused, cut bool) {
	p := s.cur.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case refused:
		p.refused++
	case cut:
		p.cuts++
	default:
		p.statuses[status]++
		p.millis = append(p.millis, float64(took.Microseconds())/1000)
	}
}

func (s *stats) keep(list *[]string, id string) {
	s.mu.Lock()
	*list = append(*list, id)
	s.mu.Unlock()
}

// client sends to the instances the balancer currently lists.
type client struct {
	http    *http.Client
	targets atomic.Pointer[[]string]
	stats   *stats
	sandbox string
}

func (c *client) pick(deadline time.Time) (string, bool) {
	for time.Now().Before(deadline) {
		if t := *c.targets.Load(); len(t) > 0 {
			return t[rand.IntN(len(t))], true //nolint:gosec // load spreading, not security
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", false
}

// call makes one logical request, retrying as a good mobile client does (same key, same body)
// on 5xx, 409 (in progress), 429 and network errors, for up to budget. It returns the final
// status and body, or 0 if it gave up.
func (c *client) call(method, path, body, auth, key string, budget time.Duration) (int, []byte) {
	for deadline := time.Now().Add(budget); time.Now().Before(deadline); time.Sleep(150 * time.Millisecond) {
		target, ok := c.pick(deadline)
		if !ok {
			break // no instance ready for the whole budget
		}
		req, _ := http.NewRequestWithContext(context.Background(), method, target+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if key != "" {
			req.Header.Set("Request-Id", key)
		}
		began := time.Now()
		resp, err := c.http.Do(req)
		if err != nil {
			refused := errors.Is(err, syscall.ECONNREFUSED)
			c.stats.record(0, 0, refused, !refused)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			c.stats.record(0, 0, false, true)
			continue
		}
		c.stats.record(resp.StatusCode, time.Since(began), false, false)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusConflict && strings.Contains(string(b), "request_in_progress") ||
			resp.StatusCode == http.StatusTooManyRequests {
			continue
		}
		return resp.StatusCode, b
	}
	return 0, nil
}

func (c *client) mint(path, body, field string) string {
	resp, err := http.Post(c.sandbox+path, "application/json", strings.NewReader(body)) //nolint:noctx // a test tool
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	s, _ := m[field].(string)
	return s
}

func field(b []byte, name string) string {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s, _ := m[name].(string)
	return s
}

func (w *world) play() error {
	st := &stats{}
	c := &client{http: &http.Client{Timeout: 15 * time.Second}, stats: st, sandbox: w.sandboxURL}
	ready := w.ready()
	c.targets.Store(&ready)
	stopBalancer := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopBalancer:
				return
			case <-time.After(100 * time.Millisecond):
			}
			r := w.ready()
			c.targets.Store(&r)
		}
	}()
	defer close(stopBalancer)

	setup := &phase{name: "setup", statuses: map[int]int{}}
	st.cur.Store(setup)
	var sessions, gopayUsers []string
	for i := range 8 {
		code := c.mint("/sandbox/auth-codes", fmt.Sprintf(`{"user_id":"chaos-user-%d"}`, i), "auth_code")
		status, b := c.call("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`, "", "", 10*time.Second)
		if status != 201 {
			return fmt.Errorf("setup session: %d %s", status, b)
		}
		auth := "Bearer " + field(b, "session_token")
		sessions = append(sessions, auth)
		if i < 4 {
			phone := fmt.Sprintf("8127000000%d", i)
			lc := c.mint("/sandbox/gopay-auth-codes", `{"phone_number":"`+phone+`"}`, "auth_code")
			if status, b := c.call("POST", "/v1/gopay-link", `{"auth_code":"`+lc+`","phone_number":"`+phone+`","name":"Chaos"}`, auth, "", 10*time.Second); status != 201 {
				return fmt.Errorf("setup gopay link: %d %s", status, b)
			}
			gopayUsers = append(gopayUsers, auth)
		}
	}

	faultOps := []string{"gopay.bank_details", "gopay.auth_token", "snap.inquiry", "snap.oauth_code"}
	st.phases = []*phase{
		{name: "steady", length: 6 * time.Second},
		{name: "faults", length: 8 * time.Second, act: func(w *world) (time.Duration, error) {
			for _, op := range faultOps {
				if err := sandboxFault(w.sandboxURL, op, `{"error_rate":0.3,"hang_rate":0.1}`); err != nil {
					return 0, err
				}
			}
			return 0, nil
		}, undo: func(w *world) { _ = sandboxFault(w.sandboxURL, "", "") }},
		{name: "redis restart", length: 8 * time.Second, act: func(w *world) (time.Duration, error) {
			began := time.Now()
			w.redisKill()
			time.Sleep(2 * time.Second)
			if err := w.redisStart(); err != nil {
				return 0, err
			}
			// Redis does not make an instance unready; "ready in" here is down time until
			// keyed POSTs succeed again.
			err := waitAll(30*time.Second, func() bool { return redisUp(w) })
			return time.Since(began), err
		}},
		{name: "postgres restart", length: 8 * time.Second, act: func(w *world) (time.Duration, error) {
			began := time.Now()
			// -l as at start: without it the new postmaster would hold pg_ctl's output open.
			if err := w.pg("-D", filepath.Join(w.dir, "pg"), "-m", "fast", "-w", "restart", "-l", filepath.Join(w.dir, "pg.log"),
				"-o", "-p "+w.pgPort+" -k "+w.dir+" -c listen_addresses=127.0.0.1"); err != nil {
				return 0, err
			}
			err := waitAll(30*time.Second, func() bool { return len(w.ready()) == 3 })
			return time.Since(began), err
		}},
		{name: "sigterm + restart", length: 8 * time.Second, act: func(w *world) (time.Duration, error) {
			s := w.servers[1]
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			<-s.done
			began := time.Now()
			if err := w.startServer(1); err != nil {
				return 0, err
			}
			err := waitAll(30*time.Second, func() bool { return len(w.ready()) == 3 })
			return time.Since(began), err
		}},
		{name: "recovered", length: 4 * time.Second},
	}
	for _, p := range st.phases {
		p.statuses = map[int]int{}
	}

	var running atomic.Bool
	running.Store(true)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for n := 0; running.Load(); n++ {
				switch (i + n) % 10 {
				case 0, 1, 2, 3, 4: // link a bank account, with a key and retries
					number := fmt.Sprintf("%011d", rand.Int64N(1e11)) //nolint:gosec // test data
					tok := c.mint("/sandbox/account-tokens", `{"bank_account_number":"`+number+`"}`, "account_token")
					status, b := c.call("POST", "/v1/bank-accounts", `{"account_token":"`+tok+`"}`, sessions[rand.IntN(len(sessions))], uuid.NewString(), 30*time.Second) //nolint:gosec // load spreading
					switch status {
					case 200, 201:
						st.links.Add(1)
						st.keep(&st.linkIDs, field(b, "id"))
					case 0:
						st.linkGaveUp.Add(1)
					}
				case 5, 6: // open a session
					code := c.mint("/sandbox/auth-codes", fmt.Sprintf(`{"user_id":"chaos-%d-%d"}`, i, n), "auth_code")
					if status, b := c.call("POST", "/v1/sessions", `{"auth_code":"`+code+`"}`, "", uuid.NewString(), 30*time.Second); status == 201 {
						st.sessions.Add(1)
						st.keep(&st.userIDs, subject(field(b, "session_token")))
					}
				case 7, 8: // read GoPay payment options
					c.call("GET", "/v1/gopay-link/payment-options", "", gopayUsers[rand.IntN(len(gopayUsers))], "", 30*time.Second) //nolint:gosec // load spreading
				case 9: // start a card binding
					if status, b := c.call("POST", "/v1/card-bindings", `{"mobile_number":"081234567890"}`, sessions[rand.IntN(len(sessions))], uuid.NewString(), 30*time.Second); status == 201 { //nolint:gosec // load spreading
						st.cards.Add(1)
						st.keep(&st.cardIDs, field(b, "id"))
					}
				}
			}
		})
	}
	for _, p := range st.phases {
		st.cur.Store(p)
		began := time.Now()
		if p.act != nil {
			ready, err := p.act(w)
			if err != nil {
				running.Store(false)
				wg.Wait()
				return fmt.Errorf("phase %s: %w", p.name, err)
			}
			p.ready = ready
		}
		time.Sleep(max(0, p.length-time.Since(began)))
		if p.undo != nil {
			p.undo(w)
		}
	}
	running.Store(false)
	wg.Wait()
	return w.report(st)
}

func redisUp(w *world) bool {
	c := &http.Client{Timeout: time.Second}
	ok := true
	for _, s := range w.servers {
		resp, err := get(c, "http://"+s.addr+"/readyz")
		if err != nil {
			return false
		}
		var r struct {
			Checks map[string]string `json:"checks"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		_ = resp.Body.Close()
		ok = ok && r.Checks["redis"] == "ok"
	}
	return ok
}

func sandboxFault(base, op, body string) error {
	method, url := http.MethodPut, base+"/sandbox/faults/"+op
	if op == "" {
		method, url = http.MethodDelete, base+"/sandbox/faults"
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader([]byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sandbox fault %s: %d", op, resp.StatusCode)
	}
	return nil
}

// subject is a session token's user id.
func subject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (w *world) report(st *stats) error {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:"+w.pgPort+"/chaos?sslmode=disable")
	if err != nil {
		return err
	}
	defer pool.Close()
	missing := func(table string, ids []string) (int, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[]) AS i(id) WHERE NOT EXISTS (SELECT 1 FROM `+table+` t WHERE t.id = i.id)`, ids).Scan(&n)
		return n, err
	}
	lostLinks, err := missing("bank_accounts", st.linkIDs)
	if err != nil {
		return err
	}
	lostUsers, err := missing("users", st.userIDs)
	if err != nil {
		return err
	}
	lostCards, err := missing("card_bindings", st.cardIDs)
	if err != nil {
		return err
	}
	var rows, duplicates int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) - count(DISTINCT (user_id, bank_code, account_number_index)) FROM bank_accounts`).Scan(&rows, &duplicates); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %8s %6s %6s %6s %6s %6s %6s %6s %6s %8s %8s %9s\n", "phase", "requests", "2xx", "4xx", "409", "500", "503", "504", "cut", "refused", "p50 ms", "p99 ms", "ready in")
	b.WriteString("(ready in: redis = from the kill until every instance reaches Redis again, 2 s of it down; postgres = restart until all ready; sigterm = new process until ready)\n")
	fives, cuts := 0, 0
	for _, p := range st.phases {
		n, ok, c4, c409, c503, c504 := 0, 0, 0, 0, 0, 0
		for s, k := range p.statuses {
			n += k
			switch {
			case s < 300:
				ok += k
			case s == 409:
				c409 += k
			case s < 500:
				c4 += k
			case s == 503:
				c503 += k
			case s == 504:
				c504 += k
			}
		}
		fives += p.statuses[500]
		cuts += p.cuts
		ready := "-"
		if p.ready > 0 {
			ready = p.ready.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%-18s %8d %6d %6d %6d %6d %6d %6d %6d %6d %8.1f %8.1f %9s\n", p.name, n, ok, c4, c409, p.statuses[500], c503, c504,
			p.cuts, p.refused, percentile(p.millis, 0.5), percentile(p.millis, 0.99), ready)
	}
	fmt.Fprintf(&b, "\nlinks answered 2xx %d (gave up after 30 s of retries: %d); bank_accounts rows %d; duplicate rows %d; answered but no row %d\n",
		st.links.Load(), st.linkGaveUp.Load(), rows, duplicates, lostLinks)
	fmt.Fprintf(&b, "sessions answered 201 %d, user missing %d; card bindings answered 201 %d, row missing %d\n",
		st.sessions.Load(), lostUsers, st.cards.Load(), lostCards)
	fmt.Fprintf(&b, "500s %d; connections cut %d\n", fives, cuts)
	fmt.Print(b.String())
	if out := os.Getenv("CHAOS_REPORT"); out != "" {
		_ = os.WriteFile(out, []byte(b.String()), 0o600)
	}
	if duplicates > 0 || lostLinks+lostUsers+lostCards > 0 || fives > 0 || cuts > 0 {
		return errFailed
	}
	return nil
}

var errFailed = errors.New("FAILED: a duplicate, a lost row, a 500 or a cut connection (see the table)")
