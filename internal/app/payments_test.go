package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/snapsig"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// payer is a signed-in user with GoPay linked, and an internal client to charge them.
type payer struct {
	in       *instance
	auth     string // the user's session
	uid      string
	internal []string // the internal client's headers
}

func newPayer(t *testing.T, in *instance, name, phone string) payer {
	t.Helper()
	auth := in.login(in.sandboxURL(), name)
	if r := in.linkSNAP(auth, phone); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	return payer{in: in, auth: auth, uid: userID(t, auth), internal: in.internalAuth()}
}

func (p payer) pay(requestID, order, option, amount string) response {
	body := fmt.Sprintf(`{"order_reference":%q,"pay_option":%q,"amount":{"value":%q,"currency":"IDR"},"description":"Order %s",`+
		`"items":[{"id":"sku-1","name":"Coffee","price":{"value":%q,"currency":"IDR"},"quantity":1}],"return_url":"https://shop.example/back"}`,
		order, option, amount, order, amount)
	return p.in.do("POST", "/internal/v1/users/"+p.uid+"/payments", body, append(p.internal, "Request-Id", requestID)...)
}

func (p payer) get(id string) map[string]any {
	r := p.in.do("GET", "/internal/v1/payments/"+id, "", p.internal...)
	if r.status != 200 {
		p.in.t.Fatalf("get payment: %d %s", r.status, r.body)
	}
	return r.json(p.in.t)
}

func (p payer) refund(id, ref, amount string) response {
	return p.in.do("POST", "/internal/v1/payments/"+id+"/refund",
		fmt.Sprintf(`{"refund_reference":%q,"amount":{"value":%q,"currency":"IDR"},"reason":"test"}`, ref, amount),
		append(p.internal, "Request-Id", "refund-"+ref)...)
}

// balance is what GoPay reports for an option now (a forced refresh, as the frontend sees it).
func (p payer) balance(option string) string {
	r := p.in.do("GET", "/v1/gopay-link/payment-options?refresh=true", "", "Authorization", p.auth)
	for _, o := range r.json(p.in.t)["payment_options"].([]any) {
		if m := o.(map[string]any); m["name"] == option {
			return m["balance"].(map[string]any)["value"].(string)
		}
	}
	p.in.t.Fatalf("no %s in %s", option, r.body)
	return ""
}

func debitsFor(sb *sandbox.Sandbox) int { return len(sb.Debits()) }

