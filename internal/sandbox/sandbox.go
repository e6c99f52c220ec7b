// Package sandbox plays the upstream APIs the service calls, faithfully and strictly: it
// checks credentials, honours idempotency keys and answers with the documented error codes.
// The server starts it in-process when no upstream is configured, cmd/sandbox runs it alone,
// and tests drive the real gateways against it over HTTP. Faults (latency, 5xx, hangs) can be
// injected per operation, and every call is counted per operation.
package sandbox

import (
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Operation names, as used for fault injection and call counts.
const (
	OpGoPayAuthToken   = "gopay.auth_token" //nolint:gosec // an operation name, not a credential
	OpGoPayBankDetails = "gopay.bank_details"
	OpSNAPAccessToken  = "snap.access_token" //nolint:gosec // an operation name, not a credential
	OpSNAPBinding      = "snap.binding"
	OpSNAPInquiry      = "snap.inquiry"
	OpSNAPUnbinding    = "snap.unbinding"
	OpSNAPOAuthCode    = "snap.oauth_code"
	OpCoreCreate       = "coreapi.create_account"
	OpCoreStatus       = "coreapi.account_status"
	OpCoreUnbind       = "coreapi.unbind"
)

// Options configures a Sandbox: the credentials it checks, as each upstream would.
type Options struct {
	GoPayClientID     string
	GoPayClientSecret string
	SNAPClientKey     string
	SNAPClientSecret  string
	SNAPPublicKey     *rsa.PublicKey // verifies the B2B token request's signature
	MidtransServerKey string
	CardClientID      string           // X-CLIENT-KEY of Get OAuth Code (32 characters)
	DemoAPIURL        string           // the API the demo mini app calls; default http://127.0.0.1:8080
	PINAbove          int64            // a direct debit of at least this many sen waits for the customer's PIN; default 1,000,000.00 IDR
	AuthCodeTTL       time.Duration    // default 5 minutes, as GoPay documents
	Now               func() time.Time // default time.Now
}

// Sandbox holds the upstreams' state in memory.
type Sandbox struct {
	opts Options

	mu            sync.Mutex
	authCodes     map[string]*authCode
	users         map[string]*miniAppUser // by sandbox user id
	accountTokens map[string]*accountToken
	replays       map[string]recorded // by operation, caller and Request-Id
	faults        map[string]Fault
	calls         map[string]int
	rng           *rand.Rand

	b2bTokens        map[string]time.Time // B2B token -> expiry
	externalIDs      map[string]bool      // day, partner, X-EXTERNAL-ID
	snapAuthCodes    map[string]*snapAuthCode
	customers        map[string]*snapCustomer // by customer token
	customersByPhone map[string]*snapCustomer
	legacy           map[string]*legacyAccount // Core API accounts by id
	oauthCodes       map[string]*oauthCode     // card registration auth codes

	debits       map[string]*debit   // direct debits by partnerReferenceNo
	debitsByRef  map[string]*debit   // and by referenceNo
	debitReplays map[string]replayed // payment answers by day, partner and X-EXTERNAL-ID
	notifyKey    *rsa.PrivateKey     // signs payment notifications
	notifyURL    string
	notifyFaults NotifyFaults
	sent         []SentNotification
}

// New returns a sandbox; it panics without GoPay credentials, which it must check.
func New(opts Options) *Sandbox {
	if opts.GoPayClientID == "" || opts.GoPayClientSecret == "" || opts.SNAPClientKey == "" ||
		opts.SNAPClientSecret == "" || opts.SNAPPublicKey == nil || opts.MidtransServerKey == "" || opts.CardClientID == "" {
		panic("sandbox.New: every upstream's credentials are required")
	}
	if opts.AuthCodeTTL <= 0 {
		opts.AuthCodeTTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PINAbove <= 0 {
		opts.PINAbove = 1_000_000_00
	}
	notifyKey, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		panic("sandbox.New: " + err.Error())
	}
	if opts.DemoAPIURL == "" {
		opts.DemoAPIURL = "http://127.0.0.1:8080"
	}
	return &Sandbox{
		opts:          opts,
		authCodes:     map[string]*authCode{},
		users:         map[string]*miniAppUser{},
		accountTokens: map[string]*accountToken{},
		replays:       map[string]recorded{},
		faults:        map[string]Fault{},
		calls:         map[string]int{},
		rng:           rand.New(rand.NewPCG(1, 2)), //nolint:gosec // fault injection wants repeatable, not secret, randomness

		b2bTokens:        map[string]time.Time{},
		externalIDs:      map[string]bool{},
		snapAuthCodes:    map[string]*snapAuthCode{},
		customers:        map[string]*snapCustomer{},
		customersByPhone: map[string]*snapCustomer{},
		legacy:           map[string]*legacyAccount{},
		oauthCodes:       map[string]*oauthCode{},

		debits:       map[string]*debit{},
		debitsByRef:  map[string]*debit{},
		debitReplays: map[string]replayed{},
		notifyKey:    notifyKey,
	}
}

// Handler serves every upstream the sandbox plays plus its /sandbox control endpoints.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/mini-apps/authorizations/token", s.upstream(OpGoPayAuthToken, gopayFault, s.gopayAuthToken))
	mux.HandleFunc("POST /v1/mini-apps/bank-details", s.upstream(OpGoPayBankDetails, gopayFault, s.gopayBankDetails))
	s.snapRoutes(mux)
	s.coreRoutes(mux)
	s.cardRoutes(mux)
	s.demoRoutes(mux)
	s.debitRoutes(mux)
	mux.HandleFunc("POST /sandbox/auth-codes", s.mintAuthCode)
	mux.HandleFunc("POST /sandbox/account-tokens", s.mintAccountToken)
	mux.HandleFunc("PUT /sandbox/faults/{operation}", s.putFault)
	mux.HandleFunc("DELETE /sandbox/faults", s.deleteFaults)
	mux.HandleFunc("GET /sandbox/calls", s.getCalls)
	return mux
}

