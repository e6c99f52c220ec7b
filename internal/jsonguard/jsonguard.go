// Package jsonguard checks a request body before anything else parses it: one pass over the
// bytes, linear in their length, with nesting bounded. It accepts exactly one RFC 8259 value
// and refuses what the parsers after it would accept silently or expensively: nesting deeper
// than a limit (the OpenAPI validator's error text was quadratic in depth), data after the
// value (encoding/json's Decoder ignores it), invalid UTF-8 and lone surrogate escapes
// (encoding/json turns both into U+FFFD, so the upstream would see another string than the
// client sent), and member names repeated within an object (two parsers could each pick a
// different one; encoding/json even matches names case-insensitively).
package jsonguard

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error says what is wrong and where: Field is the path of the offending value ("a.b.0"), or
// "body" when the body as a whole is at fault.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string { return e.Field + ": " + e.Reason }

// Limits bound a body's shape. Depth bounds nesting (and the recursion here); Values bounds how
// many values (scalars, arrays and objects, members' values included) a body may hold, which
// bounds what the parsers after this one allocate: a body of 20,000 empty objects costs them
// megabytes, while no request of ours holds more than a few dozen values.
type Limits struct {
	Depth  int
	Values int
}

// Check returns nil if b is one JSON value within limits, whose strings are valid UTF-8 and
// whose objects repeat no member name; otherwise an *Error.
func Check(b []byte, limits Limits) error {
	p := parser{b: b, max: limits.Depth, maxValues: limits.Values}
	p.space()
	if p.i == len(b) {
		return &Error{Field: "body", Reason: "a JSON body is required"}
	}
	if err := p.value(); err != nil {
		return err
	}
	p.space()
	if p.i != len(b) {
		return &Error{Field: "body", Reason: "unexpected data after the JSON value"}
	}
	return nil
}

type parser struct {
	b         []byte
	i         int
	depth     int
	max       int
	values    int
	maxValues int
	path      []string
}

// fail reports a problem with the value at the current path: its content (a string's bytes or
// escapes, a repeated name) or its depth.
func (p *parser) fail(reason string) error {
	field := strings.Join(p.path, ".")
	if field == "" {
		field = "body"
	}
	return &Error{Field: field, Reason: reason}
}

// syntax reports a body that is not JSON at all; no field is to blame.
func (p *parser) syntax(reason string) error { return &Error{Field: "body", Reason: reason} }

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() error {
	if p.i >= len(p.b) {
		return p.syntax("the JSON body ends early")
	}
	if p.values++; p.values > p.maxValues {
		return p.fail("more than " + strconv.Itoa(p.maxValues) + " values in the body")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.nested(p.object)
	case c == '[':
		return p.nested(p.array)
	case c == '"':
		_, err := p.str()
		return err
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		return p.syntax("not valid JSON")
	}
}

// nested enters an object or array, refusing to go deeper than max. Recursion is therefore
// bounded by max, whatever the body.
func (p *parser) nested(fn func() error) error {
	if p.depth >= p.max {
		return p.fail("nested deeper than " + strconv.Itoa(p.max) + " levels")
	}
	p.depth++
	err := fn()
	p.depth--
	return err
}

func (p *parser) object() error {
	// Names seen so far, folded as encoding/json matches them. The first is kept aside so the
	// common one-member object allocates no map.
	var first string
	var seen map[string]struct{}
	return p.sequence('}', "an object", func(n int) error {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.syntax("expected a member name in double quotes")
		}
		name, err := p.str()
		if err != nil {
			return err
		}
		folded := fold(name)
		switch {
		case n == 0:
			first = folded
		case seen == nil && folded != first:
			seen = map[string]struct{}{first: {}, folded: {}}
		default:
			_, dup := seen[folded]
			if dup || seen == nil {
				p.path = append(p.path, name)
				err := p.fail("member name repeated in this object")
				p.path = p.path[:len(p.path)-1]
				return err
			}
			seen[folded] = struct{}{}
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.syntax("expected ':' after a member name")
		}
		p.i++
		p.space()
		return p.within(name)
	})
}

func (p *parser) array() error {
	return p.sequence(']', "an array", func(n int) error { return p.within(strconv.Itoa(n)) })
}

// sequence reads the items of an object or array after its opening bracket up to the closing
// one, separated by commas; item reads one.
func (p *parser) sequence(closing byte, what string, item func(n int) error) error {
	p.i++ // the opening bracket
	p.space()
	if p.i < len(p.b) && p.b[p.i] == closing {
		p.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := item(n); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) {
			return p.syntax("the JSON body ends early")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.space()
		case closing:
			p.i++
			return nil
		default:
			return p.syntax("expected ',' or '" + string(closing) + "' in " + what)
		}
	}
}

// within reads a value at path element name.
func (p *parser) within(name string) error {
	p.path = append(p.path, name)
	if err := p.value(); err != nil {
		return err
	}
	p.path = p.path[:len(p.path)-1]
	return nil
}

// str reads a string at p.i and returns its decoded value (needed for member names only; a
// string without escapes costs no decoding).
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // opening quote
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.b[start:p.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil { // cannot fail: checked above
				return "", p.fail("not a valid JSON string")
			}
			return s, nil
		case c == '\\':
			escaped = true
			if err := p.escape(); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", p.fail("control character in a string; escape it")
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.fail("not valid UTF-8")
			}
			p.i += size
		}
	}
	return "", p.syntax("unterminated string")
}

// escape reads one escape sequence at p.i. A \u escape of a UTF-16 surrogate must be a high
// surrogate followed at once by a low one: alone it encodes no character.
func (p *parser) escape() error {
	if p.i+1 >= len(p.b) {
		return p.syntax("unterminated string")
	}
	switch p.b[p.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.i += 2
		return nil
	case 'u':
	default:
		return p.fail("invalid escape in a string")
	}
	r, ok := p.hex4(p.i + 2)
	if !ok {
		return p.fail(`invalid \u escape in a string`)
	}
	p.i += 6
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return p.fail("not valid UTF-8 (a lone surrogate escape)")
	case r >= 0xD800 && r <= 0xDBFF:
		if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
			return p.fail("not valid UTF-8 (a lone surrogate escape)")
		}
		lo, ok := p.hex4(p.i + 2)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return p.fail("not valid UTF-8 (a lone surrogate escape)")
		}
		p.i += 6
	}
	return nil
}

func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[at : at+4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func (p *parser) literal(word string) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.syntax("not valid JSON")
	}
	p.i += len(word)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return p.syntax("not a valid JSON number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return p.syntax("not a valid JSON number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return p.syntax("not a valid JSON number")
		}
	}
	return nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// fold maps a member name to the form under which encoding/json would match it to a field
// (case-insensitively, with Unicode's special folds such as the Kelvin sign and long s).
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			return strings.ToLower(strings.ToUpper(s))
		}
	}
	return s
}