// Issue 13: charge, notification, refunds, the user's view; tokens never in clear.
func TestPaymentLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := start(t, e)
	p := newPayer(t, in, "payer", "81211112222")
	// GoPay's notification arrives late, and twice: acted on once.
	in.app.Sandbox.SetNotifyFaults(sandbox.NotifyFaults{Duplicate: true, Delay: 100 * time.Millisecond})

	r := p.pay("pay-0001", "order-1", "GOPAY_WALLET", "15000.00")
	m := r.json(t)
	if r.status != 201 || m["state"] != "succeeded" || m["amount"].(map[string]any)["value"] != "15000.00" {
		t.Fatalf("charge: %d %s", r.status, r.body)
	}
	id := m["id"].(string)
	if got := p.balance("GOPAY_WALLET"); got != "7970000.00" {
		t.Fatalf("balance after a 15000 charge: %s", got)
	}
	// The sandbox's notification arrives, verifies, and changes nothing (already succeeded).
	testenv.Eventually(t, func() bool {
		n := in.app.Sandbox.Notifications()
		return len(n) == 2 && n[0].Acknowledged && n[1].Acknowledged
	}, "the settlement notification, sent twice, acknowledged twice (2005600 and X-TIMESTAMP, as the page documents)")
	if got := counter(t, "bff_payment_notifications_total", map[string]string{"outcome": "duplicate"}, in); got != 1 {
		t.Fatalf("duplicates counted %v, want 1", got)
	}

	// The same order again, even under another Request-Id: the same payment, not a second charge.
	again := p.pay("pay-0002", "order-1", "GOPAY_WALLET", "15000.00")
	if again.status != 200 || again.json(t)["id"] != id || debitsFor(in.app.Sandbox) != 1 {
		t.Fatalf("same order: %d %s, %d charges", again.status, again.body, debitsFor(in.app.Sandbox))
	}

	// Refunds: partial, too much, the rest; a repeated reference is the same refund.
	if f := p.refund(id, "r1", "5000.00"); f.status != 201 || f.json(t)["state"] != "succeeded" {
		t.Fatalf("refund: %d %s", f.status, f.body)
	}
	if f := p.refund(id, "r1", "5000.00"); f.status != 201 {
		t.Fatalf("same refund again: %d %s", f.status, f.body)
	}
	for _, d := range in.app.Sandbox.Debits() {
		if d.Refunded != 500000 {
			t.Fatalf("after one refund sent twice GoPay refunded %d sen, want 500000", d.Refunded)
		}
	}
	// The same refund reference for another amount, under a Request-Id of its own: refused.
	problem(t, in.do("POST", "/internal/v1/payments/"+id+"/refund", `{"refund_reference":"r1","amount":{"value":"6000.00","currency":"IDR"}}`,
		append(p.internal, "Request-Id", "refund-r1-other")...), 422, "idempotency_key_reused", "refund_reference")
	problem(t, p.refund(id, "r2", "10001.00"), 422, "refund_exceeds_payment", "amount")
	if f := p.refund(id, "r3", "10000.00"); f.status != 201 || f.json(t)["state"] != "succeeded" {
		t.Fatalf("the rest: %d %s", f.status, f.body)
	}
	got := p.get(id)
	if got["state"] != "refunded" || got["refunded"].(map[string]any)["value"] != "15000.00" || len(got["refunds"].([]any)) != 2 {
		t.Fatalf("after refunds: %v", got)
	}
	for _, d := range in.app.Sandbox.Debits() {
		if d.Refunded != 1500000 {
			t.Fatalf("GoPay refunded %d sen, want 1500000", d.Refunded)
		}
	}
	problem(t, p.refund(id, "r4", "1000.00"), 409, "payment_not_refundable", "")
	for state, want := range map[string]float64{"succeeded": 1, "refunded": 1} {
		if got := counter(t, "bff_payment_transitions_total", map[string]string{"state": state}, in); got != want {
			t.Errorf("bff_payment_transitions_total{state=%q} = %v, want %v", state, got, want)
		}
	}
	if got := p.balance("GOPAY_WALLET"); got != "7985000.00" {
		t.Fatalf("balance after full refund: %s", got)
	}

	// Refused before anything is written: too much, an unknown option, fractional rupiah.
	problem(t, p.pay("pay-0003", "order-2", "PAY_LATER", "350001.00"), 422, "insufficient_balance", "amount")
	problem(t, p.pay("pay-0004", "order-3", "GOPAY_WALLET", "10.50"), 400, "invalid_request", "amount.value")
	if n := debitsFor(in.app.Sandbox); n != 1 {
		t.Fatalf("%d charges", n)
	}

	// The user sees their payments, without tokens or provider ids; another user does not.
	mine := in.do("GET", "/v1/payments", "", "Authorization", p.auth)
	if list := mine.json(t)["data"].([]any); mine.status != 200 || len(list) != 1 || list[0].(map[string]any)["state"] != "refunded" {
		t.Fatalf("my payments: %d %s", mine.status, mine.body)
	}
	other := in.login(in.sandboxURL(), "someone-else")
	problem(t, in.do("GET", "/v1/payments/"+id, "", "Authorization", other), 404, "payment_not_found", "")

	// Tokens: never in the payment tables in clear, nor in the logs.
	var tokens []string
	opts := in.do("GET", "/internal/v1/users/"+p.uid+"/payment-options", "", p.internal...)
	for _, o := range opts.json(t)["payment_options"].([]any) {
		tokens = append(tokens, o.(map[string]any)["token"].(string))
	}
	conn, err := pgx.Connect(context.Background(), e.directDB())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var dump string
	if err := conn.QueryRow(context.Background(), `SELECT coalesce((SELECT string_agg(t::text, '|') FROM payments t), '') ||
		coalesce((SELECT string_agg(f::text, '|') FROM payment_refunds f), '') || coalesce((SELECT string_agg(o::text, '|') FROM payment_options o), '')`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if strings.Contains(dump, tok) {
			t.Fatal("a payment-option token is stored in clear")
		}
	}
	in.assertNoSecretsInLogs(tokens...)
}

