package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// Direct debit with a linked GoPay, as Midtrans documents it for GoPay Tokenization over
// BI-SNAP (https://docs.midtrans.com/reference/direct-debit-api-gopay-tokenization, and the
// bodies midtrans-client 1.4.3's README sends): payment-host-to-host (service 54) with
// Authorization-Customer and payOptionDetails[].additionalInfo.paymentoptiontoken, status (55),
// cancel (57), refund (58), and payment notifications signed SHA256withRSA over
// "POST:" + path + ":" + lowerhex(SHA256(minified body)) + ":" + X-TIMESTAMP (midtrans-client's
// SnapBi.isWebhookNotificationVerified) with the sandbox's own key, whose public half the
// server is given in sandbox mode.
//
// Rules the pages leave open, as this sandbox plays them (assumptions):
//   - a reused X-EXTERNAL-ID with the same body replays the first answer (seeds README: payment
//     calls replay); with another body it is 4095400, and a partnerReferenceNo already used with
//     another X-EXTERNAL-ID is 4095401;
//   - IDR amounts are whole rupiah ("15000.00"); another fraction is 4005401;
//   - a charge at or above PINAbove waits for the customer's PIN: 2005400 with webRedirectUrl
//     and status 03 until the PIN page is answered; below it the charge settles at once (00);
//   - a paymentoptiontoken that is not the customer's current token for that option is 4005401,
//     an inactive option 4035405 (Do Not Honor), a balance too small 4035414;
//   - cancel is allowed while pending (03) and repeats harmlessly on a canceled one; otherwise
//     4035715. A refund above what is left is 4035815; a repeated partnerRefundNo replays; a
//     refund without refundAmount (midtrans-client's README sample) refunds what is left;
//   - status of an unknown transaction is 4045501.
const (
	svcDebit       = "54"
	svcDebitStatus = "55"
	svcDebitCancel = "57"
	svcDebitRefund = "58"

	// DebitNotifyPath is where the provider posts payment notifications (midtrans-client's
	// README names /v1.0/debit/notify for direct debit).
	DebitNotifyPath = "/v1.0/debit/notify"
)

// Operation names of the direct-debit calls.
const (
	OpSNAPDebit       = "snap.debit"
	OpSNAPDebitStatus = "snap.debit_status"
	OpSNAPDebitCancel = "snap.debit_cancel"
	OpSNAPDebitRefund = "snap.debit_refund"
)

type debit struct {
	referenceNo, partnerRef, externalID string
	customer                            *snapCustomer
	option                              string
	amount                              int64 // sen
	currency                            string
	status                              string // latestTransactionStatus
	refunded                            int64
	refunds                             map[string]map[string]any // partnerRefundNo -> answer
	returnURL                           string
	createdAt                           time.Time
}

type replayed struct {
	bodyHash string
	status   int
	answer   map[string]any
}

// SentNotification is a notification the sandbox posted (or was asked to sign).
type SentNotification struct {
	Body      []byte
	Timestamp string
	Signature string
	Status    int // what the server answered; 0 if it was not sent
	// Acknowledged: the answer is the one the Payment Notification API page documents
	// (docs.midtrans.com/reference/payment-notification-api): 2xx, responseCode 2005600 and an
	// X-TIMESTAMP header. (What Midtrans does with any other answer, beyond sending again, the
	// page does not say.)
	Acknowledged bool
}

