// Package cardregtest holds seed 003's rule boundaries as data, so the service's validation
// and the sandbox are tested against the same cases: for every rule the shortest and longest
// valid value and the first invalid one on each side.
package cardregtest

import (
	"strings"

	"github.com/gopay-miniapp/bff/internal/cardreg"
)

// ValidRequest is a request every rule accepts.
func ValidRequest() cardreg.Request {
	return cardreg.Request{RedirectURL: "https://bff/ok", FailureRedirectURL: "https://bff/fail", State: strings.Repeat("s", 32),
		MerchantID: "G12345", Lang: "ID", Seamless: cardreg.Seamless{MobileNumber: "81234567890"},
		AdditionalInfo: map[string]string{"additionalInfo1": "order 1"}}
}

// ValidHeaders are headers every rule accepts.
func ValidHeaders() cardreg.Headers {
	return cardreg.Headers{Accept: "application/json", Timestamp: "2024-03-19T07:30:00.000Z", ClientKey: strings.Repeat("c", 32),
		PartnerID: "G12345", ExternalID: strings.Repeat("a1", 16), ChannelID: "95221"}
}

// RuleCases are the boundaries of every seed 003 rule: the shortest and longest valid value and
// the first invalid one on each side. The sandbox's tests replay them over HTTP.
var RuleCases = []struct {
	Name    string
	Mutate  func(*cardreg.Request)
	Field   string // "" when valid
	Missing bool
}{
	{"Valid", func(*cardreg.Request) {}, "", false},
	{"StateMissing", func(r *cardreg.Request) { r.State = "" }, "state", true},
	{"State31", func(r *cardreg.Request) { r.State = strings.Repeat("s", 31) }, "state", false},
	{"State33", func(r *cardreg.Request) { r.State = strings.Repeat("s", 33) }, "state", false},
	{"MerchantIDMissing", func(r *cardreg.Request) { r.MerchantID = "" }, "merchantId", true},
	{"MerchantID5", func(r *cardreg.Request) { r.MerchantID = "G1234" }, "merchantId", false},
	{"MerchantID7", func(r *cardreg.Request) { r.MerchantID = "G123456" }, "merchantId", false},
	{"LangEN", func(r *cardreg.Request) { r.Lang = "EN" }, "", false},
	{"LangDefault", func(r *cardreg.Request) { r.Lang = "" }, "", false},
	{"LangLowercase", func(r *cardreg.Request) { r.Lang = "id" }, "lang", false},
	{"LangOther", func(r *cardreg.Request) { r.Lang = "FR" }, "lang", false},
	{"LangThreeLetters", func(r *cardreg.Request) { r.Lang = "IDN" }, "lang", false},
	{"NeitherMobileNorUser", func(r *cardreg.Request) { r.Seamless = cardreg.Seamless{BankCode: "014"} }, "seamlessData", true},
	{"UserIDOnly", func(r *cardreg.Request) { r.Seamless = cardreg.Seamless{UserID: "u"} }, "", false},
	{"Mobile8", func(r *cardreg.Request) { r.Seamless.MobileNumber = "81234567" }, "seamlessData.mobileNumber", false},
	{"Mobile9", func(r *cardreg.Request) { r.Seamless.MobileNumber = "812345678" }, "", false},
	{"Mobile13", func(r *cardreg.Request) { r.Seamless.MobileNumber = "8123456789012" }, "", false},
	{"Mobile14", func(r *cardreg.Request) { r.Seamless.MobileNumber = "81234567890123" }, "seamlessData.mobileNumber", false},
	{"MobileNotDigits", func(r *cardreg.Request) { r.Seamless.MobileNumber = "+6281234567" }, "seamlessData.mobileNumber", false},
	{"UserID1", func(r *cardreg.Request) { r.Seamless.UserID = "a" }, "", false},
	{"UserID20WithSpecials", func(r *cardreg.Request) { r.Seamless.UserID = "ab/cd-ef_gh/ij-kl_mn" }, "", false},
	{"UserID21", func(r *cardreg.Request) { r.Seamless.UserID = strings.Repeat("u", 21) }, "seamlessData.userId", false},
	{"UserIDDot", func(r *cardreg.Request) { r.Seamless.UserID = "a.b" }, "seamlessData.userId", false},
	{"BankCode2", func(r *cardreg.Request) { r.Seamless.BankCode = "01" }, "seamlessData.bankCode", false},
	{"BankCode3", func(r *cardreg.Request) { r.Seamless.BankCode = "014" }, "", false},
	{"BankCode4", func(r *cardreg.Request) { r.Seamless.BankCode = "0140" }, "seamlessData.bankCode", false},
	{"BankCodeLetters", func(r *cardreg.Request) { r.Seamless.BankCode = "01a" }, "seamlessData.bankCode", false},
	{"AdditionalEmpty", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo1"] = "" }, "additionalInfo.additionalInfo1", false},
	{"Additional1", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo1"] = "x" }, "", false},
	{"Additional100", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo3"] = strings.Repeat("y", 100) }, "", false},
	{"Additional101", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo2"] = strings.Repeat("y", 101) }, "additionalInfo.additionalInfo2", false},
	{"AdditionalEverySpecial", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo1"] = "a @.-_+*!~ Z9" }, "", false},
	{"AdditionalHash", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo1"] = "a#b" }, "additionalInfo.additionalInfo1", false},
	{"AdditionalOtherKey", func(r *cardreg.Request) { r.AdditionalInfo["additionalInfo4"] = "x" }, "additionalInfo", false},
}

// HeaderCases are the header boundaries of seed 003.
var HeaderCases = []struct {
	Name   string
	Mutate func(*cardreg.Headers)
	Field  string
}{
	{"Valid", func(*cardreg.Headers) {}, ""},
	{"AcceptOther", func(h *cardreg.Headers) { h.Accept = "application/xml" }, "Accept"},
	{"AcceptMissing", func(h *cardreg.Headers) { h.Accept = "" }, "Accept"},
	{"Timestamp23", func(h *cardreg.Headers) { h.Timestamp = "2024-03-19T07:30:00.00Z" }, "X-TIMESTAMP"},
	{"Timestamp24", func(h *cardreg.Headers) { h.Timestamp = "2024-03-19T07:30:00.000Z" }, ""},
	{"Timestamp27", func(h *cardreg.Headers) { h.Timestamp = "2024-03-19T14:30:00.0+07:00" }, ""},
	{"Timestamp28", func(h *cardreg.Headers) { h.Timestamp = "2024-03-19T14:30:00.000+0700" }, "X-TIMESTAMP"},
	{"ClientKey31", func(h *cardreg.Headers) { h.ClientKey = strings.Repeat("c", 31) }, "X-CLIENT-KEY"},
	{"ClientKey33", func(h *cardreg.Headers) { h.ClientKey = strings.Repeat("c", 33) }, "X-CLIENT-KEY"},
	{"PartnerID5", func(h *cardreg.Headers) { h.PartnerID = "G1234" }, "X-PARTNER-ID"},
	{"PartnerID7", func(h *cardreg.Headers) { h.PartnerID = "G123456" }, "X-PARTNER-ID"},
	{"ExternalID31", func(h *cardreg.Headers) { h.ExternalID = strings.Repeat("a", 31) }, "X-EXTERNAL-ID"},
	{"ExternalID33", func(h *cardreg.Headers) { h.ExternalID = strings.Repeat("a", 33) }, "X-EXTERNAL-ID"},
	{"ExternalIDNotAlnum", func(h *cardreg.Headers) { h.ExternalID = strings.Repeat("a", 31) + "-" }, "X-EXTERNAL-ID"},
	{"ChannelID4", func(h *cardreg.Headers) { h.ChannelID = "9522" }, "CHANNEL-ID"},
	{"ChannelID6", func(h *cardreg.Headers) { h.ChannelID = "952210" }, "CHANNEL-ID"},
	{"ChannelIDLetters", func(h *cardreg.Headers) { h.ChannelID = "9522a" }, "CHANNEL-ID"},
}
