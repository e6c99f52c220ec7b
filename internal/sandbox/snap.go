package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// The SNAP (BI standard) side of Midtrans/GoPay: B2B access token (service 73), account binding
// (07), binding inquiry (08, both modes) and unbinding (09). Every call is checked strictly, in
// this order, each failure answered with its documented responseCode (HTTP status + service
// code + case): mandatory headers (400xx02), header formats (400xx01), the B2B token (401xx01),
// the signature (401xx00), the X-EXTERNAL-ID not used today (409xx00), then the body.
//
// Scenarios: a phone number ending in 9999 binds a customer whose linking is already inactive;
// Core API account ids (see coreapi.go) select the legacy scenarios; faults can force any code.

const (
	svcAccessToken = "73"
	svcBinding     = "07"
	svcInquiry     = "08"
	svcUnbinding   = "09"

	b2bTokenTTL = 900 * time.Second
)

var (
	channelIDPattern  = regexp.MustCompile(`^[0-9]{5}$`)
	externalIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,36}$`)
)

// snapCustomer is a GoPay account bound to the merchant over SNAP.
type snapCustomer struct {
	phone    string
	token    string // the customer token (Authorization-Customer)
	active   bool
	legacyID string // set when the binding came from a legacy account swap
	options  []paymentOption
}

type paymentOption struct {
	Name     string
	Active   bool
	Balance  int64
	Currency string
	Token    string
}

type snapAuthCode struct {
	phone string
	used  bool
}

func snapFault(svc string) faultBody {
	return func(status int, code string) any {
		if code == "" {
			code = fmt.Sprintf("%d%s01", status, svc)
			if status == http.StatusGatewayTimeout {
				code = fmt.Sprintf("%d%s00", status, svc)
			}
		}
		return snapAnswer(code, "Injected fault")
	}
}

func snapAnswer(code, message string) map[string]any {
	return map[string]any{"responseCode": code, "responseMessage": message, "referenceNo": randomToken(12)}
}

func (s *Sandbox) snapRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1.0/access-token/b2b", s.upstream(OpSNAPAccessToken, snapFault(svcAccessToken), s.snapAccessToken))
	mux.HandleFunc("POST /v1.0/registration-account-binding", s.upstream(OpSNAPBinding, snapFault(svcBinding), s.snapService(svcBinding, true, s.snapBinding)))
	mux.HandleFunc("POST /v1.0/registration-account-inquiry", s.upstream(OpSNAPInquiry, snapFault(svcInquiry), s.snapService(svcInquiry, true, s.snapInquiry)))
	mux.HandleFunc("POST /v1.0/registration-account-unbinding", s.upstream(OpSNAPUnbinding, snapFault(svcUnbinding), s.snapService(svcUnbinding, true, s.snapUnbinding)))
	mux.HandleFunc("POST /sandbox/gopay-auth-codes", s.mintGoPayAuthCode)
	mux.HandleFunc("POST /sandbox/snap-customers/{phone}/deactivate", s.deactivateCustomer)
	mux.HandleFunc("POST /sandbox/snap-customers/{phone}/upgrade", s.upgradeCustomer)
}

func writeSNAP(w http.ResponseWriter, code, message string, extra map[string]any) {
	body := snapAnswer(code, message)
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("X-TIMESTAMP", snapsig.Timestamp(time.Now()))
	status := http.StatusInternalServerError
	_, _ = fmt.Sscanf(code[:3], "%d", &status)
	writeJSON(w, status, body)
}

func (s *Sandbox) snapAccessToken(w http.ResponseWriter, r *http.Request) {
	ts, key, sig := r.Header.Get("X-TIMESTAMP"), r.Header.Get("X-CLIENT-KEY"), r.Header.Get("X-SIGNATURE")
	for name, v := range map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": key, "X-SIGNATURE": sig} {
		if v == "" {
			writeSNAP(w, "4007302", "Invalid Mandatory Field "+name, nil)
			return
		}
	}
	if t, err := snapsig.ParseTimestamp(ts); err != nil || !s.freshTimestamp(t) {
		writeSNAP(w, "4007301", "Invalid Field Format X-TIMESTAMP", nil)
		return
	}
	// The seeds README documents grantType; Midtrans' own Node client (midtrans-client 1.4.3,
	// SnapBi.getAccessToken) sends grant_type, which the provider evidently accepts: both are.
	var body struct {
		GrantType      string `json:"grantType"`
		GrantTypeSnake string `json:"grant_type"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil ||
		body.GrantType == "" && body.GrantTypeSnake == "" {
		writeSNAP(w, "4007302", "Invalid Mandatory Field grantType", nil)
		return
	}
	if body.GrantType == "" {
		body.GrantType = body.GrantTypeSnake
	}
	if body.GrantType != "client_credentials" {
		writeSNAP(w, "4007301", "Invalid Field Format grantType", nil)
		return
	}
	if key != s.opts.SNAPClientKey || !snapsig.VerifyAsymmetric(s.opts.SNAPPublicKey, snapsig.AsymmetricStringToSign(key, ts), sig) {
		writeSNAP(w, "4017300", "Unauthorized. Signature", nil)
		return
	}
	token := randomToken(32)
	s.mu.Lock()
	s.b2bTokens[token] = s.opts.Now().Add(b2bTokenTTL)
	s.mu.Unlock()
	writeSNAP(w, "2007300", "Successful", map[string]any{"accessToken": token, "tokenType": "Bearer", "expiresIn": "900"})
}