func (s *Sandbox) debitRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1.0/debit/payment-host-to-host", s.upstream(OpSNAPDebit, snapFault(svcDebit), s.snapService(svcDebit, false, s.snapDebit)))
	mux.HandleFunc("POST /v1.0/debit/status", s.upstream(OpSNAPDebitStatus, snapFault(svcDebitStatus), s.snapService(svcDebitStatus, false, s.snapDebitStatus)))
	mux.HandleFunc("POST /v1.0/debit/cancel", s.upstream(OpSNAPDebitCancel, snapFault(svcDebitCancel), s.snapService(svcDebitCancel, false, s.snapDebitCancel)))
	mux.HandleFunc("POST /v1.0/debit/refund", s.upstream(OpSNAPDebitRefund, snapFault(svcDebitRefund), s.snapService(svcDebitRefund, false, s.snapDebitRefund)))
	mux.HandleFunc("GET /sandbox/gopay-pin", s.pinPage)
	mux.HandleFunc("POST /sandbox/gopay-pin", s.pinDecision)
	mux.HandleFunc("GET /sandbox/notifications", func(w http.ResponseWriter, _ *http.Request) {
		out := []map[string]any{}
		for _, n := range s.Notifications() {
			var body map[string]any
			_ = json.Unmarshal(n.Body, &body)
			out = append(out, map[string]any{"body": body, "x_timestamp": n.Timestamp, "answered": n.Status, "acknowledged": n.Acknowledged})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

type money struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// rupiah reads a whole-rupiah IDR amount in sen.
func rupiah(m money) (int64, bool) {
	whole, frac, ok := strings.Cut(m.Value, ".")
	if !ok || frac != "00" || whole == "" || len(whole) > 13 || strings.Trim(whole, "0123456789") != "" || m.Currency != "IDR" {
		return 0, false
	}
	var v int64
	_, err := fmt.Sscan(whole, &v)
	return v * 100, err == nil && v > 0
}

func sen(v int64) string { return fmt.Sprintf("%d.%02d", v/100, v%100) }

func (s *Sandbox) snapDebit(w http.ResponseWriter, c snapCall) {
	var req struct {
		PartnerReferenceNo string `json:"partnerReferenceNo"`
		MerchantID         string `json:"merchantId"`
		URLParam           any    `json:"urlParam"` // an array (SNAP) or one object (midtrans-client's README)
		PayOptionDetails   []struct {
			PayMethod      string `json:"payMethod"`
			PayOption      string `json:"payOption"`
			TransAmount    money  `json:"transAmount"`
			AdditionalInfo struct {
				PaymentOptionToken string `json:"paymentoptiontoken"`
			} `json:"additionalInfo"`
		} `json:"payOptionDetails"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeSNAP(w, "4005401", "Invalid Field Format body", nil)
		return
	}
	if c.customer == "" {
		writeSNAP(w, "4005402", "Invalid Mandatory Field Authorization-Customer", nil)
		return
	}
	for _, f := range []struct{ name, v string }{{"partnerReferenceNo", req.PartnerReferenceNo}, {"merchantId", req.MerchantID}} {
		if f.v == "" {
			writeSNAP(w, "4005402", "Invalid Mandatory Field {"+f.name+"}", nil)
			return
		}
	}
	if len(req.PayOptionDetails) != 1 {
		writeSNAP(w, "4005402", "Invalid Mandatory Field {payOptionDetails}", nil)
		return
	}
	pod := req.PayOptionDetails[0]
	for _, f := range []struct{ name, v string }{{"payMethod", pod.PayMethod}, {"payOption", pod.PayOption},
		{"transAmount.value", pod.TransAmount.Value}, {"additionalInfo.paymentoptiontoken", pod.AdditionalInfo.PaymentOptionToken}} {
		if f.v == "" {
			writeSNAP(w, "4005402", "Invalid Mandatory Field {payOptionDetails."+f.name+"}", nil)
			return
		}
	}
	amount, ok := rupiah(pod.TransAmount)
	if !ok || pod.PayMethod != "GOPAY" {
		writeSNAP(w, "4005401", "Invalid Field Format {payOptionDetails.transAmount}", nil)
		return
	}
	hash := sha256.Sum256(c.body)

	s.mu.Lock()
	defer s.mu.Unlock()
	if prior, ok := s.debitReplays[c.externalID]; ok {
		if prior.bodyHash != string(hash[:]) {
			writeSNAP(w, "4095400", "Conflict. X-EXTERNAL-ID used with another request", nil)
			return
		}
		writeJSON(w, prior.status, prior.answer) // the first answer, again: one charge
		return
	}
	answer := func(status int, body map[string]any) {
		s.debitReplays[c.externalID] = replayed{bodyHash: string(hash[:]), status: status, answer: body}
		writeJSON(w, status, body)
	}
	if d := s.debits[req.PartnerReferenceNo]; d != nil {
		answer(http.StatusConflict, snapAnswer("4095401", "Conflict. partnerReferenceNo already used"))
		return
	}
	cust := s.customers[c.customer]
	if cust == nil || !cust.active {
		answer(http.StatusUnauthorized, snapAnswer("4015402", "Invalid Customer Token"))
		return
	}
	var opt *paymentOption
	for i := range cust.options {
		if cust.options[i].Name == pod.PayOption {
			opt = &cust.options[i]
		}
	}
	switch {
	case opt == nil || opt.Token != pod.AdditionalInfo.PaymentOptionToken:
		answer(http.StatusBadRequest, snapAnswer("4005401", "Invalid Field Format {paymentoptiontoken}"))
		return
	case !opt.Active:
		answer(http.StatusForbidden, snapAnswer("4035405", "Do Not Honor"))
		return
	case amount/100 > opt.Balance:
		answer(http.StatusForbidden, snapAnswer("4035414", "Insufficient Funds"))
		return
	}
	d := &debit{referenceNo: "A1" + strings.ToUpper(randomToken(12)), partnerRef: req.PartnerReferenceNo, externalID: c.externalID,
		customer: cust, option: pod.PayOption, amount: amount, currency: "IDR", refunds: map[string]map[string]any{},
		returnURL: returnURLOf(req.URLParam), createdAt: s.opts.Now()}
	s.debits[d.partnerRef] = d
	s.debitsByRef[d.referenceNo] = d
	body := snapAnswer("2005400", "Successful")
	body["referenceNo"], body["partnerReferenceNo"] = d.referenceNo, d.partnerRef
	if amount >= s.opts.PINAbove {
		d.status = "03"
		body["webRedirectUrl"] = "http://" + c.host + "/sandbox/gopay-pin?" + url.Values{"reference": {d.referenceNo}}.Encode()
	} else {
		opt.Balance -= amount / 100
		d.status = "00"
		s.notifyLocked(d)
	}
	answer(http.StatusOK, body)
}

// returnURLOf reads urlParam's PAY_RETURN url, from an array or one object.
func returnURLOf(v any) string {
	params, ok := v.([]any)
	if !ok {
		params = []any{v}
	}
	for _, p := range params {
		if m, ok := p.(map[string]any); ok && m["type"] == "PAY_RETURN" {
			u, _ := m["url"].(string)
			return u
		}
	}
	return ""
}

// findDebitLocked finds a transaction by the original* fields a status, cancel or refund
// request names: originalPartnerReferenceNo, originalReferenceNo or originalExternalId (the
// X-EXTERNAL-ID of its payment call; midtrans-client's README samples use each).
func (s *Sandbox) findDebitLocked(req originalRef) *debit {
	if d := s.debits[req.OriginalPartnerReferenceNo]; d != nil {
		return d
	}
	if d := s.debitsByRef[req.OriginalReferenceNo]; d != nil {
		return d
	}
	if req.OriginalExternalID != "" {
		for _, d := range s.debits {
			if strings.HasSuffix(d.externalID, "\x00"+req.OriginalExternalID) {
				return d
			}
		}
	}
	return nil
}

type originalRef struct {
	OriginalPartnerReferenceNo string `json:"originalPartnerReferenceNo"`
	OriginalReferenceNo        string `json:"originalReferenceNo"`
	OriginalExternalID         string `json:"originalExternalId"`
	ServiceCode                string `json:"serviceCode"`
	Reason                     string `json:"reason"`
	PartnerRefundNo            string `json:"partnerRefundNo"`
	RefundAmount               money  `json:"refundAmount"`
}

func (s *Sandbox) readOriginal(w http.ResponseWriter, c snapCall, svc string) (originalRef, bool) {
	var req originalRef
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeSNAP(w, "400"+svc+"01", "Invalid Field Format body", nil)
		return req, false
	}
	if req.OriginalPartnerReferenceNo == "" && req.OriginalReferenceNo == "" && req.OriginalExternalID == "" {
		writeSNAP(w, "400"+svc+"02", "Invalid Mandatory Field {originalPartnerReferenceNo}", nil)
		return req, false
	}
	return req, true
}

var statusDesc = map[string]string{"00": "SUCCESS", "01": "INITIATED", "02": "PAYING", "03": "PENDING", "04": "REFUNDED",
	"05": "CANCELED", "06": "FAILED", "07": "NOT FOUND"}

func (s *Sandbox) snapDebitStatus(w http.ResponseWriter, c snapCall) {
	req, ok := s.readOriginal(w, c, svcDebitStatus)
	if !ok {
		return
	}
	switch req.ServiceCode {
	case svcDebit:
	case "":
		writeSNAP(w, "4005502", "Invalid Mandatory Field {serviceCode}", nil)
		return
	default:
		writeSNAP(w, "4005501", "Invalid Field Format {serviceCode}", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDebitLocked(req)
	if d == nil {
		writeSNAP(w, "4045501", "Transaction Not Found", nil)
		return
	}
	writeSNAP(w, "2005500", "Successful", map[string]any{
		"originalReferenceNo": d.referenceNo, "originalPartnerReferenceNo": d.partnerRef, "serviceCode": svcDebit,
		"latestTransactionStatus": d.status, "transactionStatusDesc": statusDesc[d.status],
		"amount": money{Value: sen(d.amount), Currency: d.currency}})
}

func (s *Sandbox) snapDebitCancel(w http.ResponseWriter, c snapCall) {
	req, ok := s.readOriginal(w, c, svcDebitCancel)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDebitLocked(req)
	switch {
	case d == nil:
		writeSNAP(w, "4045701", "Transaction Not Found", nil)
		return
	case d.status == "03":
		d.status = "05"
		s.notifyLocked(d)
	case d.status != "05":
		writeSNAP(w, "4035715", "Transaction Not Permitted", nil)
		return
	}
	writeSNAP(w, "2005700", "Successful", map[string]any{"originalReferenceNo": d.referenceNo,
		"originalPartnerReferenceNo": d.partnerRef, "cancelTime": snapsig.Timestamp(s.opts.Now())})
}

func (s *Sandbox) snapDebitRefund(w http.ResponseWriter, c snapCall) {
	req, ok := s.readOriginal(w, c, svcDebitRefund)
	if !ok {
		return
	}
	// midtrans-client's README refunds a direct debit with originalReferenceNo and reason
	// only: without refundAmount the refund is of what is left (assumption), and without
	// partnerRefundNo it cannot be replayed.
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDebitLocked(req)
	if d == nil {
		writeSNAP(w, "4045801", "Transaction Not Found", nil)
		return
	}
	if prior, ok := d.refunds[req.PartnerRefundNo]; ok && req.PartnerRefundNo != "" {
		writeJSON(w, http.StatusOK, prior)
		return
	}
	amount := d.amount - d.refunded
	if req.RefundAmount.Value != "" {
		var ok bool
		if amount, ok = rupiah(req.RefundAmount); !ok {
			writeSNAP(w, "4005801", "Invalid Field Format {refundAmount}", nil)
			return
		}
	}
	if amount <= 0 {
		writeSNAP(w, "4035815", "Transaction Not Permitted", nil)
		return
	}
	if d.status != "00" || d.refunded+amount > d.amount {
		writeSNAP(w, "4035815", "Transaction Not Permitted", nil)
		return
	}
	d.refunded += amount
	for i := range d.customer.options {
		if d.customer.options[i].Name == d.option {
			d.customer.options[i].Balance += amount / 100
		}
	}
	body := snapAnswer("2005800", "Successful")
	body["originalReferenceNo"], body["originalPartnerReferenceNo"] = d.referenceNo, d.partnerRef
	body["refundNo"], body["partnerRefundNo"] = "R"+strings.ToUpper(randomToken(12)), req.PartnerRefundNo
	body["refundAmount"], body["refundTime"] = money{Value: sen(amount), Currency: d.currency}, snapsig.Timestamp(s.opts.Now())
	if req.PartnerRefundNo != "" {
		d.refunds[req.PartnerRefundNo] = body
	}
	writeJSON(w, http.StatusOK, body)
}

var pinPage = template.Must(template.New("pin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>GoPay · confirm payment (sandbox)</title><link rel="stylesheet" href="/demo/style.css"></head>
<body><main class="sheet"><p class="badge">Sandbox · stands in for GoPay's PIN page</p>
<h1>Pay Rp {{.Amount}}</h1><p>Confirm paying with {{.Option}}. (GoPay asks for your PIN here; the sandbox asks for none.)</p>
<form method="post" action="/sandbox/gopay-pin"><input type="hidden" name="reference" value="{{.Reference}}">
<button id="pay" name="decision" value="pay">Pay</button>
<button id="decline" class="secondary" name="decision" value="decline">Cancel</button></form></main></body></html>`))

func (s *Sandbox) pinPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.debitsByRef[r.URL.Query().Get("reference")]
	var data map[string]string
	if d != nil {
		data = map[string]string{"Amount": sen(d.amount), "Option": d.option, "Reference": d.referenceNo}
	}
	s.mu.Unlock()
	if d == nil {
		http.Error(w, "unknown reference", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pinPage.Execute(w, data)
}

func (s *Sandbox) pinDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	back, ok := s.ConfirmPIN(r.PostForm.Get("reference"), r.PostForm.Get("decision") == "pay")
	if !ok {
		http.Error(w, "unknown reference, or not waiting for a PIN", http.StatusConflict)
		return
	}
	if back == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "Sandbox: done; no return URL was given.")
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// ConfirmPIN answers the PIN page of a charge waiting for it: pay settles it (the balance
// goes down), otherwise it fails. It reports the charge's return URL, and false if no charge
// with that referenceNo waits for a PIN.
func (s *Sandbox) ConfirmPIN(referenceNo string, pay bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.debitsByRef[referenceNo]
	if d == nil || d.status != "03" {
		return "", false
	}
	d.status = "06"
	for i := range d.customer.options {
		o := &d.customer.options[i]
		if pay && o.Name == d.option && o.Balance >= d.amount/100 {
			o.Balance -= d.amount / 100
			d.status = "00"
		}
	}
	s.notifyLocked(d)
	return d.returnURL, true
}

// Debit is what the sandbox knows of a charge, for tests.
type Debit struct {
	ReferenceNo string
	Status      string // latestTransactionStatus
	Amount      int64  // sen
	Refunded    int64
}

// Debits lists every charge the sandbox accepted, by partnerReferenceNo.
func (s *Sandbox) Debits() map[string]Debit {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Debit, len(s.debits))
	for ref, d := range s.debits {
		out[ref] = Debit{ReferenceNo: d.referenceNo, Status: d.status, Amount: d.amount, Refunded: d.refunded}
	}
	return out
}

// NotifyPublicKey is the public half of the key notifications are signed with.
func (s *Sandbox) NotifyPublicKey() *rsa.PublicKey { return &s.notifyKey.PublicKey }

// NotifyPublicKeyPEM is NotifyPublicKey as a PEM block (PKIX), as a file would hold it.
func (s *Sandbox) NotifyPublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&s.notifyKey.PublicKey) // cannot fail for an RSA key
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// SetNotifyURL tells the sandbox where to post notifications ("" stops them).
func (s *Sandbox) SetNotifyURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyURL = u
}

