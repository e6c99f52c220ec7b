package sandbox

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"

	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// SNAP "Get OAuth Code" (service 30, scope CARD_REGISTRATION, seed 003) and a minimal card-binding
// webview. The call is a signed GET: headers and query parameters are checked with seed 003's
// rules (400 30 02 missing, 400 30 01 malformed), then the B2B token (401 30 01), the signature
// over the path with its query and the empty-body hash (401 30 00), and the X-EXTERNAL-ID
// (409 30 00). The webview, opened with the auth code, redirects to redirectUrl (or, with
// outcome=failure, to failureRedirectUrl) with the state, as the real one does after the
// customer binds a card.

const svcOAuthCode = "30"

type oauthCode struct {
	req  cardreg.Request
	used bool
}

func (s *Sandbox) cardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/get-auth-code", s.upstream(OpSNAPOAuthCode, snapFault(svcOAuthCode), s.getOAuthCode))
	mux.HandleFunc("GET /sandbox/card-webview", s.cardWebview)
}

func (s *Sandbox) getOAuthCode(w http.ResponseWriter, r *http.Request) {
	answer := func(code string, v *cardreg.Violation) {
		writeSNAP(w, code, map[bool]string{true: "Invalid Mandatory Field ", false: "Invalid Field Format "}[v.Missing]+v.Field+": "+v.Message, nil)
	}
	caseOf := func(v *cardreg.Violation) string {
		if v.Missing {
			return "4003002"
		}
		return "4003001"
	}
	h := r.Header
	hdr := cardreg.Headers{Accept: h.Get("Accept"), Timestamp: h.Get("X-TIMESTAMP"), ClientKey: h.Get("X-CLIENT-KEY"),
		PartnerID: h.Get("X-PARTNER-ID"), ExternalID: h.Get("X-EXTERNAL-ID"), ChannelID: h.Get("CHANNEL-ID")}
	if h.Get("Authorization") == "" || h.Get("X-SIGNATURE") == "" {
		writeSNAP(w, "4003002", "Invalid Mandatory Field Authorization or X-SIGNATURE", nil)
		return
	}
	if v := hdr.Validate(); v != nil {
		answer(caseOf(v), v)
		return
	}
	if t, err := snapsig.ParseTimestamp(hdr.Timestamp); err != nil || !s.freshTimestamp(t) {
		writeSNAP(w, "4003001", "Invalid Field Format X-TIMESTAMP", nil)
		return
	}
	b2b, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.b2bTokens[b2b]
	s.mu.Unlock()
	if !ok || !known || !s.opts.Now().Before(exp) {
		writeSNAP(w, "4013001", "Invalid Token (B2B)", nil)
		return
	}
	sts, _ := snapsig.SymmetricStringToSign(http.MethodGet, r.URL.RequestURI(), b2b, nil, hdr.Timestamp)
	if hdr.ClientKey != s.opts.CardClientID || !snapsig.VerifySymmetric(s.opts.SNAPClientSecret, sts, h.Get("X-SIGNATURE")) {
		writeSNAP(w, "4013000", "Unauthorized. Signature or client", nil)
		return
	}
	day := s.opts.Now().In(snapsig.WIB).Format("2006-01-02")
	s.mu.Lock()
	used := s.externalIDs[day+"\x00"+hdr.PartnerID+"\x00"+hdr.ExternalID]
	s.externalIDs[day+"\x00"+hdr.PartnerID+"\x00"+hdr.ExternalID] = true
	s.mu.Unlock()
	if used {
		writeSNAP(w, "4093000", "Conflict. X-EXTERNAL-ID already used today", nil)
		return
	}
	req, v := cardreg.ParseQuery(r.URL.Query().Get)
	if v == nil {
		v = req.Validate()
	}
	if v != nil {
		answer(caseOf(v), v)
		return
	}
	if req.MerchantID != hdr.PartnerID {
		writeSNAP(w, "4003001", "Invalid Field Format merchantId: differs from X-PARTNER-ID", nil)
		return
	}
	code := randomToken(24)
	s.mu.Lock()
	s.oauthCodes[code] = &oauthCode{req: req}
	s.mu.Unlock()
	writeSNAP(w, "2003000", "Successful", map[string]any{"authCode": code, "state": req.State})
}

// cardWebview is the page the customer binds a card in; it ends by redirecting back.
func (s *Sandbox) cardWebview(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("authCode")
	s.mu.Lock()
	oc := s.oauthCodes[code]
	usedBefore := oc != nil && oc.used
	if oc != nil {
		oc.used = true
	}
	s.mu.Unlock()
	if oc == nil || usedBefore {
		http.Error(w, "unknown or used authCode", http.StatusNotFound)
		return
	}
	target, params := oc.req.RedirectURL, url.Values{"state": {oc.req.State}}
	if r.URL.Query().Get("outcome") == "failure" {
		target = oc.req.FailureRedirectURL
		params.Set("error", "card_binding_failed")
	}
	if target == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, "<!doctype html><title>Card binding</title><p>Sandbox: done (%s); no redirect URL was given.", html.EscapeString(params.Encode()))
		return
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	http.Redirect(w, r, target+sep+params.Encode(), http.StatusFound)
}
