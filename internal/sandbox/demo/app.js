// The demo mini app: what a mini app frontend does, against the real BFF over HTTP.
// The calls to the sandbox (same origin) stand in for the GoPay JS SDK and GoPay's pages;
// every call to the BFF is cross-origin, as from a real mini app page (CORS).

const $ = (id) => document.getElementById(id);
const config = await (await fetch("config.json")).json();
const API = config.api_base_url;

// The session lives for the tab, as the SDK's auth code would be asked for again in a new one.
const session = {
  get token() { return sessionStorage.getItem("demo.session"); },
  get user() { return sessionStorage.getItem("demo.user"); },
  set(token, user) { sessionStorage.setItem("demo.session", token); sessionStorage.setItem("demo.user", user); },
  clear() { sessionStorage.removeItem("demo.session"); sessionStorage.removeItem("demo.user"); },
};

// randomId is a Request-Id: 32 hex digits (crypto.randomUUID needs a secure context).
function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// The customer's device, forwarded to GoPay as X-DEVICE-ID.
const deviceId = localStorage.getItem("demo.device") ?? `demo-${randomId().slice(0, 16)}`;
localStorage.setItem("demo.device", deviceId);

// Problem is an application/problem+json answer, shown as a person should see it.
class Problem extends Error {
  constructor(p, requestId) {
    super(p.title ?? "Request failed");
    this.problem = p;
    this.requestId = p.request_id ?? requestId;
  }
}

function logCall(method, path, status, requestId, replayed) {
  const li = document.createElement("li");
  li.textContent = `${method} ${path} → ${status}${replayed ? " (replayed)" : ""}${requestId ? ` · ${requestId}` : ""}`;
  if (status >= 400) li.className = "err";
  $("call-log").prepend(li);
}

