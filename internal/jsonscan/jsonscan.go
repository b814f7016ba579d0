// Package jsonscan holds the few primitives of the hand-written JSON
// decoders on hot paths (the server API's publish request, token claims).
// They walk a document that encoding/json has already validated
// (json.Valid), so they check no syntax: a fast path finds the plain shapes
// it handles with them and falls back to encoding/json for anything else,
// so that its results are always those of json.Unmarshal.
package jsonscan

import (
	"bytes"
	"unicode/utf8"
)

// SkipSpace returns the index of the first byte of b at or after i that is
// not JSON white space (len(b) if none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// StringEnd returns the index just past the string starting at b[i] == '"'.
// b must be valid JSON.
func StringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// ValueEnd returns the index just past the JSON value starting at b[i]. b
// must be valid JSON.
func ValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return StringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = StringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		for j := i; j < len(b); j++ {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
		}
		return len(b)
	}
}

// PlainString returns the JSON string value v when it has no escapes and
// is valid UTF-8 (encoding/json would otherwise rewrite it); ok is false
// for anything else, a non-string included.
func PlainString(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	b := v[1 : len(v)-1]
	if bytes.IndexByte(b, '\\') >= 0 || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// PlainBool returns the JSON literal v as a bool; ok is false for anything
// but true and false.
func PlainBool(v []byte) (value, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	default:
		return false, false
	}
}

// Members calls each with the key and the value of every member of the
// object at the start of the valid JSON document b (after white space),
// in order, until each returns false. It reports false when b is not an
// object, a key has an escape (its bytes would not be the key's text), or
// each stopped; true after the last member.
func Members(b []byte, each func(key, value []byte) bool) bool {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = SkipSpace(b, i+1)
	if b[i] == '}' {
		return true
	}
	for {
		keyEnd := StringEnd(b, i)
		key := b[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = SkipSpace(b, keyEnd)
		i = SkipSpace(b, i+1) // ':'
		end := ValueEnd(b, i)
		if !each(key, b[i:end]) {
			return false
		}
		i = SkipSpace(b, end)
		if b[i] == '}' {
			return true
		}
		i = SkipSpace(b, i+1) // ','
	}
}

// Strings returns the elements of v, a JSON array of plain strings (see
// PlainString); ok is false for anything else.
func Strings(v []byte) (ss []string, ok bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	i := SkipSpace(v, 1)
	ss = []string{}
	if v[i] == ']' {
		return ss, true
	}
	for {
		end := ValueEnd(v, i)
		s, ok := PlainString(v[i:end])
		if !ok {
			return nil, false
		}
		ss = append(ss, s)
		i = SkipSpace(v, end)
		if v[i] == ']' {
			return ss, true
		}
		i = SkipSpace(v, i+1) // ','
	}
}
