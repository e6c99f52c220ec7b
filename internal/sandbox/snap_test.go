package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/snapsig"
)

// snapClient signs requests by hand, so tests can tamper with them after signing.
type snapClient struct {
	t   *testing.T
	srv *httptest.Server
	sb  *Sandbox
	b2b string
	n   int
}

func newSNAP(t *testing.T) *snapClient {
	t.Helper()
	sb, srv, _ := newSandbox(t)
	// Real time: SNAP timestamps are checked against the sandbox clock within five minutes.
	sb.opts.Now = time.Now
	c := &snapClient{t: t, srv: srv, sb: sb}
	c.b2b = c.accessToken()
	return c
}

func (c *snapClient) accessToken() string {
	ts := snapsig.Timestamp(time.Now())
	sig, _ := snapsig.SignAsymmetric(testKey(c.t), snapsig.AsymmetricStringToSign("ck", ts))
	st, m := c.raw("POST", "/v1.0/access-token/b2b", `{"grantType":"client_credentials"}`,
		map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck", "X-SIGNATURE": sig, "Content-Type": "application/json"})
	if st != 200 || m["responseCode"] != "2007300" || m["expiresIn"] != "900" {
		c.t.Fatalf("access token: %d %v", st, m)
	}
	return m["accessToken"].(string)
}

func (c *snapClient) raw(method, path, body string, h map[string]string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Error(err) // Error, not Fatal: raw also runs inside subtests
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// signed returns the headers of a correctly signed service call.
func (c *snapClient) signed(path, body string) map[string]string {
	c.n++
	ts := snapsig.Timestamp(time.Now())
	sts, _ := snapsig.SymmetricStringToSign("POST", path, c.b2b, []byte(body), ts)
	return map[string]string{"Content-Type": "application/json", "X-TIMESTAMP": ts, "Authorization": "Bearer " + c.b2b,
		"X-SIGNATURE": snapsig.SignSymmetric("cs", sts), "X-PARTNER-ID": "P1", "X-EXTERNAL-ID": "ext" + strconv.FormatInt(time.Now().UnixNano(), 10) + strconv.Itoa(c.n),
		"X-DEVICE-ID": "dev1", "CHANNEL-ID": "95221"}
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range h {
		out[a] = b
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestSNAPRejectsTamperingAndBadHeaders(t *testing.T) {
	c := newSNAP(t)
	const path = "/v1.0/registration-account-inquiry"
	body := `{"additionalInfo":{"accountId":"enabled-1"}}`
	tests := []struct {
		name     string
		path     string
		body     string
		headers  func() map[string]string
		wantCode string
	}{
		{"Valid", path, body, func() map[string]string { return c.signed(path, body) }, "2000800"},
		{"BodyChangedAfterSigning", path, `{"additionalInfo":{"accountId":"enabled-2"}}`, func() map[string]string { return c.signed(path, body) }, "4010800"},
		{"PathChangedAfterSigning", path + "?x=1", body, func() map[string]string { return c.signed(path, body) }, "4010800"},
		{"TimestampChangedAfterSigning", path, body, func() map[string]string {
			h := c.signed(path, body)
			return with(h, "X-TIMESTAMP", snapsig.Timestamp(time.Now().Add(time.Second)))
		}, "4010800"},
		{"TokenChangedAfterSigning", path, body, func() map[string]string {
			other := c.accessToken()
			return with(c.signed(path, body), "Authorization", "Bearer "+other)
		}, "4010800"},
		{"UnknownB2BToken", path, body, func() map[string]string { return with(c.signed(path, body), "Authorization", "Bearer nope") }, "4010801"},
		{"MissingSignature", path, body, func() map[string]string { return with(c.signed(path, body), "X-SIGNATURE", "") }, "4000802"},
		{"MissingExternalID", path, body, func() map[string]string { return with(c.signed(path, body), "X-EXTERNAL-ID", "") }, "4000802"},
		{"MissingDeviceID", path, body, func() map[string]string { return with(c.signed(path, body), "X-DEVICE-ID", "") }, "4000802"},
		{"MalformedTimestamp", path, body, func() map[string]string {
			return with(c.signed(path, body), "X-TIMESTAMP", "2024-03-19 14:30:00")
		}, "4000801"},
		{"StaleTimestamp", path, body, func() map[string]string {
			return with(c.signed(path, body), "X-TIMESTAMP", snapsig.Timestamp(time.Now().Add(-time.Hour)))
		}, "4000801"},
		{"ChannelIDNotFiveDigits", path, body, func() map[string]string { return with(c.signed(path, body), "CHANNEL-ID", "1234") }, "4000801"},
		{"ExternalIDNotAlphanumeric", path, body, func() map[string]string { return with(c.signed(path, body), "X-EXTERNAL-ID", "has-dash") }, "4000801"},
		{"ExternalIDTooLong", path, body, func() map[string]string {
			return with(c.signed(path, body), "X-EXTERNAL-ID", strings.Repeat("a", 37))
		}, "4000801"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m := c.raw("POST", tt.path, tt.body, tt.headers())
			if m["responseCode"] != tt.wantCode {
				t.Fatalf("responseCode %v (HTTP %d), want %s: %v", m["responseCode"], st, tt.wantCode, m)
			}
			if tt.wantCode[:3] != strconv.Itoa(st) {
				t.Fatalf("HTTP %d does not match responseCode %s", st, tt.wantCode)
			}
		})
	}
	t.Run("ExternalIDReusedToday", func(t *testing.T) {
		first := c.signed(path, body)
		if _, m := c.raw("POST", path, body, first); m["responseCode"] != "2000800" {
			t.Fatalf("first use: %v", m)
		}
		again := c.signed(path, body) // freshly signed, but with the first call's external id
		again["X-EXTERNAL-ID"] = first["X-EXTERNAL-ID"]
		if _, m := c.raw("POST", path, body, again); m["responseCode"] != "4090800" {
			t.Fatalf("reuse: %v", m)
		}
	})
	t.Run("B2BExpired", func(t *testing.T) {
		c.sb.ExpireB2BTokens()
		if _, m := c.raw("POST", path, body, c.signed(path, body)); m["responseCode"] != "4010801" {
			t.Fatalf("%v", m)
		}
		c.b2b = c.accessToken()
	})
}

func TestSNAPAccessTokenRules(t *testing.T) {
	c := newSNAP(t)
	ts := snapsig.Timestamp(time.Now())
	good, _ := snapsig.SignAsymmetric(testKey(t), snapsig.AsymmetricStringToSign("ck", ts))
	other, _ := snapsig.SignAsymmetric(testKey(t), snapsig.AsymmetricStringToSign("ck", snapsig.Timestamp(time.Now().Add(time.Second))))
	for _, tt := range []struct {
		name, body string
		h          map[string]string
		want       string
	}{
		{"MissingSignature", `{"grantType":"client_credentials"}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck"}, "4007302"},
		{"BadTimestamp", `{"grantType":"client_credentials"}`, map[string]string{"X-TIMESTAMP": "now", "X-CLIENT-KEY": "ck", "X-SIGNATURE": good}, "4007301"},
		{"SignatureOfAnotherTimestamp", `{"grantType":"client_credentials"}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck", "X-SIGNATURE": other}, "4017300"},
		{"UnknownClientKey", `{"grantType":"client_credentials"}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "zz", "X-SIGNATURE": good}, "4017300"},
		{"WrongGrant", `{"grantType":"password"}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck", "X-SIGNATURE": good}, "4007301"},
		{"NoGrant", `{}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck", "X-SIGNATURE": good}, "4007302"},
		// What Midtrans' official Node client sends (midtrans-client 1.4.3, SnapBi.getAccessToken).
		{"SnakeCaseGrantOfTheOfficialClient", `{"grant_type":"client_credentials"}`, map[string]string{"X-TIMESTAMP": ts, "X-CLIENT-KEY": "ck", "X-SIGNATURE": good}, "2007300"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, m := c.raw("POST", "/v1.0/access-token/b2b", tt.body, tt.h); m["responseCode"] != tt.want {
				t.Fatalf("%v, want %s", m, tt.want)
			}
		})
	}
}

// The Midtrans "Bind Account API" page lists merchantId, authCode and grantType as mandatory:
// a binding without any of them is 4000702 naming the field, as the provider answers it.
func TestSNAPBindingMandatoryFields(t *testing.T) {
	c := newSNAP(t)
	const path = "/v1.0/registration-account-binding"
	body := func(drop string) string {
		m := map[string]any{"partnerReferenceNo": "ref-1", "merchantId": "G12345", "authCode": c.sb.MintGoPayAuthCode("81234567890"),
			"grantType": "AUTHORIZATION_CODE", "additionalInfo": map[string]any{}}
		delete(m, drop)
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, field := range []string{"partnerReferenceNo", "merchantId", "authCode", "grantType"} {
		b := body(field)
		if _, m := c.raw("POST", path, b, c.signed(path, b)); m["responseCode"] != "4000702" ||
			!strings.Contains(m["responseMessage"].(string), field) {
			t.Errorf("without %s: %v", field, m)
		}
	}
	b := strings.Replace(body(""), "AUTHORIZATION_CODE", "client_credentials", 1)
	if _, m := c.raw("POST", path, b, c.signed(path, b)); m["responseCode"] != "4000701" {
		t.Errorf("wrong grantType: %v", m)
	}
	b = body("")
	if _, m := c.raw("POST", path, b, c.signed(path, b)); m["responseCode"] != "2000700" {
		t.Errorf("complete binding: %v", m)
	}
}
