// Package snapsig implements BI-SNAP request signing as Bank Indonesia's standard and the
// providers' docs define it: SHA256withRSA for the B2B access token, HMAC-SHA512 over the
// minified body hash for service calls. The gateway signs with it and the sandbox verifies with
// it; known-answer tests pin both to the providers' public vectors.
package snapsig

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// WIB is Jakarta's fixed offset. SNAP wants X-TIMESTAMP with the +07:00 offset; a fixed zone
// avoids depending on the machine's tzdata.
var WIB = time.FixedZone("WIB", 7*60*60)

// Timestamp formats X-TIMESTAMP: ISO-8601 with milliseconds and the +07:00 offset,
// e.g. 2024-03-19T14:30:00.000+07:00 (yyyy-MM-ddTHH:mm:ss.SSSTZD).
func Timestamp(t time.Time) string { return t.In(WIB).Format("2006-01-02T15:04:05.000-07:00") }

// ParseTimestamp accepts X-TIMESTAMP with or without fractional seconds; an offset is required.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want ISO-8601 with an offset, e.g. 2024-03-19T14:30:00+07:00")
	}
	return t, nil
}

// AsymmetricStringToSign is what the B2B access-token call signs: clientKey|X-TIMESTAMP.
func AsymmetricStringToSign(clientKey, timestamp string) string { return clientKey + "|" + timestamp }

// SignAsymmetric is Base64(SHA256withRSA(privateKey, stringToSign)).
func SignAsymmetric(key *rsa.PrivateKey, stringToSign string) (string, error) {
	sum := sha256.Sum256([]byte(stringToSign))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyAsymmetric checks a SignAsymmetric signature with the public half.
func VerifyAsymmetric(pub *rsa.PublicKey, stringToSign, signature string) bool {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(stringToSign))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}

// Minify removes whitespace outside JSON strings only; keys, order and string contents are
// untouched (a regex-based minify that strips spaces inside values breaks signatures).
// An empty body stays empty: a GET signs the hash of the empty string.
func Minify(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return nil, fmt.Errorf("snapsig: body is not JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// BodyHash is lowerhex(SHA256(minify(body))).
func BodyHash(body []byte) (string, error) {
	min, err := Minify(body)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(min)
	return hex.EncodeToString(sum[:]), nil
}

// SymmetricStringToSign is METHOD:relativePathWithQuery:accessToken:bodyHash:X-TIMESTAMP.
func SymmetricStringToSign(method, pathWithQuery, accessToken string, body []byte, timestamp string) (string, error) {
	h, err := BodyHash(body)
	if err != nil {
		return "", err
	}
	return method + ":" + pathWithQuery + ":" + accessToken + ":" + h + ":" + timestamp, nil
}

// ParsePublicKey reads an RSA public key from PEM: PKIX ("PUBLIC KEY") or PKCS #1 ("RSA PUBLIC KEY").
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("snapsig: no PEM block")
	}
	if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("snapsig: public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("snapsig: not an RSA public key")
	}
	return rk, nil
}

// NotificationStringToSign is what a payment notification's X-SIGNATURE signs, with the
// provider's private key (SHA256withRSA): POST:path:bodyHash:X-TIMESTAMP (midtrans-client
// 1.4.3, SnapBi.isWebhookNotificationVerified).
func NotificationStringToSign(path string, body []byte, timestamp string) (string, error) {
	h, err := BodyHash(body)
	if err != nil {
		return "", err
	}
	return "POST:" + path + ":" + h + ":" + timestamp, nil
}

// SignSymmetric is Base64(HMAC_SHA512(clientSecret, stringToSign)).
func SignSymmetric(clientSecret, stringToSign string) string {
	m := hmac.New(sha512.New, []byte(clientSecret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifySymmetric checks a SignSymmetric signature in constant time.
func VerifySymmetric(clientSecret, stringToSign, signature string) bool {
	want := SignSymmetric(clientSecret, stringToSign)
	return hmac.Equal([]byte(want), []byte(signature))
}

// ParsePrivateKey reads an RSA private key from PEM (PKCS#8 or PKCS#1).
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("snapsig: no PEM block in private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("snapsig: private key is neither PKCS#8 nor PKCS#1")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("snapsig: private key is not RSA")
	}
	return rk, nil
}

// NewPrivateKeyPEM generates a 2048-bit RSA key as PKCS#8 PEM, for sandbox mode.
func NewPrivateKeyPEM() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
