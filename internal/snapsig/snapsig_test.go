package snapsig

import (
	"os"
	"testing"
	"time"
)

// Known-answer vectors from ../shared/seeds/README.md (the providers' public demo).
func TestSymmetricSignatureKnownAnswer(t *testing.T) {
	body := []byte(`{"partnerReferenceNo":"2020102900000000000001","amount":{"value":"12345678.00","currency":"IDR"},"feeAmount":{"value":"12345678.00","currency":"IDR"},"merchantId":"00007100010926","terminalId":"213141251124","validityPeriod":"2009-07-03T12:08:56-07:00"}`)
	h, err := BodyHash(body)
	if err != nil || h != "01463f60dbb6ca538581579dd95b31c8ba9fc6600eca750e4d8460ca4e402111" {
		t.Fatalf("body hash %s %v", h, err)
	}
	sts, err := SymmetricStringToSign("POST", "/v1.0/qr/qr-mpm-generate", "myaccesstoken", body, "2024-03-05T10:37:16.196Z")
	if err != nil {
		t.Fatal(err)
	}
	const want = "wmzT7yjg1SxxCsxNsFgCR9SYXiZGGbceF6fV8xe97sAMHxZ+7OEBMIBmvb6Sj6GcksGp3iv77DiomgSbcST3XQ=="
	if got := SignSymmetric("myclientsecret", sts); got != want {
		t.Fatalf("signature\n got %s\nwant %s", got, want)
	}
	if !VerifySymmetric("myclientsecret", sts, want) || VerifySymmetric("other", sts, want) {
		t.Fatal("VerifySymmetric")
	}
	// The same body pretty-printed signs the same: minify removes whitespace outside strings.
	pretty := []byte("{\n  \"partnerReferenceNo\": \"2020102900000000000001\",\n  \"amount\": {\"value\": \"12345678.00\", \"currency\": \"IDR\"},\n  \"feeAmount\": {\"value\": \"12345678.00\", \"currency\": \"IDR\"},\n  \"merchantId\": \"00007100010926\",\n  \"terminalId\": \"213141251124\",\n  \"validityPeriod\": \"2009-07-03T12:08:56-07:00\"\n}")
	if h2, _ := BodyHash(pretty); h2 != h {
		t.Fatalf("pretty body hashes differently: %s", h2)
	}
}

func TestAsymmetricSignatureKnownAnswer(t *testing.T) {
	pemBytes, err := os.ReadFile("testdata/snap-demo-private-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	sts := AsymmetricStringToSign("G1234325-SNAP", "2023-07-31T07:10:00+07:00")
	const want = "iv5YorKVVFOFS59l0HChDvPe+HeoE/jY5CfVgCg5i16nj5/DVnKg49ilkv8PyeU7y38apHhgO+cUrvkfUs5BhDD69yLn7xp8hzN9RcR0UDy5+nCrQ3GGCVSzZJvlEXN+TB0j4Q6pMsjrq4+YRoyDa4mTlsjJTU9aGjLRFBYgY4MyMQ5x11JyLnoFwbS8TJ5e/q4mUozrp49VyHe7OQSFnJNwvMSFrDyAIxoOK0IZQIlY29PaDIFcWoR+RJAY42H2FryjJcPpNfeercbkj9jsBLV3wmEKiNoN6lgFFLk5QicDnAAQzL45s92EYeCqDNuTTJOydaJbUqEo1d/ZPVNBtQ=="
	got, err := SignAsymmetric(key, sts)
	if err != nil || got != want {
		t.Fatalf("signature\n got %s\nwant %s (%v)", got, want, err)
	}
	if !VerifyAsymmetric(&key.PublicKey, sts, want) {
		t.Fatal("verify known answer")
	}
	if VerifyAsymmetric(&key.PublicKey, AsymmetricStringToSign("G1234325-SNAP", "2023-07-31T07:10:01+07:00"), want) {
		t.Fatal("a changed timestamp verified")
	}
}

func TestMinifyKeepsStringContents(t *testing.T) {
	got, err := Minify([]byte(`{ "a" : "x  y\t z" , "b": [1, 2] }`))
	if err != nil || string(got) != `{"a":"x  y\t z","b":[1,2]}` {
		t.Fatalf("%s %v", got, err)
	}
	if h, _ := BodyHash(nil); h != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty body must hash the empty string: %s", h)
	}
	if _, err := Minify([]byte(`{"a":`)); err == nil {
		t.Fatal("broken JSON accepted")
	}
}

func TestTimestamp(t *testing.T) {
	ts := Timestamp(time.Date(2024, 3, 19, 7, 30, 0, 0, time.UTC))
	if ts != "2024-03-19T14:30:00.000+07:00" {
		t.Fatalf("%s", ts)
	}
	for _, ok := range []string{ts, "2024-03-19T14:30:00+07:00", "2024-03-05T10:37:16.196Z"} {
		if _, err := ParseTimestamp(ok); err != nil {
			t.Errorf("%s rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"2024-03-19 14:30:00", "2024-03-19T14:30:00", "yesterday", ""} {
		if _, err := ParseTimestamp(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A GET signs the empty-body hash and the path with its query, exactly as sent.
func TestGETSignsPathWithQueryAndEmptyBody(t *testing.T) {
	sts, err := SymmetricStringToSign("GET", "/v1.0/get-auth-code?scopes=CARD_REGISTRATION&state=abc", "tok", nil, "2024-03-19T14:30:00.000+07:00")
	want := "GET:/v1.0/get-auth-code?scopes=CARD_REGISTRATION&state=abc:tok:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:2024-03-19T14:30:00.000+07:00"
	if err != nil || sts != want {
		t.Fatalf("string to sign\n got %s\nwant %s", sts, want)
	}
	other, _ := SymmetricStringToSign("GET", "/v1.0/get-auth-code?scopes=CARD_REGISTRATION&state=abd", "tok", nil, "2024-03-19T14:30:00.000+07:00")
	if SignSymmetric("s", sts) == SignSymmetric("s", other) {
		t.Fatal("the query is not covered by the signature")
	}
}
