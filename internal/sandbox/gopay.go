package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// The GoPay mini app backend as its public docs and seed 000 describe it. Where the docs are
// silent (the auth-code exchange's body and errors) the sandbox uses the bank-details envelope:
// {"success": false, "error": {"code": "...", "description": "..."}}.

type authCode struct {
	userID    string
	expiresAt time.Time
	used      bool
}

type miniAppUser struct {
	gopayAccountID string
	authToken      string
}

type accountToken struct {
	bankCode, name, number string
	used                   bool
}

// GoPay error codes the sandbox answers. 900 is documented; the others stand in for what the
// docs leave out.
const (
	gopayTokenNotFound    = 900
	gopayAuthCodeInvalid  = "902"
	gopayUnauthorized     = "401"
	gopayInvalidParameter = "400"
)

func gopayError(code any, description string) map[string]any {
	return map[string]any{"success": false, "error": map[string]any{"code": code, "description": description}}
}

// checkBasic answers 401 unless the request carries the configured Basic credentials.
func (s *Sandbox) checkBasic(w http.ResponseWriter, r *http.Request) (caller string, ok bool) {
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.GoPayClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.GoPayClientSecret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, gopayError(gopayUnauthorized, "Unauthorized"))
		return "", false
	}
	return id, true
}

func (s *Sandbox) gopayAuthToken(w http.ResponseWriter, r *http.Request) {
	caller, ok := s.checkBasic(w, r)
	if !ok {
		return
	}
	var req struct {
		AuthCode string `json:"auth_code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.AuthCode == "" {
		writeJSON(w, http.StatusBadRequest, gopayError(gopayInvalidParameter, "auth_code is required"))
		return
	}
	s.replayOrRecord(w, OpGoPayAuthToken, caller, r.Header.Get("Request-Id"), func() (int, any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		code, ok := s.authCodes[req.AuthCode]
		if !ok || code.used || !s.opts.Now().Before(code.expiresAt) {
			return http.StatusBadRequest, gopayError(gopayAuthCodeInvalid, "Auth Code Invalid Or Expired")
		}
		code.used = true
		u := s.userLocked(code.userID)
		return http.StatusOK, map[string]any{"success": true, "data": map[string]string{
			"gopay_account_id": u.gopayAccountID, "auth_token": u.authToken}}
	})
}

func (s *Sandbox) gopayBankDetails(w http.ResponseWriter, r *http.Request) {
	caller, ok := s.checkBasic(w, r)
	if !ok {
		return
	}
	token := r.URL.Query().Get("account_token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, gopayError(gopayInvalidParameter, "account_token is required"))
		return
	}
	s.replayOrRecord(w, OpGoPayBankDetails, caller, r.Header.Get("Request-Id"), func() (int, any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.accountTokens[token]
		if !ok || t.used {
			return http.StatusNotFound, gopayError(gopayTokenNotFound, "Token Not Found")
		}
		t.used = true
		return http.StatusOK, map[string]any{"success": true, "data": map[string]string{
			"bank_code": t.bankCode, "bank_account_name": t.name, "bank_account_number": t.number}}
	})
}

// userLocked returns the GoPay user behind a sandbox user id, creating it on first use.
func (s *Sandbox) userLocked(userID string) *miniAppUser {
	u, ok := s.users[userID]
	if !ok {
		u = &miniAppUser{gopayAccountID: "gpa-" + randomToken(12), authToken: randomToken(32)}
		s.users[userID] = u
	}
	return u
}

// MintAuthCode stands in for miniAppSdk.getAuthCode() run by userID.
func (s *Sandbox) MintAuthCode(userID string) (code string, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code = randomToken(48)
	expiresAt = s.opts.Now().Add(s.opts.AuthCodeTTL)
	s.authCodes[code] = &authCode{userID: firstNonEmpty(userID, "sandbox-user"), expiresAt: expiresAt}
	return code, expiresAt
}

// MintAccountToken stands in for miniAppSdk.getBankAccountToken(); empty fields get defaults.
func (s *Sandbox) MintAccountToken(bankCode, name, number string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := randomToken(32)
	s.accountTokens[token] = &accountToken{
		bankCode: firstNonEmpty(bankCode, "jago"),
		name:     firstNonEmpty(name, "Rafa refa"),
		number:   firstNonEmpty(number, "11223344456"),
	}
	return token
}

func (s *Sandbox) mintAuthCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if !decodeOptional(w, r, &req) {
		return
	}
	code, exp := s.MintAuthCode(req.UserID)
	writeJSON(w, http.StatusCreated, map[string]any{"auth_code": code, "expires_at": exp.UTC().Format(time.RFC3339)})
}

func (s *Sandbox) mintAccountToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID            string `json:"user_id"`
		BankCode          string `json:"bank_code"`
		BankAccountName   string `json:"bank_account_name"`
		BankAccountNumber string `json:"bank_account_number"`
	}
	if !decodeOptional(w, r, &req) {
		return
	}
	for _, c := range req.BankAccountNumber {
		if c < '0' || c > '9' {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bank_account_number must be digits"})
			return
		}
	}
	writeJSON(w, http.StatusCreated, map[string]string{
		"account_token": s.MintAccountToken(req.BankCode, req.BankAccountName, req.BankAccountNumber)})
}

// decodeOptional decodes a JSON body if there is one.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object"})
		return false
	}
	return true
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
