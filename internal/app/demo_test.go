package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gopay-miniapp/bff/internal/sandbox"
	"github.com/gopay-miniapp/bff/internal/testenv"
)

// The demo mini app, driven in a real (headless) Chromium through every flow, as a person
// would: it asserts on what the page shows, fails on any console error, and saves a screenshot
// of each step under .screenshots/demo (git-ignored; DEMO_SCREENSHOTS moves it).
func TestDemoMiniAppInChromium(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	in := start(t, newEnv(t))
	sb := in.app.SandboxURL()

	b := newBrowserRun(t, browser)
	shot := b.screenshots(t, "demo")

	// 1. The sandbox's root opens the demo; sign in (the SDK's auth code, then POST /v1/sessions).
	b.run(t, "open", chromedp.Navigate(sb+"/"), chromedp.WaitVisible(css("#signin-form")))
	shot("01-start")
	b.run(t, "sign in",
		chromedp.SetValue(css("#user-id"), "browser-user"), chromedp.Click(css("#signin-btn")),
		waitText("#whoami", "Signed in as browser-user."), waitText("#bank-list", "No bank account linked."))
	shot("02-signed-in")

	// 2. Bank accounts: link one, then a double tap (one Request-Id, sent twice) links one more,
	// not two; GoPay is asked once for it. Unlink the first.
	b.run(t, "link a bank account", chromedp.Click(css("#link-bank")), waitText("#bank-list", "JAGO ******4456"),
		waitText("#notice", "Linked JAGO ******4456."))
	callsBefore := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails)
	b.run(t, "double tap",
		chromedp.SetValue(css("#bank-number"), "99887766554"), chromedp.Click(css("#double-tap")),
		waitText("#bank-note", "201, then 201 replayed; one account linked"), waitText("#bank-list", "JAGO ******6554"))
	if n := in.app.Sandbox.Calls(sandbox.OpGoPayBankDetails) - callsBefore; n != 1 {
		t.Fatalf("a double tap asked GoPay %d times", n)
	}
	if n := b.count(t, "#bank-list li"); n != 2 {
		t.Fatalf("after a link and a double tap the list shows %d accounts, want 2", n)
	}
	shot("03-bank-accounts")
	b.run(t, "unlink a bank account", chromedp.Click(css("#bank-list li:first-child .unlink-bank")), waitText("#notice", "Unlinked"))
	if n := b.count(t, "#bank-list li"); n != 1 {
		t.Fatalf("after unlinking the list shows %d accounts, want 1", n)
	}
	shot("04-bank-unlinked")

	// 3. GoPay: through the linking page and back; balances, never tokens.
	b.run(t, "open GoPay's linking page", chromedp.Click(css("#gopay-link-btn")), chromedp.WaitVisible(css("#approve")))
	shot("05-gopay-linking-page")
	b.run(t, "approve", chromedp.Click(css("#approve")),
		waitText("#gopay-status", "GoPay ******7890: active"), waitText("#gopay-options", "GOPAY_WALLET"),
		waitText("#gopay-options", "Rp"))
	page := b.text(t, "main")
	if !regexp.MustCompile(`GOPAY_WALLET\s*Rp[\s\x{a0}]?7\.985\.000\b`).MatchString(page) || !strings.Contains(page, "PAY_LATER") {
		t.Fatalf("balances not shown as expected:\n%s", page)
	}
	shot("06-gopay-linked")
	b.viewport(t, "readme", "#bank") // the README's picture: docs/demo.png
	b.run(t, "unlink GoPay", chromedp.Click(css("#gopay-unlink")), waitText("#notice", "GoPay unlinked."),
		waitText("#gopay-status", "GoPay ******7890: inactive"))

	// A link GoPay ended: the next refresh finds out, the page says so, with the request id.
	b.run(t, "link again", chromedp.Click(css("#gopay-link-btn")), chromedp.WaitVisible(css("#approve")), chromedp.Click(css("#approve")),
		waitText("#gopay-status", ": active"))
	// Payments: the merchant's service charges the user (internal API, from here); the page lists
	// them, and one that waits for the PIN opens GoPay's PIN page and comes back paid.
	session, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`sessionStorage.getItem("demo.session")`))
	if err != nil {
		t.Fatal(err)
	}
	uid, internal := userID(t, "Bearer "+session), in.internalAuth()
	charge := func(order, amount, description string) string {
		r := in.do("POST", "/internal/v1/users/"+uid+"/payments", fmt.Sprintf(`{"order_reference":%q,"pay_option":"GOPAY_WALLET",`+
			`"amount":{"value":%q,"currency":"IDR"},"description":%q,"return_url":%q}`, order, amount, description, in.app.DemoURL()),
			append(internal, "Request-Id", "demo-"+order)...)
		if r.status != 201 {
			t.Fatalf("charge %s: %d %s", order, r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	charge("demo-1", "15000.00", "Coffee")
	big := charge("demo-2", "1500000.00", "Headphones")
	b.run(t, "list payments", chromedp.Click(css("#payments-refresh")), waitText("#payment-list", "Coffee · Rp\u00a015.000 · paid"),
		waitText("#payment-list", "Headphones · Rp\u00a01.500.000 · waiting for your PIN"))
	shot("07-payments")
	b.run(t, "confirm with the PIN", chromedp.Click(css(".confirm-pin")), chromedp.WaitVisible(css("#pay")))
	shot("08-gopay-pin-page")
	b.run(t, "pay", chromedp.Click(css("#pay")), chromedp.WaitVisible(css("#payment-list")))
	testenv.Eventually(t, func() bool {
		r := in.do("GET", "/internal/v1/payments/"+big, "", internal...)
		return r.status == 200 && r.json(t)["state"] == "succeeded"
	}, "the PIN payment settled by its notification")
	b.run(t, "paid", chromedp.Click(css("#payments-refresh")), waitText("#payment-list", "Headphones · Rp\u00a01.500.000 · paid"))
	shot("09-payments-paid")

	b.run(t, "GoPay ends the link", chromedp.Click(css("#gopay-end")), chromedp.WaitVisible(css("#problem")),
		waitText("#gopay-status", "inactive — link it again to pay"))
	if meta := b.text(t, "#problem-meta"); !strings.Contains(meta, "HTTP 409 · gopay_link_inactive") || !strings.Contains(meta, "request id ") {
		t.Fatalf("the problem is not shown with its code and request id: %q", meta)
	}
	if title := b.text(t, "#problem-title"); title == "" {
		t.Fatal("the problem has no title")
	}
	shot("10-gopay-ended")

	// 4. Cards: through the webview and back through the BFF's redirect.
	b.run(t, "bind a card", chromedp.Click(css("#card-bind")),
		waitText("#card-outcome", "Card bound: the webview came back with success."), waitText("#card-list", "succeeded"))
	shot("11-card-bound")
	b.run(t, "a declined card", chromedp.Click(css("#card-bind-fail")),
		waitText("#card-outcome", "Card not bound: the webview came back with failed."), waitText("#card-list", "failed"))
	shot("12-card-declined")

	b.assertCleanConsole(t)
}

// chromium finds Debian's Chromium. Without it the test fails in CI (.ci/run installs it)
// and is skipped elsewhere, saying how to get it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is missing: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("Chromium is missing: apt-get install -y chromium")
	return ""
}

// browserRun is one headless Chromium tab, phone-sized, recording what its console says.
type browserRun struct {
	ctx context.Context
	dir string // where screenshots go

	mu       sync.Mutex
	problems []string // console errors, uncaught exceptions, failed loads other than expected 4xx
}

// A 4xx the demo expects (no GoPay link yet, a link GoPay ended) is logged by Chromium as a
// failed resource load; anything else (a CORS refusal, a refused connection, a 5xx) is a
// problem.
var expected4xx = regexp.MustCompile(`the server responded with a status of 4\d\d`)

func newBrowserRun(t *testing.T, path string) *browserRun {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(412, 915), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser, which lives as long as that run's context: no timeout
	// on it (each step has its own). A phone's viewport.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(412, 915)); err != nil {
		t.Fatalf("Chromium did not start: %v", err)
	}
	b := &browserRun{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() ||
				m.Source == "network" && expected4xx.MatchString(m.Text) {
				continue
			}
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s %s: %s (%s)", m.Source, m.Type, m, m.URL))
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browserRun) run(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nthe page shows:\n%s\nconsole: %v", step, err, page, b.consoleProblems())
	}
}

