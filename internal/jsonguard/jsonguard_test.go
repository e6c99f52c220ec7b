package jsonguard

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct {
		name, body string
		field      string // "" = accepted
		reason     string // a part of the reason
	}{
		{"Object", `{"account_token":"abc"}`, "", ""},
		{"Whitespace", " \t\r\n{ \"a\" : [ 1 , 2.5e-3 , -0 , true , false , null ] }\n", "", ""},
		{"Escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, "", ""},
		{"UTF8", `{"name":"Pak Budi – Jakarta ✓ 😀"}`, "", ""},
		{"DepthAtLimit", deep(32), "", ""},
		{"DifferentNames", `{"a":1,"b":2,"c":{"a":3}}`, "", ""},
		{"ValuesAtLimit", "[" + strings.Repeat("0,", 62) + "0]", "", ""},
		{"TooManyValues", "[" + strings.Repeat("0,", 63) + "0]", "63", "more than 64 values"},
		{"TooManyMembers", `{"a":{` + strings.Repeat(`"k":{},`, 0) + `"b":[` + strings.Repeat("{},", 70) + `{}]}}`, "a.b.61", "more than 64 values"},

		{"Empty", ``, "body", "required"},
		{"OnlySpace", "  \n", "body", "required"},
		{"TooDeep", deep(33), "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", "nested deeper than 32"},
		{"TooDeepObjects", strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", "nested"},
		{"TrailingValue", `{"a":1} {"a":2}`, "body", "after the JSON value"},
		{"TrailingGarbage", `{"a":1}x`, "body", "after the JSON value"},
		{"InvalidUTF8", "{\"auth_code\":\"ab\xffcd\"}", "auth_code", "UTF-8"},
		{"InvalidUTF8Nested", "{\"additional_info\":{\"additionalInfo1\":\"\xc3\x28\"}}", "additional_info.additionalInfo1", "UTF-8"},
		{"InvalidUTF8InArray", "{\"a\":[\"ok\",\"\xed\xa0\x80\"]}", "a.1", "UTF-8"},
		{"LoneHighSurrogate", `{"a":"\ud83d"}`, "a", "surrogate"},
		{"LoneLowSurrogate", `{"a":"\ude00x"}`, "a", "surrogate"},
		{"HighThenNotLow", `{"a":"\ud83d\u0041"}`, "a", "surrogate"},
		{"DuplicateName", `{"account_token":"a","account_token":"b"}`, "account_token", "repeated"},
		{"DuplicateNameCase", `{"auth_code":"a","AUTH_CODE":"b"}`, "AUTH_CODE", "repeated"},
		{"DuplicateNameKelvin", "{\"k\":1,\"\u212a\":2}", "\u212a", "repeated"},
		{"DuplicateThird", `{"a":1,"b":2,"A":3}`, "A", "repeated"},
		{"ControlChar", "{\"a\":\"x\ny\"}", "a", "control character"},
		{"BadEscape", `{"a":"\x"}`, "a", "invalid escape"},
		{"BadNumber", `{"a":01}`, "body", "expected ','"},
		{"BadNumberDot", `{"a":1.}`, "body", "number"},
		{"Unterminated", `{"a":"x`, "body", "unterminated"},
		{"MissingColon", `{"a" 1}`, "body", "':'"},
		{"SingleQuotes", `{'a':1}`, "body", "member name"},
		{"BareWord", `{"a":nul}`, "body", "not valid JSON"},
		{"EndsEarly", `[1,`, "body", "ends early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.body), Limits{Depth: 32, Values: 64})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused a good body: %v", err)
				}
				if !json.Valid([]byte(tc.body)) {
					t.Fatal("test case is not valid JSON to encoding/json")
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted %q (err %v)", tc.body, err)
			}
			if e.Field != tc.field || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("got field %q reason %q, want field %q reason containing %q", e.Field, e.Reason, tc.field, tc.reason)
			}
		})
	}
}

// The worst body for the recursion is the deepest one: it is refused at the limit, in time
// linear in its length, with stack bounded by the limit.
func TestDeepBodyIsCheap(t *testing.T) {
	body := []byte(strings.Repeat("[", 64<<10))
	allocs := testing.AllocsPerRun(10, func() {
		if Check(body, Limits{Depth: 32, Values: 1 << 20}) == nil {
			t.Fatal("accepted")
		}
	})
	if allocs > 10 {
		t.Fatalf("%v allocations to refuse a deep body", allocs)
	}
}

// FuzzCheck compares Check with encoding/json, which we did not write: whatever Check accepts
// encoding/json accepts too, and is valid UTF-8; whatever encoding/json accepts that Check
// refuses is refused for one of Check's own rules, never as a syntax error.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `[1,2,{"x":null}]`, `"\ud83d\ude00"`, `{"a":1,"A":2}`, "\"\xff\"", `1e5`, `{} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, Limits{Depth: 8, Values: 1000})
		valid := json.Valid(b)
		if err == nil {
			if !valid || !utf8.Valid(b) {
				t.Fatalf("accepted %q, which encoding/json (%v) or UTF-8 (%v) refuses", b, valid, utf8.Valid(b))
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Field == "" || e.Reason == "" {
			t.Fatalf("error without field and reason: %v", err)
		}
		if valid {
			for _, rule := range []string{"nested deeper", "values in the body", "UTF-8", "repeated", "control character"} {
				if strings.Contains(e.Reason, rule) {
					return
				}
			}
			t.Fatalf("refused %q, valid to encoding/json, as %q", b, e.Reason)
		}
	})
}
