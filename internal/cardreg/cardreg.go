// Package cardreg holds the rules of SNAP "Get OAuth Code" (service 30, scope
// CARD_REGISTRATION) from seed 003: the query parameters and headers of the call that yields the
// auth code opening the card-binding webview. The service checks a request with Validate before
// anything is sent upstream; the sandbox answers with the same rules. Each violation names its
// field.
package cardreg

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"unicode/utf8"
)

// Scope is the only scope this call takes.
const Scope = "CARD_REGISTRATION"

// Request is a Get OAuth Code call before encoding.
type Request struct {
	RedirectURL        string
	FailureRedirectURL string
	State              string
	MerchantID         string
	Lang               string // ID (default) or EN
	Seamless           Seamless
	AdditionalInfo     map[string]string // keys additionalInfo1..3
}

// Seamless is the seamlessData object: at least one of MobileNumber and UserID.
type Seamless struct {
	MobileNumber string `json:"mobileNumber,omitempty"`
	UserID       string `json:"userId,omitempty"`
	BankCode     string `json:"bankCode,omitempty"`
}

// Headers are the call's headers whose shape seed 003 fixes.
type Headers struct {
	Accept     string
	Timestamp  string
	ClientKey  string
	PartnerID  string
	ExternalID string
	ChannelID  string
}

// Violation is a broken rule.
type Violation struct {
	Field   string
	Message string
	Missing bool // a mandatory field is absent (SNAP case 02) rather than malformed (01)
}

func (v *Violation) Error() string { return v.Field + ": " + v.Message }

var (
	digits          = regexp.MustCompile(`^[0-9]+$`)
	alnum           = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	userIDPattern   = regexp.MustCompile(`^[A-Za-z0-9/_-]+$`)
	additionalChars = regexp.MustCompile(`^[A-Za-z0-9 @.\-_+*!~]+$`)
	additionalKeys  = map[string]bool{"additionalInfo1": true, "additionalInfo2": true, "additionalInfo3": true}
)

func missing(field string) *Violation {
	return &Violation{Field: field, Message: "is required", Missing: true}
}

func bad(field, format string, args ...any) *Violation {
	return &Violation{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks the query parameters; the first violation is returned.
func (r Request) Validate() *Violation {
	switch n := utf8.RuneCountInString(r.State); {
	case n == 0:
		return missing("state")
	case n != 32:
		return bad("state", "must be exactly 32 characters, not %d", n)
	}
	switch n := utf8.RuneCountInString(r.MerchantID); {
	case n == 0:
		return missing("merchantId")
	case n != 6:
		return bad("merchantId", "must be exactly 6 characters, not %d", n)
	}
	if r.Lang != "" && r.Lang != "ID" && r.Lang != "EN" {
		return bad("lang", "must be ID or EN")
	}
	if v := r.Seamless.validate(); v != nil {
		return v
	}
	return validateAdditionalInfo(r.AdditionalInfo)
}

func (s Seamless) validate() *Violation {
	if s.MobileNumber == "" && s.UserID == "" {
		return &Violation{Field: "seamlessData", Message: "needs mobileNumber or userId", Missing: true}
	}
	if s.MobileNumber != "" && (!digits.MatchString(s.MobileNumber) || len(s.MobileNumber) < 9 || len(s.MobileNumber) > 13) {
		return bad("seamlessData.mobileNumber", "must be 9 to 13 digits")
	}
	if s.UserID != "" && (!userIDPattern.MatchString(s.UserID) || len(s.UserID) > 20) {
		return bad("seamlessData.userId", "must be at most 20 letters, digits, '/', '-' or '_'")
	}
	if s.BankCode != "" && (!digits.MatchString(s.BankCode) || len(s.BankCode) != 3) {
		return bad("seamlessData.bankCode", "must be 3 digits")
	}
	return nil
}

func validateAdditionalInfo(info map[string]string) *Violation {
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := info[k]
		if !additionalKeys[k] {
			return bad("additionalInfo", "keys are additionalInfo1, additionalInfo2 and additionalInfo3, not %q", k)
		}
		if n := utf8.RuneCountInString(v); n < 1 || n > 100 {
			return bad("additionalInfo."+k, "must be 1 to 100 characters, not %d", n)
		}
		if !additionalChars.MatchString(v) {
			return bad("additionalInfo."+k, "may hold letters, digits, space and @ . - _ + * ! ~ only")
		}
	}
	return nil
}

// Validate checks the headers; the first violation is returned.
func (h Headers) Validate() *Violation {
	checks := []struct {
		field, value string
		ok           func(string) bool
		rule         string
	}{
		{"Accept", h.Accept, func(v string) bool { return v == "application/json" }, "must be application/json (16 characters)"},
		{"X-TIMESTAMP", h.Timestamp, func(v string) bool { return len(v) >= 24 && len(v) <= 27 }, "must be 24 to 27 characters (yyyy-MM-ddTHH:mm:ss.SSSTZD)"},
		{"X-CLIENT-KEY", h.ClientKey, func(v string) bool { return len(v) == 32 }, "must be exactly 32 characters"},
		{"X-PARTNER-ID", h.PartnerID, func(v string) bool { return len(v) == 6 }, "must be exactly 6 characters"},
		{"X-EXTERNAL-ID", h.ExternalID, func(v string) bool { return len(v) == 32 && alnum.MatchString(v) }, "must be exactly 32 letters or digits"},
		{"CHANNEL-ID", h.ChannelID, func(v string) bool { return len(v) == 5 && digits.MatchString(v) }, "must be exactly 5 digits"},
	}
	for _, c := range checks {
		if c.value == "" {
			return missing(c.field)
		}
		if !c.ok(c.value) {
			return bad(c.field, "%s", c.rule)
		}
	}
	return nil
}

// Query encodes the request as the call's query parameters (seamlessData and additionalInfo
// as JSON strings).
func (r Request) Query() (map[string]string, error) {
	lang := r.Lang
	if lang == "" {
		lang = "ID"
	}
	q := map[string]string{"scopes": Scope, "state": r.State, "merchantId": r.MerchantID, "lang": lang,
		"redirectUrl": r.RedirectURL, "failureRedirectUrl": r.FailureRedirectURL}
	sd, err := json.Marshal(r.Seamless)
	if err != nil {
		return nil, err
	}
	q["seamlessData"] = string(sd)
	if len(r.AdditionalInfo) > 0 {
		ai, err := json.Marshal(r.AdditionalInfo)
		if err != nil {
			return nil, err
		}
		q["additionalInfo"] = string(ai)
	}
	return q, nil
}

// ParseQuery reads a request back from query parameters, as the upstream does. scopes must be
// CARD_REGISTRATION.
func ParseQuery(get func(string) string) (Request, *Violation) {
	switch s := get("scopes"); {
	case s == "":
		return Request{}, missing("scopes")
	case s != Scope:
		return Request{}, bad("scopes", "must be %s", Scope)
	}
	r := Request{RedirectURL: get("redirectUrl"), FailureRedirectURL: get("failureRedirectUrl"), State: get("state"),
		MerchantID: get("merchantId"), Lang: get("lang")}
	if raw := get("seamlessData"); raw == "" {
		return r, &Violation{Field: "seamlessData", Message: "is required", Missing: true}
	} else if err := json.Unmarshal([]byte(raw), &r.Seamless); err != nil {
		return r, bad("seamlessData", "must be a JSON object")
	}
	if raw := get("additionalInfo"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &r.AdditionalInfo); err != nil {
			return r, bad("additionalInfo", "must be a JSON object of strings")
		}
	}
	return r, nil
}