// Fault is what to do to calls of one operation before they are processed. A faulted call
// has no effect, as a real 5xx from a gateway in front of the upstream would not.
type Fault struct {
	LatencyMS int     `json:"latency_ms"` // added before answering
	ErrorRate float64 `json:"error_rate"` // share of calls answered with Status
	FailNext  int     `json:"fail_next"`  // the next N calls are answered with Status
	Hang      bool    `json:"hang"`       // never answer; hold the call until the caller gives up
	HangRate  float64 `json:"hang_rate"`  // share of calls that hang (after ErrorRate's share is drawn)
	Status    int     `json:"status"`     // the status to answer (400 to 599), in the upstream's error shape; default 503
	// ResponseCode makes a SNAP operation answer this responseCode (its HTTP status is the
	// code's first three digits) instead of processing the call: for codes no request can
	// provoke, such as 4040805 or 5040800. It applies to every call while set.
	ResponseCode string `json:"response_code"`
	// LoseAnswerNext processes the next N calls in full, then cuts the connection instead of
	// answering: the effect happened, the caller never learns it (a lost answer).
	LoseAnswerNext int `json:"lose_answer_next"`
}

// faultBody renders a faulted answer in the upstream's own shape.
type faultBody func(status int, responseCode string) any

// gopayFault answers in GoPay's envelope, with the status as the error code (the sandbox's
// own codes for 400 and 401 are the status too; 404 is 900, GoPay's Token Not Found).
func gopayFault(status int, _ string) any {
	code := any(strconv.Itoa(status))
	if status == http.StatusNotFound {
		code = gopayTokenNotFound
	}
	return map[string]any{"success": false, "error": map[string]any{"code": code, "description": "Injected fault"}}
}

// validFaultStatus is what a fault may answer: any client or server error.
func validFaultStatus(status int) bool { return status >= 400 && status <= 599 }

// SetFault replaces the fault of an operation.
func (s *Sandbox) SetFault(op string, f Fault) {
	if !validFaultStatus(f.Status) {
		f.Status = http.StatusServiceUnavailable
	}
	if len(f.ResponseCode) == 7 {
		if status, err := strconv.Atoi(f.ResponseCode[:3]); err == nil {
			f.Status = status
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = f
}

// ClearFaults removes every fault.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]Fault{}
}

// Calls counts the calls an operation has received, faulted ones included.
func (s *Sandbox) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// upstream wraps an upstream route: count the call, then apply the operation's fault.
func (s *Sandbox) upstream(op string, body faultBody, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[op]++
		f := s.faults[op]
		fail := false
		if f.FailNext > 0 {
			f.FailNext--
			s.faults[op] = f
			fail = true
		} else if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate || f.ResponseCode != "" {
			fail = true
		}
		hangs := f.Hang || !fail && f.HangRate > 0 && s.rng.Float64() < f.HangRate
		lose := !fail && !hangs && f.LoseAnswerNext > 0
		if lose {
			f.LoseAnswerNext--
			s.faults[op] = f
		}
		s.mu.Unlock()

		if hangs {
			// Read the body first: net/http notices a caller that hangs up (and cancels
			// r.Context()) only once the body is consumed; unread, the handler would hold its
			// connection, and a graceful shutdown, for the full minute.
			_, _ = io.Copy(io.Discard, r.Body)
			hang(r.Context())
			return
		}
		if f.LatencyMS > 0 {
			select {
			case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		if fail {
			writeJSON(w, f.Status, body(f.Status, f.ResponseCode))
			return
		}
		if lose {
			h(httptest.NewRecorder(), r) // the call takes effect; its answer goes nowhere
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		h(w, r)
	}
}

// hang holds a call until the caller goes away, or a minute passes.
func hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
}

func (s *Sandbox) putFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
		http.Error(w, "body must be a fault object", http.StatusBadRequest)
		return
	}
	if f.Status != 0 && !validFaultStatus(f.Status) {
		http.Error(w, "status must be 400 to 599 (or unset for 503)", http.StatusBadRequest)
		return
	}
	s.SetFault(r.PathValue("operation"), f)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) getCalls(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// recorded is an answer kept for an idempotency key.
type recorded struct {
	status int
	body   []byte
}

// replayOrRecord runs fn once per (operation, caller, requestID) and replays its answer to any
// later call with the same key. An empty requestID is not idempotent.
func (s *Sandbox) replayOrRecord(w http.ResponseWriter, op, caller, requestID string, fn func() (int, any)) {
	key := op + "\x00" + caller + "\x00" + requestID
	if requestID != "" {
		s.mu.Lock()
		rec, ok := s.replays[key]
		s.mu.Unlock()
		if ok {
			writeRaw(w, rec.status, rec.body)
			return
		}
	}
	status, v := fn()
	body, _ := json.Marshal(v)
	if requestID != "" {
		s.mu.Lock()
		s.replays[key] = recorded{status: status, body: body}
		s.mu.Unlock()
	}
	writeRaw(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