// api calls the BFF; it answers {status, body, headers} or throws a Problem.
async function api(method, path, { body, headers = {}, expect = [] } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(API + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const requestId = res.headers.get("X-Request-Id");
  logCall(method, path, res.status, requestId, res.headers.get("Idempotent-Replayed") === "true");
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (res.ok || expect.includes(res.status)) return { status: res.status, body: json, headers: res.headers };
  if (res.status === 401 && path !== "/v1/sessions") signOut();
  throw new Problem(json ?? { title: res.statusText, status: res.status }, requestId);
}

// sandbox calls the sandbox itself: the SDK and GoPay's side.
async function sandbox(method, path, body) {
  const res = await fetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Problem({ title: "Sandbox refused", detail: text, status: res.status });
  return text ? JSON.parse(text) : null;
}

function showProblem(err) {
  if (!(err instanceof Problem)) {
    console.error(err); // a bug or the network: the test fails on any console error
    err = new Problem({ title: "Could not reach the service", detail: String(err.message ?? err) });
  }
  const p = err.problem;
  $("problem-title").textContent = p.title ?? "Something went wrong";
  $("problem-detail").textContent = p.detail ?? "";
  $("problem-meta").textContent = [p.status && `HTTP ${p.status}`, p.code, p.field && `field ${p.field}`,
    err.requestId && `request id ${err.requestId}`].filter(Boolean).join(" · ");
  $("problem").hidden = false;
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

// run wraps a user action: one at a time per button, problems shown, the last notice cleared.
function action(el, fn) {
  const handler = async (ev) => {
    ev.preventDefault();
    const btn = ev.submitter ?? el;
    btn.disabled = true;
    $("problem").hidden = true;
    notice("");
    try { await fn(ev); } catch (err) { showProblem(err); } finally { btn.disabled = false; }
  };
  el.addEventListener(el.tagName === "FORM" ? "submit" : "click", handler);
}

const idr = new Intl.NumberFormat("id-ID", { style: "currency", currency: "IDR" });
const money = (m) => (m.currency === "IDR" ? idr.format(Number(m.value)) : `${m.value} ${m.currency}`);

function item(text, button) {
  const li = document.createElement("li");
  const span = document.createElement("span");
  span.textContent = text;
  li.append(span);
  if (button) li.append(button);
  return li;
}

// ---- Sign in -------------------------------------------------------------------------------

async function signIn(userId) {
  const { auth_code } = await sandbox("POST", "/sandbox/auth-codes", { user_id: userId });
  const { body } = await api("POST", "/v1/sessions", { body: { auth_code } });
  session.set(body.session_token, userId);
}

function signOut() {
  session.clear();
  render();
}

// ---- Bank accounts -------------------------------------------------------------------------

async function accountToken() {
  const t = await sandbox("POST", "/sandbox/account-tokens", {
    user_id: session.user, bank_code: $("bank-code").value,
    bank_account_name: $("bank-name").value, bank_account_number: $("bank-number").value,
  });
  return t.account_token;
}

const linkAccount = (token, requestId) =>
  api("POST", "/v1/bank-accounts", { body: { account_token: token }, headers: { "Request-Id": requestId } });

async function renderBankAccounts() {
  const { body } = await api("GET", "/v1/bank-accounts");
  const items = body.data.map((a) => {
    const b = document.createElement("button");
    b.className = "secondary unlink-bank";
    b.textContent = "Unlink";
    action(b, async () => {
      await api("DELETE", `/v1/bank-accounts/${a.id}`);
      await renderBankAccounts();
      // The notice comes last: it says the page shows the outcome.
      notice(`Unlinked ${a.bank_code.toUpperCase()} ${a.masked_account_number}.`);
    });
    return item(`${a.bank_code.toUpperCase()} ${a.masked_account_number} · ${a.bank_account_name}`, b);
  });
  $("bank-list").replaceChildren(...items);
  if (!items.length) $("bank-list").append(item("No bank account linked."));
}

// ---- GoPay ---------------------------------------------------------------------------------

const gopayHeaders = { "X-Device-Id": deviceId };

async function renderGoPay() {
  const link = await api("GET", "/v1/gopay-link", { headers: gopayHeaders, expect: [404] });
  const linked = link.status === 200;
  const active = linked && link.body.status === "active";
  $("gopay-status").textContent = linked
    ? `GoPay ${link.body.masked_phone_number}: ${link.body.status}${link.body.status === "inactive" ? " — link it again to pay" : ""}`
    : "Not linked.";
  for (const id of ["gopay-refresh", "gopay-unlink", "gopay-end"]) $(id).hidden = !active;
  $("gopay-unlink").hidden = !linked;
  $("gopay-form").hidden = active;
  $("gopay-options").replaceChildren();
  if (active) await renderOptions(false);
}

async function renderOptions(refresh) {
  const { body } = await api("GET", `/v1/gopay-link/payment-options${refresh ? "?refresh=true" : ""}`, { headers: gopayHeaders });
  $("gopay-options").replaceChildren(...body.payment_options.map((o) => {
    const li = item(`${o.name}${o.active ? "" : " (inactive)"}`);
    const amount = document.createElement("span");
    amount.className = "amount";
    amount.textContent = money(o.balance);
    li.append(amount);
    return li;
  }));
  if (body.stale) notice(`Showing the last known balances: GoPay could not be asked (${body.stale_reason}).`);
}

// finishGoPayLink completes the link when GoPay's linking page sent the customer back.
async function finishGoPayLink(params) {
  if (params.get("gopay_link_error")) {
    notice("You declined linking GoPay.");
    return;
  }
  await api("POST", "/v1/gopay-link", {
    body: { auth_code: params.get("gopay_auth_code"), phone_number: params.get("phone_number"), name: session.user },
    headers: { ...gopayHeaders, "Request-Id": randomId() },
  });
  notice("GoPay linked.");
}

// ---- Cards ---------------------------------------------------------------------------------

async function bindCard(outcome) {
  const { body } = await api("POST", "/v1/card-bindings", {
    body: { mobile_number: $("card-phone").value, bank_code: $("card-bank").value, lang: "EN" },
    headers: { "Request-Id": randomId() },
  });
  // The webview: GoPay's card page, which ends on the BFF's redirect back into this page.
  location.assign(outcome === "failure" ? `${body.webview_url}&outcome=failure` : body.webview_url);
}

async function renderCards() {
  const { body } = await api("GET", "/v1/card-bindings");
  $("card-list").replaceChildren(...body.data.map((b) => item(`Card binding ${b.id.slice(0, 8)}…: ${b.status}`)));
  if (!body.data.length) $("card-list").append(item("No card binding yet."));
}

// ---- Payments --------------------------------------------------------------------------------

const stateText = { pending: "processing", requires_action: "waiting for your PIN", succeeded: "paid", failed: "failed",
  canceled: "canceled", refunded: "refunded" };

async function renderPayments() {
  const { body } = await api("GET", "/v1/payments");
  $("payment-list").replaceChildren(...body.data.map((p) => {
    let pin;
    if (p.state === "requires_action" && p.redirect_url) {
      pin = document.createElement("button");
      pin.className = "confirm-pin";
      pin.textContent = "Confirm with PIN";
      action(pin, async () => location.assign(p.redirect_url));
    }
    const refunded = p.refunded.value !== "0.00" && p.state !== "refunded" ? `, ${money(p.refunded)} refunded` : "";
    return item(`${p.description ?? p.pay_option} · ${money(p.amount)} · ${stateText[p.state] ?? p.state}${refunded}`, pin);
  }));
  if (!body.data.length) $("payment-list").append(item("No payment yet."));
}

// ---- The page ------------------------------------------------------------------------------

async function render() {
  const signedIn = Boolean(session.token);
  $("whoami").textContent = signedIn ? `Signed in as ${session.user}.` : "Not signed in.";
  $("signin-form").hidden = signedIn;
  $("signout-btn").hidden = !signedIn;
  for (const s of document.querySelectorAll(".needs-session")) s.hidden = !signedIn;
  if (!signedIn) return;
  await Promise.all([renderBankAccounts(), renderGoPay(), renderCards(), renderPayments()]);
}

action($("signin-form"), async () => {
  await signIn($("user-id").value);
  await render();
});
action($("signout-btn"), async () => signOut());
action($("problem-close"), async () => {});

action($("bank-form"), async () => {
  const { body } = await linkAccount(await accountToken(), randomId());
  await renderBankAccounts();
  notice(`Linked ${body.bank_code.toUpperCase()} ${body.masked_account_number}.`);
});

// A double tap sends the same request twice with one Request-Id, the second as a retry after
// a lost answer would: the BFF replays the first answer, and one account is linked.
action($("double-tap"), async () => {
  const token = await accountToken();
  const requestId = randomId();
  const first = await linkAccount(token, requestId);
  const second = await linkAccount(token, requestId);
  const replayed = second.headers.get("Idempotent-Replayed") === "true";
  $("bank-note").textContent = `Double tap with Request-Id ${requestId}: ${first.status}, then ${second.status}` +
    `${replayed ? " replayed" : ""}; ${first.body.id === second.body.id ? "one account" : "two accounts"} linked.`;
  await renderBankAccounts();
});

action($("gopay-form"), async () => {
  // GoPay's linking page; it sends the customer back here with an auth code.
  const q = new URLSearchParams({ phone_number: $("gopay-phone").value, return_url: location.pathname });
  location.assign(`/sandbox/gopay-linking?${q}`);
});
action($("gopay-refresh"), async () => renderOptions(true));
action($("gopay-unlink"), async () => {
  await api("DELETE", "/v1/gopay-link", { headers: gopayHeaders });
  await renderGoPay();
  notice("GoPay unlinked.");
});
action($("gopay-end"), async () => {
  // The customer ends the link from the GoPay app; the next refresh finds out.
  await sandbox("POST", `/sandbox/snap-customers/${encodeURIComponent($("gopay-phone").value)}/deactivate`);
  try {
    await renderOptions(true);
  } finally {
    await renderGoPay();
  }
});

action($("payments-refresh"), async () => renderPayments());
action($("card-form"), async () => bindCard("success"));
action($("card-bind-fail"), async () => bindCard("failure"));

// Coming back from GoPay's linking page or the card webview.
async function start() {
  const params = new URLSearchParams(location.search);
  if (params.size) history.replaceState(null, "", location.pathname);
  if (session.token && (params.has("gopay_auth_code") || params.has("gopay_link_error"))) {
    $("gopay-phone").value = params.get("phone_number") ?? "";
    await finishGoPayLink(params);
  }
  if (params.has("card_binding_id")) {
    $("card-outcome").textContent = params.get("status") === "succeeded"
      ? "Card bound: the webview came back with success."
      : `Card not bound: the webview came back with ${params.get("status")}.`;
  }
  await render();
}

start().catch(showProblem);
