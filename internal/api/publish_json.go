package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Publish is the hot path of the server API, so its request is decoded by a
// small scanner instead of reflection when the body has the plain shape
// clients send: an object with exactly-spelled known keys, unescaped string
// values and an integer version. Anything else (unknown or differently-cased
// keys, escapes, null values, type mismatches) falls back to encoding/json,
// so the outcome is always the one json.Unmarshal gives (checked by
// FuzzDecodePublishRequest). The fast path does not copy data: it aliases b.

// DecodePublishRequest decodes the JSON object b into req, which it resets
// first. Empty (or blank) b leaves req zero. The result equals that of
// json.Unmarshal, except that req.Data aliases b instead of copying it.
func DecodePublishRequest(b []byte, req *PublishRequest) error {
	*req = PublishRequest{}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if json.Valid(b) && decodePublishFast(b, req) {
		return nil
	}
	// A separate variable keeps req itself from escaping to the heap on the
	// fast path.
	var slow PublishRequest
	err := json.Unmarshal(b, &slow)
	*req = slow
	return err
}

// decodePublishFast decodes the valid JSON document b. It reports false
// when b needs the general decoder; req is then in an unspecified state.
func decodePublishFast(b []byte, req *PublishRequest) bool {
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return true
	}
	for {
		// b is valid JSON, so a key string starts here.
		keyEnd := stringEnd(b, i)
		key := b[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(b, keyEnd)
		i = skipSpace(b, i+1) // ':'
		end := valueEnd(b, i)
		v := b[i:end]
		switch string(key) {
		case "channel":
			s, ok := plainString(v)
			if !ok {
				return false
			}
			req.Channel = s
		case "data":
			req.Data = v
		case "b64data":
			s, ok := plainString(v)
			if !ok {
				return false
			}
			req.B64Data = s
		case "idempotency_key":
			s, ok := plainString(v)
			if !ok {
				return false
			}
			req.IdempotencyKey = s
		case "version_epoch":
			s, ok := plainString(v)
			if !ok {
				return false
			}
			req.VersionEpoch = s
		case "skip_history":
			bv, ok := plainBool(v)
			if !ok {
				return false
			}
			req.SkipHistory = bv
		case "delta":
			bv, ok := plainBool(v)
			if !ok {
				return false
			}
			req.Delta = bv
		case "version":
			if v[0] < '0' || v[0] > '9' {
				return false
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return false
			}
			req.Version = n
		case "tags":
			if v[0] != '{' {
				return false
			}
			// Same merge semantics as encoding/json for a repeated key.
			tags := req.Tags
			if err := json.Unmarshal(v, &tags); err != nil {
				return false
			}
			req.Tags = tags
		default:
			return false
		}
		i = skipSpace(b, end)
		if b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // ','
	}
}

func skipSpace(b []byte, i int) int {
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

// stringEnd returns the index just past the string starting at b[i] == '"'.
// b must be valid JSON.
func stringEnd(b []byte, i int) int {
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

// valueEnd returns the index just past the JSON value starting at b[i]. b
// must be valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
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

// plainString returns the JSON string v when it has no escapes and is valid
// UTF-8 (encoding/json would otherwise rewrite it).
func plainString(v []byte) (string, bool) {
	if v[0] != '"' {
		return "", false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

func plainBool(v []byte) (value, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	default:
		return false, false
	}
}

// AppendJSON appends the JSON encoding of r to dst. The output is byte-equal
// to json.Marshal(r) but avoids reflection.
func (r *PublishResult) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if r.Offset != 0 {
		dst = append(dst, `"offset":`...)
		dst = strconv.AppendUint(dst, r.Offset, 10)
	}
	if r.Epoch != "" {
		if r.Offset != 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"epoch":`...)
		dst = appendJSONString(dst, r.Epoch)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// encodes it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always marshals
			return append(dst, enc...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