func (b *browserRun) text(t *testing.T, selector string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("read %s: %v", selector, err)
	}
	return s
}

func (b *browserRun) count(t *testing.T, selector string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(selector), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatalf("count %s: %v", selector, err)
	}
	return len(nodes)
}

func (b *browserRun) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

func (b *browserRun) assertCleanConsole(t *testing.T) {
	t.Helper()
	if p := b.consoleProblems(); len(p) > 0 {
		t.Fatalf("the browser console reported:\n%s", strings.Join(p, "\n"))
	}
}

// viewport saves what the phone's screen shows with the element at its top.
func (b *browserRun) viewport(t *testing.T, name, selector string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](
		fmt.Sprintf("window.scrollTo(0, document.querySelector(%q).offsetTop - 8)", selector))); err != nil {
		t.Fatalf("scroll to %s: %v", selector, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// screenshots returns a function saving a full-page PNG of the current page, named by step.
func (b *browserRun) screenshots(t *testing.T, name string) func(step string) {
	dir := os.Getenv("DEMO_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".screenshots")
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.dir = dir
	return func(step string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", step, err)
		}
		if err := os.WriteFile(filepath.Join(dir, step+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitText waits until the element's text contains want.
func waitText(selector, want string) chromedp.Action[chromedp.Void] {
	read := chromedp.Text(chromedp.CSS(selector))
	return chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var got string
		var err error
		for {
			if got, err = read(ctx, target); err == nil && strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never showed %q; last %q: %w", selector, want, got, errors.Join(err, ctx.Err()))
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// css selects by CSS, as the page's ids and classes are written.
func css(s string) chromedp.CSS { return chromedp.CSS(s) }
