package cardreg_test

import (
	"testing"

	"github.com/gopay-miniapp/bff/internal/cardreg"
	"github.com/gopay-miniapp/bff/internal/cardreg/cardregtest"
)

func validRequest() cardreg.Request { return cardregtest.ValidRequest() }
func validHeaders() cardreg.Headers { return cardregtest.ValidHeaders() }

func TestRequestRules(t *testing.T) {
	for _, tt := range cardregtest.RuleCases {
		t.Run(tt.Name, func(t *testing.T) {
			r := validRequest()
			tt.Mutate(&r)
			v := r.Validate()
			switch {
			case tt.Field == "" && v != nil:
				t.Fatalf("valid request refused: %v", v)
			case tt.Field != "" && (v == nil || v.Field != tt.Field || v.Missing != tt.Missing):
				t.Fatalf("got %+v, want field %s (missing %v)", v, tt.Field, tt.Missing)
			}
		})
	}
}

func TestHeaderRules(t *testing.T) {
	for _, tt := range cardregtest.HeaderCases {
		t.Run(tt.Name, func(t *testing.T) {
			h := validHeaders()
			tt.Mutate(&h)
			v := h.Validate()
			if tt.Field == "" && v != nil || tt.Field != "" && (v == nil || v.Field != tt.Field) {
				t.Fatalf("got %v, want field %q", v, tt.Field)
			}
		})
	}
}

func TestQueryRoundTrip(t *testing.T) {
	r := validRequest()
	r.Lang = ""
	q, err := r.Query()
	if err != nil || q["lang"] != "ID" || q["scopes"] != cardreg.Scope || q["seamlessData"] != `{"mobileNumber":"81234567890"}` {
		t.Fatalf("%v %v", q, err)
	}
	back, v := cardreg.ParseQuery(func(k string) string { return q[k] })
	if v != nil || back.State != r.State || back.Seamless != r.Seamless || back.AdditionalInfo["additionalInfo1"] != "order 1" {
		t.Fatalf("%+v %v", back, v)
	}
	if _, v := cardreg.ParseQuery(func(k string) string {
		if k == "scopes" {
			return "OTHER"
		}
		return q[k]
	}); v == nil || v.Field != "scopes" {
		t.Fatalf("wrong scope: %v", v)
	}
}