// freshTimestamp allows five minutes of clock skew either way.
func (s *Sandbox) freshTimestamp(t time.Time) bool {
	d := s.opts.Now().Sub(t)
	return d < 5*time.Minute && d > -5*time.Minute
}

// ExpireB2BTokens makes every issued B2B token invalid, as if 900 seconds had passed.
func (s *Sandbox) ExpireB2BTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b2bTokens = map[string]time.Time{}
}

// IssuedB2BTokens lists the B2B tokens still valid, so a test can look for them where they must
// not be (logs, Redis, the database).
func (s *Sandbox) IssuedB2BTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.b2bTokens))
	for t := range s.b2bTokens {
		out = append(out, t)
	}
	return out
}

// snapCall is a verified SNAP service call handed to an operation.
type snapCall struct {
	body       []byte
	customer   string // the Authorization-Customer token, if sent
	externalID string // X-EXTERNAL-ID, with the partner and the day: a payment call's replay key
	host       string // the Host the call came to, for links back to the sandbox
}

// snapService verifies the common SNAP rules for a service call, then runs fn.
func (s *Sandbox) snapService(svc string, linking bool, fn func(http.ResponseWriter, snapCall)) http.HandlerFunc {
	// code turns "HHHCC" (HTTP status, case) into the responseCode HHH+service+CC.
	code := func(c string) string { return c[:3] + svc + c[3:] }
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			writeSNAP(w, code("40001"), "Invalid Field Format body", nil)
			return
		}
		h := r.Header
		for _, name := range []string{"Content-Type", "X-TIMESTAMP", "X-SIGNATURE", "Authorization", "X-PARTNER-ID", "X-EXTERNAL-ID", "X-DEVICE-ID", "CHANNEL-ID"} {
			if strings.TrimSpace(h.Get(name)) == "" {
				writeSNAP(w, code("40002"), "Invalid Mandatory Field "+name, nil)
				return
			}
		}
		ts := h.Get("X-TIMESTAMP")
		if t, err := snapsig.ParseTimestamp(ts); err != nil || !s.freshTimestamp(t) {
			writeSNAP(w, code("40001"), "Invalid Field Format X-TIMESTAMP", nil)
			return
		}
		if !channelIDPattern.MatchString(h.Get("CHANNEL-ID")) {
			writeSNAP(w, code("40001"), "Invalid Field Format CHANNEL-ID", nil)
			return
		}
		externalID := h.Get("X-EXTERNAL-ID")
		if !externalIDPattern.MatchString(externalID) {
			writeSNAP(w, code("40001"), "Invalid Field Format X-EXTERNAL-ID", nil)
			return
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			writeSNAP(w, code("40001"), "Invalid Field Format Content-Type", nil)
			return
		}
		b2b, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.b2bTokens[b2b]
		s.mu.Unlock()
		if !ok || !known || !s.opts.Now().Before(exp) {
			writeSNAP(w, code("40101"), "Invalid Token (B2B)", nil)
			return
		}
		sts, err := snapsig.SymmetricStringToSign(r.Method, r.URL.RequestURI(), b2b, body, ts)
		if err != nil || !snapsig.VerifySymmetric(s.opts.SNAPClientSecret, sts, h.Get("X-SIGNATURE")) {
			writeSNAP(w, code("40100"), "Unauthorized. Signature", nil)
			return
		}
		// X-EXTERNAL-ID is unique per partner per day (Jakarta date). Linking calls answer a
		// conflict on reuse.
		day := s.opts.Now().In(snapsig.WIB).Format("2006-01-02")
		idKey := day + "\x00" + h.Get("X-PARTNER-ID") + "\x00" + externalID
		s.mu.Lock()
		used := s.externalIDs[idKey]
		s.externalIDs[idKey] = true
		s.mu.Unlock()
		if used && linking {
			writeSNAP(w, code("40900"), "Conflict. X-EXTERNAL-ID already used today", nil)
			return
		}
		customer := ""
		if v := h.Get("Authorization-Customer"); v != "" {
			customer, ok = strings.CutPrefix(v, "Bearer ")
			if !ok {
				writeSNAP(w, code("40001"), "Invalid Field Format Authorization-Customer", nil)
				return
			}
		}
		fn(w, snapCall{body: body, customer: customer, externalID: idKey, host: r.Host})
	}
}