// NotifyFaults shape the notifications the sandbox posts: each sent twice, late, or not at all.
type NotifyFaults struct {
	Duplicate bool
	Delay     time.Duration
	Drop      bool
}

// SetNotifyFaults replaces the notification faults.
func (s *Sandbox) SetNotifyFaults(f NotifyFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyFaults = f
}

// Notifications lists the notifications posted so far, oldest first.
func (s *Sandbox) Notifications() []SentNotification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentNotification(nil), s.sent...)
}

// notificationBody is the payment notification Midtrans posts, in the shape of the Payment
// Notification API page's sample (docs.midtrans.com/reference/payment-notification-api):
// createdTime, latestTransactionStatus, originalReferenceNo, finishedTime (for 00),
// originalPartnerReferenceNo, transactionStatusDesc, originalExternalId and
// additionalInfo.userPaymentDetails (refundHistory comes with status 04; the sandbox does not
// notify refunds, which the refund call answers itself). No amount: the
// page marks it optional and its sample has none, so the server must not depend on it.
func notificationBody(d *debit, now time.Time) []byte {
	info := map[string]any{"userPaymentDetails": []any{map[string]any{"payMethod": "gopay", "payOption": d.option}}}
	body := map[string]any{ // encoding/json sorts keys; compact: minified as signed
		"createdTime": snapsig.Timestamp(d.createdAt), "latestTransactionStatus": d.status, "originalReferenceNo": d.referenceNo,
		"originalPartnerReferenceNo": d.partnerRef, "transactionStatusDesc": statusDesc[d.status],
		"originalExternalId": d.externalID[strings.LastIndexByte(d.externalID, 0)+1:], // the key is day, partner, id
		"additionalInfo":     info}
	if d.status == "00" {
		body["finishedTime"] = snapsig.Timestamp(now)
	}
	b, _ := json.Marshal(body)
	return b
}

