package sandbox

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

// The demo mini app: the frontend's side of every flow, played in a browser against the real
// API over HTTP, as a mini app inside the GoPay app would. It is plain HTML, CSS and ES modules
// with no build step, and it lives here, in the sandbox, so upstream mode never serves it.
// The sandbox's own pages stand in for what the GoPay app shows: the JS SDK's auth code and
// bank-account sheet (the /sandbox/... mint endpoints), GoPay's linking page and the card
// webview.

//go:embed demo
var demoFiles embed.FS

// DemoPath is where the demo is served on the sandbox.
const DemoPath = "/demo/"

func (s *Sandbox) demoRoutes(mux *http.ServeMux) {
	files, _ := fs.Sub(demoFiles, "demo") // cannot fail: the directory is embedded
	mux.Handle("GET "+DemoPath, http.StripPrefix(DemoPath, http.FileServerFS(files)))
	mux.HandleFunc("GET "+DemoPath+"config.json", s.demoConfig)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, DemoPath, http.StatusFound)
	})
	mux.HandleFunc("GET /sandbox/gopay-linking", s.gopayLinkingPage)
	mux.HandleFunc("POST /sandbox/gopay-linking", s.gopayLinkingDecision)
}

// demoConfig tells the page where the API is: the demo is served from the sandbox's origin and
// calls the API cross-origin, as a real mini app page on its own origin does (CORS).
func (s *Sandbox) demoConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"api_base_url": s.opts.DemoAPIURL})
}

var linkingPage = template.Must(template.New("linking").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>GoPay · link your account (sandbox)</title><link rel="stylesheet" href="/demo/style.css"></head>
<body><main class="sheet">
<p class="badge">Sandbox · stands in for GoPay's linking page</p>
<h1>Link GoPay</h1>
<p>A merchant asks to link your GoPay account <strong>{{.Masked}}</strong> so you can pay without leaving the mini app.</p>
<form method="post" action="/sandbox/gopay-linking">
<input type="hidden" name="phone_number" value="{{.Phone}}"><input type="hidden" name="return_url" value="{{.Return}}">
<button id="approve" name="decision" value="approve">Approve and link</button>
<button id="decline" class="secondary" name="decision" value="decline">Decline</button>
</form></main></body></html>`))

// linkingParams reads the phone number and the return URL, which must be a path on this
// origin: an open redirect would hand a GoPay auth code to any site that asked for one.
func linkingParams(v url.Values) (phone, back string, ok bool) {
	phone, back = v.Get("phone_number"), v.Get("return_url")
	if back == "" {
		back = DemoPath
	}
	u, err := url.Parse(back)
	ok = phonePattern.MatchString(phone) && err == nil && u.Scheme == "" && u.Host == "" &&
		strings.HasPrefix(back, "/") && !strings.HasPrefix(back, "//") && !strings.Contains(back, `\`)
	return phone, back, ok
}

// gopayLinkingPage is GoPay's linking page as the customer sees it: approve or decline.
func (s *Sandbox) gopayLinkingPage(w http.ResponseWriter, r *http.Request) {
	phone, back, ok := linkingParams(r.URL.Query())
	if !ok {
		http.Error(w, "phone_number (9 to 13 digits) and a return_url path on this origin are required", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = linkingPage.Execute(w, map[string]string{"Phone": phone, "Return": back, "Masked": "******" + phone[len(phone)-4:]})
}

// gopayLinkingDecision sends the customer back with an auth code, or with the refusal.
func (s *Sandbox) gopayLinkingDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	phone, back, ok := linkingParams(r.PostForm)
	if !ok {
		http.Error(w, "phone_number (9 to 13 digits) and a return_url path on this origin are required", http.StatusBadRequest)
		return
	}
	q := url.Values{"phone_number": {phone}}
	if r.PostForm.Get("decision") == "approve" {
		q.Set("gopay_auth_code", s.MintGoPayAuthCode(phone))
	} else {
		q.Set("gopay_link_error", "declined")
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+q.Encode(), http.StatusSeeOther)
}