func (s *Sandbox) snapBinding(w http.ResponseWriter, c snapCall) {
	// Midtrans "Bind Account API" (binding-api): merchantId, authCode and grantType are
	// mandatory, grantType "AUTHORIZATION_CODE". partnerReferenceNo: SNAP's common request
	// identifier, mandatory in the sandbox (assumption: the page's example carries one).
	var req struct {
		PartnerReferenceNo string `json:"partnerReferenceNo"`
		AuthCode           string `json:"authCode"`
		MerchantID         string `json:"merchantId"`
		GrantType          string `json:"grantType"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeSNAP(w, "4000701", "Invalid Field Format body", nil)
		return
	}
	for _, f := range []struct{ name, v string }{
		{"partnerReferenceNo", req.PartnerReferenceNo}, {"merchantId", req.MerchantID},
		{"authCode", req.AuthCode}, {"grantType", req.GrantType},
	} {
		if f.v == "" {
			writeSNAP(w, "4000702", "Invalid Mandatory Field {"+f.name+"}", nil)
			return
		}
	}
	if req.GrantType != "AUTHORIZATION_CODE" {
		writeSNAP(w, "4000701", "Invalid Field Format {grantType}", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.snapAuthCodes[req.AuthCode]
	if !ok || ac.used {
		writeSNAP(w, "4040711", "Invalid Customer. authCode unknown or already used", nil)
		return
	}
	ac.used = true
	cust := &snapCustomer{phone: ac.phone, token: randomToken(48), active: !strings.HasSuffix(ac.phone, "9999"), options: newOptions()}
	s.customers[cust.token] = cust
	s.customersByPhone[ac.phone] = cust
	writeSNAP(w, "2000700", "Successful", map[string]any{
		"partnerReferenceNo": req.PartnerReferenceNo,
		"accessTokenInfo":    map[string]any{"accessToken": cust.token, "expiresIn": "31536000", "tokenStatus": "ACTIVE"},
	})
}

func (s *Sandbox) snapInquiry(w http.ResponseWriter, c snapCall) {
	var req struct {
		AdditionalInfo struct {
			AccountID string `json:"accountId"`
		} `json:"additionalInfo"`
	}
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &req); err != nil {
			writeSNAP(w, "4000801", "Invalid Field Format body", nil)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cust *snapCustomer
	switch {
	case c.customer != "":
		cust = s.customers[c.customer]
		if cust == nil || !cust.active {
			writeSNAP(w, "4010802", "Invalid Customer Token", nil)
			return
		}
	case req.AdditionalInfo.AccountID != "":
		acct := s.legacyLocked(req.AdditionalInfo.AccountID)
		if acct == nil || acct.status != "ENABLED" || acct.inactiveLinking {
			writeSNAP(w, "4030818", "Inactive Card/Account/Customer", nil)
			return
		}
		if acct.swapped == nil || !acct.swapped.active {
			acct.swapped = &snapCustomer{phone: acct.phone, token: randomToken(48), active: true, legacyID: acct.id, options: acct.options}
			s.customers[acct.swapped.token] = acct.swapped
		}
		cust = acct.swapped
	default:
		writeSNAP(w, "4000802", "Invalid Mandatory Field Authorization-Customer or additionalInfo.accountId", nil)
		return
	}
	opts := make([]map[string]any, 0, len(cust.options))
	for _, o := range cust.options {
		opts = append(opts, map[string]any{"name": o.Name, "active": o.Active,
			"balance": map[string]any{"value": o.Balance, "currency": o.Currency}, "token": o.Token})
	}
	writeSNAP(w, "2000800", "Successful", map[string]any{"additionalInfo": map[string]any{
		"accessToken": cust.token, "paymentType": "gopay", "paymentOptions": opts}})
}

func (s *Sandbox) snapUnbinding(w http.ResponseWriter, c snapCall) {
	var req struct {
		PartnerReferenceNo string `json:"partnerReferenceNo"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil || req.PartnerReferenceNo == "" {
		writeSNAP(w, "4000902", "Invalid Mandatory Field partnerReferenceNo", nil)
		return
	}
	if c.customer == "" {
		writeSNAP(w, "4000902", "Invalid Mandatory Field Authorization-Customer", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cust := s.customers[c.customer]
	if cust == nil || !cust.active {
		writeSNAP(w, "4010902", "Invalid Customer Token", nil)
		return
	}
	cust.active = false
	writeSNAP(w, "2000900", "Successful", map[string]any{"partnerReferenceNo": req.PartnerReferenceNo, "unlinkResult": "success"})
}

func newOptions() []paymentOption {
	return []paymentOption{
		{Name: "GOPAY_WALLET", Active: true, Balance: 7985000, Currency: "IDR", Token: randomToken(18)},
		{Name: "PAY_LATER", Active: true, Balance: 350000, Currency: "IDR", Token: randomToken(18)},
	}
}

// MintGoPayAuthCode stands in for GoPay's linking page: the customer with this phone number
// approved the link, and the page returned this auth code to the merchant.
func (s *Sandbox) MintGoPayAuthCode(phone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := randomToken(24)
	s.snapAuthCodes[code] = &snapAuthCode{phone: phone}
	return code
}

// DeactivateCustomer ends a SNAP linking from GoPay's side (the customer unlinked in the app).
func (s *Sandbox) DeactivateCustomer(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customersByPhone[phone]
	if c == nil {
		return false
	}
	c.active = false
	return true
}

// UpgradeCustomer models a GoPay Tabungan upgrade: every payment-option token changes and a
// savings option appears, which is why merchants refresh tokens before each payment.
func (s *Sandbox) UpgradeCustomer(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customersByPhone[phone]
	if c == nil {
		return false
	}
	c.options = append(newOptions(), paymentOption{Name: "GOPAY_SAVINGS", Active: true, Balance: 1200000, Currency: "IDR", Token: randomToken(18)})
	return true
}

func (s *Sandbox) mintGoPayAuthCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PhoneNumber string `json:"phone_number"`
	}
	if !decodeOptional(w, r, &req) {
		return
	}
	phone := firstNonEmpty(req.PhoneNumber, "81234567890")
	writeJSON(w, http.StatusCreated, map[string]string{"auth_code": s.MintGoPayAuthCode(phone), "phone_number": phone})
}

func (s *Sandbox) deactivateCustomer(w http.ResponseWriter, r *http.Request) {
	if !s.DeactivateCustomer(r.PathValue("phone")) {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) upgradeCustomer(w http.ResponseWriter, r *http.Request) {
	if !s.UpgradeCustomer(r.PathValue("phone")) {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