// SignNotification signs a notification body as the provider does, at time t, for tests that
// deliver notifications themselves (late, out of order, tampered with).
func (s *Sandbox) SignNotification(body []byte, t time.Time) SentNotification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signLocked(body, t)
}

func (s *Sandbox) signLocked(body []byte, t time.Time) SentNotification {
	ts := snapsig.Timestamp(t)
	path := DebitNotifyPath
	if u, err := url.Parse(s.notifyURL); err == nil && u.Path != "" {
		path = u.Path // the provider signs the path of the URL it calls
	}
	sts, _ := snapsig.NotificationStringToSign(path, body, ts) // a body that is not JSON signs as empty
	sig, _ := snapsig.SignAsymmetric(s.notifyKey, sts)
	return SentNotification{Body: body, Timestamp: ts, Signature: sig}
}

// Deliver posts a signed notification to the server: its HTTP status, and whether the answer
// is the acknowledgement the page documents (see SentNotification).
func (s *Sandbox) Deliver(ctx context.Context, n SentNotification) (status int, acknowledged bool, err error) {
	s.mu.Lock()
	target := s.notifyURL
	s.mu.Unlock()
	if target == "" {
		return 0, false, fmt.Errorf("no notification URL set")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(n.Body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TIMESTAMP", n.Timestamp)
	req.Header.Set("X-SIGNATURE", n.Signature)
	req.Header.Set("X-PARTNER-ID", "SANDBOX")
	req.Header.Set("X-EXTERNAL-ID", numericID()) // "Numeric string", the page says
	req.Header.Set("CHANNEL-ID", "95221")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = resp.Body.Close() }()
	var ack struct {
		ResponseCode string `json:"responseCode"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&ack)
	acknowledged = resp.StatusCode/100 == 2 && ack.ResponseCode == "2005600" && resp.Header.Get("X-TIMESTAMP") != ""
	return resp.StatusCode, acknowledged, nil
}

// numericID is a 20-digit numeric string, the shape of X-EXTERNAL-ID.
func numericID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

// notifyLocked posts the charge's current state, in the background, as faults say.
func (s *Sandbox) notifyLocked(d *debit) {
	f := s.notifyFaults
	if s.notifyURL == "" || f.Drop {
		return
	}
	n := s.signLocked(notificationBody(d, s.opts.Now()), s.opts.Now())
	times := 1
	if f.Duplicate {
		times = 2
	}
	go func() {
		time.Sleep(f.Delay)
		for range times {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			n.Status, n.Acknowledged, _ = s.Deliver(ctx, n)
			cancel()
			s.mu.Lock()
			s.sent = append(s.sent, n)
			s.mu.Unlock()
		}
	}()
}