// One Request-Id on two users' payment routes is never a replay of the first user's payment
// for the second, even with the same body: the key is refused as reused (the paths differ).
// The same order reference for another user, under a key of its own, is refused too; and a
// refund's key reused on another payment is not that payment's refund.
func TestPaymentKeysAndOrdersBelongToOneUser(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	a := newPayer(t, in, "key-a", "81222221111")
	b := newPayer(t, in, "key-b", "81222222222")
	body := `{"order_reference":"order-same","pay_option":"GOPAY_WALLET","amount":{"value":"10000.00","currency":"IDR"}}`
	first := in.do("POST", "/internal/v1/users/"+a.uid+"/payments", body, append(a.internal, "Request-Id", "shared-key-0001")...)
	if first.status != 201 {
		t.Fatalf("%d %s", first.status, first.body)
	}
	second := in.do("POST", "/internal/v1/users/"+b.uid+"/payments", body, append(a.internal, "Request-Id", "shared-key-0001")...)
	if second.header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("user a's payment was replayed for user b: %s", second.body)
	}
	problem(t, second, 422, "idempotency_key_reused", "header.Request-Id")
	problem(t, in.do("POST", "/internal/v1/users/"+b.uid+"/payments", body, append(a.internal, "Request-Id", "other-key-0002")...),
		409, "order_reference_reused", "order_reference")
	if n := debitsFor(in.app.Sandbox); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}

	rb := b.pay("b-key-0003", "order-b", "GOPAY_WALLET", "10000.00")
	refund := `{"refund_reference":"refund-x","amount":{"value":"1000.00","currency":"IDR"},"reason":"test"}`
	fa := in.do("POST", "/internal/v1/payments/"+first.json(t)["id"].(string)+"/refund", refund, append(a.internal, "Request-Id", "refund-key-1")...)
	fb := in.do("POST", "/internal/v1/payments/"+rb.json(t)["id"].(string)+"/refund", refund, append(a.internal, "Request-Id", "refund-key-1")...)
	if fa.status != 201 || fb.header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("refunds: %d %s / %d %s", fa.status, fa.body, fb.status, fb.body)
	}
	problem(t, fb, 422, "idempotency_key_reused", "header.Request-Id")
}

