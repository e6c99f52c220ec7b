package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// The Midtrans Core API for legacy GoPay tokenization accounts (seed 002 and the public docs):
// create (PENDING with activation links), status, unbind. HTTP Basic auth with the server key
// as user and an empty password. Midtrans puts the outcome in the body's status_code; a "204"
// status_code travels in an HTTP 200 (a 204 cannot carry a body).
//
// Scenarios by account id prefix, for ids the sandbox never created: pending-…, expired-…,
// enabled-…, disabled-…, and inactive-… (ENABLED here, but its linking is inactive at GoPay, so
// the SNAP swap answers 4030818). Created accounts: a phone number ending in 0001 expires and
// one ending in 0002 is disabled; any other stays PENDING until its activation link is opened.

type legacyAccount struct {
	id, phone       string
	status          string // PENDING, EXPIRED, ENABLED, DISABLED
	inactiveLinking bool
	options         []paymentOption
	swapped         *snapCustomer
}

var phonePattern = regexp.MustCompile(`^[0-9]{9,13}$`)

func coreFault(status int, _ string) any {
	return map[string]any{"status_code": fmt.Sprint(status), "status_message": "Injected fault"}
}

func (s *Sandbox) coreRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v2/pay/account", s.upstream(OpCoreCreate, coreFault, s.coreAuth(s.coreCreate)))
	mux.HandleFunc("GET /v2/pay/account/{id}", s.upstream(OpCoreStatus, coreFault, s.coreAuth(s.coreStatus)))
	mux.HandleFunc("POST /v2/pay/account/{id}/unbind", s.upstream(OpCoreUnbind, coreFault, s.coreAuth(s.coreUnbind)))
	mux.HandleFunc("GET /sandbox/coreapi/activate/{id}", s.coreActivate)
}

func coreAnswer(w http.ResponseWriter, statusCode string, body map[string]any) {
	body["status_code"] = statusCode
	status := http.StatusOK
	switch statusCode {
	case "201":
		status = http.StatusCreated
	case "400", "401", "404":
		_, _ = fmt.Sscanf(statusCode, "%d", &status)
	}
	writeJSON(w, status, body)
}

func (s *Sandbox) coreAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || pass != "" || subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.MidtransServerKey)) != 1 {
			coreAnswer(w, "401", map[string]any{"status_message": "Unknown Merchant server_key/id"})
			return
		}
		next(w, r)
	}
}

func (s *Sandbox) coreCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PaymentType  string `json:"payment_type"`
		GoPayPartner struct {
			PhoneNumber string `json:"phone_number"`
			CountryCode string `json:"country_code"`
			RedirectURL string `json:"redirect_url"`
		} `json:"gopay_partner"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8192)).Decode(&req); err != nil {
		coreAnswer(w, "400", map[string]any{"status_message": "Request body is not JSON"})
		return
	}
	if req.PaymentType != "gopay" || !phonePattern.MatchString(req.GoPayPartner.PhoneNumber) || req.GoPayPartner.CountryCode == "" {
		coreAnswer(w, "400", map[string]any{"status_message": "payment_type must be gopay; gopay_partner.phone_number (9-13 digits) and country_code are required"})
		return
	}
	acct := &legacyAccount{id: uuid.NewString(), phone: req.GoPayPartner.PhoneNumber, status: "PENDING", options: newOptions()}
	s.mu.Lock()
	s.legacy[acct.id] = acct
	s.mu.Unlock()
	base := "http://" + r.Host + "/sandbox/coreapi/activate/" + acct.id
	coreAnswer(w, "201", map[string]any{"payment_type": "gopay", "account_id": acct.id, "account_status": "PENDING",
		"actions": []map[string]string{
			{"name": "activation-link-url", "method": "GET", "url": base},
			{"name": "activation-link-app", "method": "GET", "url": base + "?app=1"},
		}})
}

// legacyLocked finds an account, creating the scenario accounts on first sight.
func (s *Sandbox) legacyLocked(id string) *legacyAccount {
	if a, ok := s.legacy[id]; ok {
		s.applyPhoneScenario(a)
		return a
	}
	prefix, _, ok := strings.Cut(id, "-")
	if !ok {
		return nil
	}
	a := &legacyAccount{id: id, phone: "81200000000", options: newOptions()}
	switch prefix {
	case "pending", "expired", "enabled", "disabled":
		a.status = strings.ToUpper(prefix)
	case "inactive":
		a.status, a.inactiveLinking = "ENABLED", true
	default:
		return nil
	}
	s.legacy[id] = a
	return a
}

func (s *Sandbox) applyPhoneScenario(a *legacyAccount) {
	if a.status != "PENDING" {
		return
	}
	switch {
	case strings.HasSuffix(a.phone, "0001"):
		a.status = "EXPIRED"
	case strings.HasSuffix(a.phone, "0002"):
		a.status = "DISABLED"
	}
}

func (s *Sandbox) coreStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.legacyLocked(r.PathValue("id"))
	if a == nil {
		coreAnswer(w, "404", map[string]any{"status_message": "Account doesn't exist."})
		return
	}
	body := map[string]any{"payment_type": "gopay", "account_id": a.id, "account_status": a.status}
	switch a.status {
	case "PENDING":
		coreAnswer(w, "201", body)
	case "ENABLED":
		opts := make([]map[string]any, 0, len(a.options))
		for _, o := range a.options {
			opts = append(opts, map[string]any{"name": o.Name, "active": o.Active, "metadata": map[string]any{},
				"balance": map[string]any{"value": fmt.Sprintf("%d.00", o.Balance), "currency": o.Currency}, "token": o.Token})
		}
		body["metadata"] = map[string]any{"payment_options": opts}
		coreAnswer(w, "200", body)
	default:
		coreAnswer(w, "204", body)
	}
}

func (s *Sandbox) coreUnbind(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.legacyLocked(r.PathValue("id"))
	if a == nil {
		coreAnswer(w, "404", map[string]any{"status_message": "Account doesn't exist."})
		return
	}
	a.status = "DISABLED"
	if a.swapped != nil {
		a.swapped.active = false
	}
	coreAnswer(w, "204", map[string]any{"payment_type": "gopay", "account_id": a.id, "account_status": "DISABLED",
		"channel_response_code": "0", "channel_response_message": "Process service request successfully."})
}

// SetLegacyStatus moves a Core API account to PENDING, EXPIRED, ENABLED or DISABLED, as time
// or the customer would.
func (s *Sandbox) SetLegacyStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.legacyLocked(id); a != nil {
		a.status = status
	}
}

// coreActivate is the activation page a customer opens from the PENDING account's link.
func (s *Sandbox) coreActivate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.legacy[r.PathValue("id")]
	if a != nil && a.status == "PENDING" {
		a.status = "ENABLED"
	}
	s.mu.Unlock()
	if a == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, "<!doctype html><title>GoPay linked</title><p>Sandbox: GoPay account %s is now %s.</p>", a.id, a.status)
}
