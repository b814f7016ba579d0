package protocol

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of objects and arrays, as encoding/json
// does, so that hostile input cannot exhaust the stack.
const maxJSONDepth = 10000

// jsonDecoder is a small pull scanner over one JSON text. It validates
// grammar and UTF-8 as it goes; strings are returned unescaped, in scratch
// when they hold escapes, so a returned []byte is only valid until the next
// string is read.
type jsonDecoder struct {
	data    []byte
	pos     int
	depth   int
	scratch []byte
}

// strSpecial[c] is true for bytes that end the fast path of string
// scanning: '"', '\\', control characters and non-ASCII bytes.
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf
	}
	return t
}()

func (d *jsonDecoder) syntax(msg string) error {
	if d.pos >= len(d.data) {
		return fmt.Errorf("%w: %s: unexpected end of input", ErrMalformed, msg)
	}
	return fmt.Errorf("%w: %s at offset %d (found %q)", ErrMalformed, msg, d.pos, d.data[d.pos])
}

func (d *jsonDecoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *jsonDecoder) peek() byte {
	d.skipWS()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// literal consumes lit if the input continues with it.
func (d *jsonDecoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// null consumes a null literal if it comes next and reports whether it did.
func (d *jsonDecoder) null() bool {
	return d.peek() == 'n' && d.literal("null")
}

func (d *jsonDecoder) enter() error {
	d.depth++
	if d.depth > maxJSONDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, maxJSONDepth)
	}
	return nil
}

// beginObject consumes '{'.
func (d *jsonDecoder) beginObject() error {
	if d.peek() != '{' {
		return d.syntax("expected object")
	}
	d.pos++
	return d.enter()
}

// nextKey moves to member n (counting from 0) of the current object and
// returns its key with the ':' consumed, or ok == false after the closing
// '}'. The key may live in scratch.
func (d *jsonDecoder) nextKey(n int) (key []byte, ok bool, err error) {
	c := d.peek()
	if c == '}' {
		d.pos++
		d.depth--
		return nil, false, nil
	}
	if n > 0 {
		if c != ',' {
			return nil, false, d.syntax("expected ',' or '}'")
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		return nil, false, d.syntax("expected object key")
	}
	key, err = d.stringBytes()
	if err != nil {
		return nil, false, err
	}
	if d.peek() != ':' {
		return nil, false, d.syntax("expected ':'")
	}
	d.pos++
	return key, true, nil
}

// beginArray consumes '['.
func (d *jsonDecoder) beginArray() error {
	if d.peek() != '[' {
		return d.syntax("expected array")
	}
	d.pos++
	return d.enter()
}

// nextElem moves to element n (counting from 0) of the current array, or
// returns false after the closing ']'.
func (d *jsonDecoder) nextElem(n int) (bool, error) {
	c := d.peek()
	if c == ']' {
		d.pos++
		d.depth--
		return false, nil
	}
	if n > 0 {
		if c != ',' {
			return false, d.syntax("expected ',' or ']'")
		}
		d.pos++
	}
	return true, nil
}

// stringBytes reads a string at the current position (whitespace already
// skipped) and returns its unescaped UTF-8 bytes, aliasing data when the
// string has no escapes and scratch otherwise.
func (d *jsonDecoder) stringBytes() ([]byte, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, d.syntax("expected string")
	}
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.data); i++ {
		c := d.data[i]
		if !strSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			s := d.data[start:i]
			if !ascii && !utf8.Valid(s) {
				d.pos = start
				return nil, d.syntax("invalid UTF-8 in string")
			}
			d.pos = i + 1
			return s, nil
		case c == '\\':
			d.pos = i
			return d.unescape(start)
		case c < 0x20:
			d.pos = i
			return nil, d.syntax("control character in string")
		default:
			ascii = false
		}
	}
	d.pos = len(d.data)
	return nil, d.syntax("unterminated string")
}

