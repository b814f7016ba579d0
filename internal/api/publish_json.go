package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/heraldrt/herald/internal/jsonscan"
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
	return jsonscan.Members(b, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "channel":
			req.Channel, ok = jsonscan.PlainString(v)
		case "data":
			req.Data, ok = v, true
		case "b64data":
			req.B64Data, ok = jsonscan.PlainString(v)
		case "idempotency_key":
			req.IdempotencyKey, ok = jsonscan.PlainString(v)
		case "version_epoch":
			req.VersionEpoch, ok = jsonscan.PlainString(v)
		case "skip_history":
			req.SkipHistory, ok = jsonscan.PlainBool(v)
		case "delta":
			req.Delta, ok = jsonscan.PlainBool(v)
		case "version":
			if v[0] < '0' || v[0] > '9' {
				return false
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			req.Version, ok = n, err == nil
		case "tags":
			if v[0] != '{' {
				return false
			}
			// Same merge semantics as encoding/json for a repeated key.
			tags := req.Tags
			ok = json.Unmarshal(v, &tags) == nil
			req.Tags = tags
		}
		return ok
	})
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
