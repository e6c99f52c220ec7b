package idempotency

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// record is what Redis holds under a key: the request's fingerprint, and either the claim's
// owner (in progress) or the answer (with its body sealed).
type record struct {
	Fingerprint string    `json:"fp"`
	Owner       string    `json:"owner,omitempty"`
	Response    *Response `json:"response,omitempty"`
}

// The stored form is a kind byte and length-prefixed (uvarint) fields, no JSON and no base64:
//
//	claim:  'c' fingerprint owner
//	answer: 'a' fingerprint status content_type location body
//
// A fingerprint in hex (what Fingerprint returns) is kept as its bytes, and the kind is then
// upper case ('C', 'A'). A claim is 51 bytes where its JSON was 116, and an answer's body is
// kept as sealed, not in base64. Records a previous version wrote as JSON (they start with
// '{') are still read, so answers stored before an upgrade replay after it.
const (
	kindClaim     = 'c'
	kindAnswer    = 'a'
	kindClaimRaw  = 'C' // as kindClaim, the fingerprint kept as bytes
	kindAnswerRaw = 'A'
)

func (r record) encode() []byte {
	b := make([]byte, 0, 8+len(r.Fingerprint)+len(r.Owner)+r.responseLen())
	fp, kind := r.Fingerprint, byte(kindClaim)
	raw, err := hex.DecodeString(fp)
	isHex := err == nil && hex.EncodeToString(raw) == fp // lower case, as Fingerprint writes it
	if isHex {
		fp, kind = string(raw), kindClaimRaw
	}
	if r.Response != nil {
		kind = map[bool]byte{false: kindAnswer, true: kindAnswerRaw}[isHex]
	}
	b = appendField(append(b, kind), fp)
	if r.Response == nil {
		return appendField(b, r.Owner)
	}
	b = binary.AppendUvarint(b, uint64(r.Response.Status)) //nolint:gosec // an HTTP status
	b = appendField(b, r.Response.ContentType)
	b = appendField(b, r.Response.Location)
	return appendField(b, string(r.Response.Body))
}

func (r record) responseLen() int {
	if r.Response == nil {
		return 0
	}
	return len(r.Response.ContentType) + len(r.Response.Location) + len(r.Response.Body) + 8
}

func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errCorrupt = errors.New("malformed record")

func decodeRecord(raw []byte) (record, error) {
	var r record
	if len(raw) == 0 {
		return r, errCorrupt
	}
	if raw[0] == '{' {
		err := json.Unmarshal(raw, &r)
		return r, err
	}
	d := decoder{b: raw[1:]}
	r.Fingerprint = d.field()
	kind := raw[0]
	switch kind {
	case kindClaimRaw, kindAnswerRaw:
		r.Fingerprint, kind = hex.EncodeToString([]byte(r.Fingerprint)), kind-'A'+'a'
	}
	switch kind {
	case kindClaim:
		r.Owner = d.field()
	case kindAnswer:
		status := d.uvarint()
		if status < 100 || status > 599 {
			return r, errCorrupt
		}
		r.Response = &Response{Status: int(status), ContentType: d.field(), Location: d.field(), Body: []byte(d.field())}
	default:
		return r, errCorrupt
	}
	if d.err || len(d.b) != 0 {
		return record{}, errCorrupt
	}
	return r, nil
}

// decoder reads fields in order; any shortfall sets err and yields zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) field() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