// unescape continues reading a string whose content starts at start and
// whose first escape is at d.pos, building the result in scratch.
func (d *jsonDecoder) unescape(start int) ([]byte, error) {
	out := append(d.scratch[:0], d.data[start:d.pos]...)
	if !utf8.Valid(out) {
		return nil, d.syntax("invalid UTF-8 in string")
	}
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.scratch = out
			return out, nil
		case c == '\\':
			r, err := d.escape()
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
		case c < 0x20:
			return nil, d.syntax("control character in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.syntax("invalid UTF-8 in string")
			}
			out = append(out, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return nil, d.syntax("unterminated string")
}

// escape decodes the escape sequence at d.pos. A lone or mismatched UTF-16
// surrogate decodes to U+FFFD, as in encoding/json.
func (d *jsonDecoder) escape() (rune, error) {
	if d.pos+1 >= len(d.data) {
		d.pos = len(d.data)
		return 0, d.syntax("unterminated string")
	}
	c := d.data[d.pos+1]
	d.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := d.hex4()
		if !ok {
			return 0, d.syntax("invalid \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
			save := d.pos
			d.pos += 2
			r2, ok := d.hex4()
			if !ok {
				return 0, d.syntax("invalid \\u escape")
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, nil
			}
			d.pos = save
		}
		return utf8.RuneError, nil
	default:
		d.pos -= 2
		return 0, d.syntax("invalid escape")
	}
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// skipString validates the string at d.pos without unescaping it.
func (d *jsonDecoder) skipString() error {
	d.pos++ // opening quote
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if !strSpecial[c] {
			d.pos++
			continue
		}
		switch {
		case c == '"':
			d.pos++
			return nil
		case c == '\\':
			if _, err := d.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return d.syntax("control character in string")
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return d.syntax("invalid UTF-8 in string")
			}
			d.pos += size
		}
	}
	return d.syntax("unterminated string")
}

// number scans a JSON number and returns its literal text.
func (d *jsonDecoder) number() ([]byte, error) {
	start := d.pos
	i := d.pos
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case i < len(d.data) && d.data[i] >= '1' && d.data[i] <= '9':
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
	default:
		d.pos = i
		return nil, d.syntax("invalid number")
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		if i >= len(d.data) || !isDigit(d.data[i]) {
			d.pos = i
			return nil, d.syntax("invalid number")
		}
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if i >= len(d.data) || !isDigit(d.data[i]) {
			d.pos = i
			return nil, d.syntax("invalid number")
		}
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
	}
	d.pos = i
	return d.data[start:i], nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipValue validates and skips any JSON value.
func (d *jsonDecoder) skipValue() error {
	switch c := d.peek(); c {
	case '{':
		if err := d.beginObject(); err != nil {
			return err
		}
		for n := 0; ; n++ {
			_, ok, err := d.nextKeySkip(n)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	case '[':
		if err := d.beginArray(); err != nil {
			return err
		}
		for n := 0; ; n++ {
			ok, err := d.nextElem(n)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	case '"':
		return d.skipString()
	case 't':
		if d.literal("true") {
			return nil
		}
	case 'f':
		if d.literal("false") {
			return nil
		}
	case 'n':
		if d.literal("null") {
			return nil
		}
	default:
		if c == '-' || isDigit(c) {
			_, err := d.number()
			return err
		}
	}
	return d.syntax("invalid value")
}

// nextKeySkip is nextKey for skipped objects: the key is validated but not
// unescaped.
func (d *jsonDecoder) nextKeySkip(n int) (struct{}, bool, error) {
	c := d.peek()
	if c == '}' {
		d.pos++
		d.depth--
		return struct{}{}, false, nil
	}
	if n > 0 {
		if c != ',' {
			return struct{}{}, false, d.syntax("expected ',' or '}'")
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		return struct{}{}, false, d.syntax("expected object key")
	}
	if err := d.skipString(); err != nil {
		return struct{}{}, false, err
	}
	if d.peek() != ':' {
		return struct{}{}, false, d.syntax("expected ':'")
	}
	d.pos++
	return struct{}{}, true, nil
}

// rawValue validates the value at the current position and returns a copy
// of its bytes.
func (d *jsonDecoder) rawValue() ([]byte, error) {
	d.skipWS()
	start := d.pos
	if err := d.skipValue(); err != nil {
		return nil, err
	}
	return bytes.Clone(d.data[start:d.pos]), nil
}

// end checks that only whitespace remains.
func (d *jsonDecoder) end() error {
	d.skipWS()
	if d.pos != len(d.data) {
		return d.syntax("unexpected data after value")
	}
	return nil
}

// validJSON reports whether b is exactly one JSON value (with optional
// surrounding whitespace) whose strings are valid UTF-8.
func validJSON(b []byte) bool {
	d := jsonDecoder{data: b}
	return d.skipValue() == nil && d.end() == nil
}