// Issue 13: 50 concurrent identical requests over two instances charge once.
func TestFiftyConcurrentPaymentsOverTwoInstancesChargeOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	one := start(t, e)
	two := start(t, e.upstreamsAt(one.app.SandboxURL()))
	two.sandbox = one.app.SandboxURL()
	p1 := newPayer(t, one, "concurrent", "81233334444")
	p2 := payer{in: two, auth: p1.auth, uid: p1.uid, internal: two.internalAuth()}
	one.app.Sandbox.SetFault(sandbox.OpSNAPDebit, sandbox.Fault{LatencyMS: 150})

	var wg sync.WaitGroup
	results := make([]response, 50)
	for i := range results {
		p := []payer{p1, p2}[i%2]
		wg.Go(func() {
			// As a client would: a 503 (Redis slow on a loaded machine: the claim fails closed)
			// is retried with the same Request-Id after Retry-After.
			for try := 0; ; try++ {
				results[i] = p.pay("same-request-0001", "order-50", "GOPAY_WALLET", "20000.00")
				if results[i].status != 503 || try == 20 {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range results {
		switch r.status {
		case 201, 200:
			ids[r.json(t)["id"].(string)] = true
		case 409:
			problem(t, r, 409, "request_in_progress", "")
		default:
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if n := debitsFor(one.app.Sandbox); n != 1 || len(ids) != 1 {
		t.Fatalf("%d charges at GoPay, %d payments answered; want 1 and 1", n, len(ids))
	}
}

// Issue 13: GoPay charged, but its answer was lost: the retry (same X-EXTERNAL-ID and
// partnerReferenceNo) is replayed upstream, and the payment is charged once.
func TestLostChargeAnswerChargesOnce(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	p := newPayer(t, in, "lost", "81255556666")
	// No notification: the charge path alone must get it right.
	in.app.Sandbox.SetNotifyFaults(sandbox.NotifyFaults{Drop: true})
	in.app.Sandbox.SetFault(sandbox.OpSNAPDebit, sandbox.Fault{LoseAnswerNext: 1})
	r := p.pay("lost-0001", "order-lost", "GOPAY_WALLET", "30000.00")
	if r.status != 201 || r.json(t)["state"] != "succeeded" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if calls, n := in.app.Sandbox.Calls(sandbox.OpSNAPDebit), debitsFor(in.app.Sandbox); calls != 2 || n != 1 {
		t.Fatalf("%d calls, %d charges; want 2 calls, 1 charge", calls, n)
	}
	// The retry was the same transaction (same X-EXTERNAL-ID: GoPay replayed its answer), so
	// the status API was never needed.
	if n := in.app.Sandbox.Calls(sandbox.OpSNAPDebitStatus); n != 0 {
		t.Fatalf("the retry was not replayed upstream: %d status calls", n)
	}
	if got := p.balance("GOPAY_WALLET"); got != "7955000.00" {
		t.Fatalf("balance %s: charged more than once", got)
	}
	// The client's own retry of the request replays the answer.
	if again := p.pay("lost-0001", "order-lost", "GOPAY_WALLET", "30000.00"); again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("client retry: %d %s", again.status, again.body)
	}
}

// Issue 13: the service charged but never learnt the outcome (every answer lost, the status
// API down): the payment stays pending, and the reconciler settles it to GoPay's state
// without charging again.
func TestUnknownOutcomeIsReconciled(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("PAYMENT_PENDING_AFTER", "300ms", "PAYMENT_RECONCILE_INTERVAL", "100ms", "SNAP_MAX_ATTEMPTS", "2"))
	p := newPayer(t, in, "crash", "81277778888")
	in.app.Sandbox.SetNotifyFaults(sandbox.NotifyFaults{Drop: true}) // the reconciler, not a notification, settles it
	in.app.Sandbox.SetFault(sandbox.OpSNAPDebit, sandbox.Fault{LoseAnswerNext: 2})
	in.app.Sandbox.SetFault(sandbox.OpSNAPDebitStatus, sandbox.Fault{FailNext: 1})
	r := p.pay("crash-0001", "order-crash", "GOPAY_WALLET", "40000.00")
	if r.status != 201 || r.json(t)["state"] != "pending" {
		t.Fatalf("want the payment pending while its outcome is unknown: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for p.get(id)["state"] != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("not reconciled: %v", p.get(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := debitsFor(in.app.Sandbox); n != 1 {
		t.Fatalf("%d charges", n)
	}
}

// Issue 13: every attempt of the charge failed before GoPay took it (5xx): the outcome is
// unknown, the status API says GoPay never received it, and the reconciler sends it again with
// the same ids, once.
func TestChargeNeverReceivedIsSentAgainOnce(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t).with("PAYMENT_PENDING_AFTER", "300ms", "PAYMENT_RECONCILE_INTERVAL", "100ms", "SNAP_MAX_ATTEMPTS", "2"))
	p := newPayer(t, in, "resend", "81266665555")
	in.app.Sandbox.SetFault(sandbox.OpSNAPDebit, sandbox.Fault{FailNext: 2})
	r := p.pay("resend-0001", "order-resend", "PAY_LATER", "50000.00")
	if r.status != 201 || r.json(t)["state"] != "pending" || debitsFor(in.app.Sandbox) != 0 {
		t.Fatalf("want pending and nothing charged: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for p.get(id)["state"] != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("not sent again: %v", p.get(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a reconciler round more: nothing is sent twice
	// 2 failed attempts, then the reconciler's: one charge. (A reconciler round that began while
	// a starved request had not sent its first attempt yet would add a call, never a charge.)
	if n, calls := debitsFor(in.app.Sandbox), in.app.Sandbox.Calls(sandbox.OpSNAPDebit); n != 1 || calls < 3 {
		t.Fatalf("%d charges in %d calls; want 1 charge, sent again after 2 failed calls", n, calls)
	}
}

// Issue 13: a charge that waits for the customer's PIN; notifications that are forged, stale,
// repeated or out of order.
func TestPINAndNotifications(t *testing.T) {
	t.Parallel()
	in := start(t, newEnv(t))
	p := newPayer(t, in, "pin", "81299990000")
	sb := in.app.Sandbox
	sb.SetNotifyFaults(sandbox.NotifyFaults{Drop: true}) // this test delivers them itself
	r := p.pay("pin-0001", "order-pin", "GOPAY_WALLET", "1500000.00")
	m := r.json(t)
	if r.status != 201 || m["state"] != "requires_action" || !strings.Contains(fmt.Sprint(m["redirect_url"]), "/sandbox/gopay-pin?reference=") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	id := m["id"].(string)
	var ref, partnerRef string
	for pr, d := range sb.Debits() {
		ref, partnerRef = d.ReferenceNo, pr
	}
	if _, ok := sb.ConfirmPIN(ref, true); !ok {
		t.Fatal("PIN not awaited")
	}
	note := func(status string) []byte {
		b, _ := json.Marshal(map[string]any{"originalPartnerReferenceNo": partnerRef, "originalReferenceNo": ref, "merchantId": "SANDBOX",
			"amount": map[string]string{"value": "1500000.00", "currency": "IDR"}, "latestTransactionStatus": status, "transactionStatusDesc": "x"})
		return b
	}
	deliver := func(n sandbox.SentNotification) response {
		return in.plain("POST", "/v1.0/debit/notify", string(n.Body), "X-TIMESTAMP", n.Timestamp, "X-SIGNATURE", n.Signature)
	}
	now := time.Now()

	// Forged: signed with another key.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := sb.SignNotification(note("00"), now)
	sts, _ := snapsig.NotificationStringToSign("/v1.0/debit/notify", good.Body, good.Timestamp)
	forged := good
	forged.Signature, _ = snapsig.SignAsymmetric(other, sts)
	problem(t, deliver(forged), 401, "notification_refused", "")
	// Tampered: the body changed after signing.
	tampered := good
	tampered.Body = note("06")
	problem(t, deliver(tampered), 401, "notification_refused", "")
	// Stale: signed ten minutes ago.
	problem(t, deliver(sb.SignNotification(note("00"), now.Add(-10*time.Minute))), 401, "notification_refused", "")
	if s := p.get(id)["state"]; s != "requires_action" {
		t.Fatalf("a refused notification changed the payment: %v", s)
	}

	// Genuine: acted on once.
	if r := deliver(good); r.status != 200 || r.json(t)["responseCode"] != "2005600" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if s := p.get(id)["state"]; s != "succeeded" {
		t.Fatalf("state %v", s)
	}
	if r := deliver(good); r.status != 200 || !strings.Contains(string(r.body), "already processed") {
		t.Fatalf("replayed: %d %s", r.status, r.body)
	}
	// Out of order: a pending or failed that arrives after the success changes nothing.
	for _, status := range []string{"03", "06", "05"} {
		if r := deliver(sb.SignNotification(note(status), now)); r.status != 200 {
			t.Fatalf("late %s: %d %s", status, r.status, r.body)
		}
	}
	if s := p.get(id)["state"]; s != "succeeded" {
		t.Fatalf("a late notification moved a settled payment back: %v", s)
	}
	// A cancel of a settled payment is refused; of a waiting one, done.
	problem(t, in.do("POST", "/internal/v1/payments/"+id+"/cancel", `{"reason":"changed mind"}`, p.internal...), 409, "payment_not_cancelable", "")
	w := p.pay("pin-0002", "order-pin-2", "GOPAY_WALLET", "2000000.00")
	wid := w.json(t)["id"].(string)
	c := in.do("POST", "/internal/v1/payments/"+wid+"/cancel", `{"reason":"changed mind"}`, p.internal...)
	if c.status != 200 || c.json(t)["state"] != "canceled" {
		t.Fatalf("cancel: %d %s", c.status, c.body)
	}
	if n := in.plain("POST", "/v1.0/debit/notify", string(note("00")), "X-TIMESTAMP", "yesterday", "X-SIGNATURE", "x"); n.status != http.StatusUnauthorized {
		t.Fatalf("a malformed timestamp: %d", n.status)
	}
	// What the operator sees: the four refused (forged, tampered, stale, malformed), the repeat.
	for outcome, want := range map[string]float64{"refused": 4, "duplicate": 1, "processed": 4} {
		if got := counter(t, "bff_payment_notifications_total", map[string]string{"outcome": outcome}, in); got != want {
			t.Errorf("bff_payment_notifications_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}

	// As the page makes it: only GoPay's originalReferenceNo and the status are mandatory, and its
	// sample has no amount. A notification naming a waiting payment by GoPay's reference alone
	// settles it; one whose ids or amount are not that payment's is refused, naming the member.
	signed := func(body string) sandbox.SentNotification { return sb.SignNotification([]byte(body), time.Now()) }
	x := p.pay("pin-0003", "order-pin-3", "GOPAY_WALLET", "1200000.00").json(t)["id"].(string)
	var xRef, xPartner string
	for pr, d := range sb.Debits() {
		if pr != partnerRef && d.Amount == 120000000 {
			xRef, xPartner = d.ReferenceNo, pr
		}
	}
	if xRef == "" {
		t.Fatal("the third payment is not at the sandbox")
	}
	problem(t, deliver(signed(`{"latestTransactionStatus":"00","originalPartnerReferenceNo":"`+xPartner+`","originalReferenceNo":"someone-else"}`)),
		400, "invalid_request", "originalReferenceNo")
	problem(t, deliver(signed(`{"amount":{"currency":"IDR","value":"1.00"},"latestTransactionStatus":"00","originalReferenceNo":"`+xRef+`"}`)),
		400, "invalid_request", "amount")
	problem(t, deliver(signed(`{"latestTransactionStatus":"00","originalReferenceNo":"not-ours"}`)), 404, "payment_not_found", "")
	if s := p.get(x)["state"]; s != "requires_action" {
		t.Fatalf("a refused notification changed the payment: %v", s)
	}
	if _, ok := sb.ConfirmPIN(xRef, true); !ok {
		t.Fatal("PIN not awaited")
	}
	if r := deliver(signed(`{"latestTransactionStatus":"00","originalReferenceNo":"` + xRef + `"}`)); r.status != 200 || r.header.Get("X-TIMESTAMP") == "" {
		t.Fatalf("by GoPay's reference alone: %d %s (X-TIMESTAMP %q)", r.status, r.body, r.header.Get("X-TIMESTAMP"))
	}
	if s := p.get(x)["state"]; s != "succeeded" {
		t.Fatalf("a notification by GoPay's reference alone did not settle the payment: %v", s)
	}
}
