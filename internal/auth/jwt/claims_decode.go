package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/heraldrt/herald/internal/jsonscan"
)

// Every connection verifies a token, so its header and claims are decoded
// by a small scanner when they have the plain shape that token libraries
// produce: exactly-spelled keys, unescaped strings, numeric dates and an
// aud string or array. Anything else (nulls, escapes, the subs and override
// claims, keys that encoding/json would match case-insensitively to a
// known one) falls back to encoding/json, so the result is always the one
// json.Unmarshal gives (FuzzDecodeClaims checks it).

// claimKeys are the JSON names of rawClaims' fields.
var claimKeys = []string{
	"sub", "exp", "nbf", "iat", "jti", "aud", "iss", "info", "b64info", "channels",
	"subs", "meta", "expire_at", "channel", "client", "data", "b64data", "override",
}

// headerKeys are the JSON names of header's fields.
var headerKeys = []string{"alg", "kid"}

// errNotObject is the error for a header or claims that are not an object.
var errNotObject = errors.New("not a JSON object")

// decodeObject unmarshals b, which must be a JSON object, into v.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(b, v)
}

// decodeScanned decodes the JSON object b into v, which must be zero, with
// fast when b is valid JSON of a shape it takes, else (v reset) with
// decodeObject. fast reports false when it does not take b, leaving v in
// any state.
func decodeScanned[T any](b []byte, v *T, fast func([]byte, *T) bool) error {
	if json.Valid(b) && fast(b, v) {
		return nil
	}
	var zero T
	*v = zero
	return decodeObject(b, v)
}

// decodeHeader decodes the JOSE header b into h, as decodeObject would.
func decodeHeader(b []byte, h *header) error { return decodeScanned(b, h, decodeHeaderFast) }

func decodeHeaderFast(b []byte, h *header) bool {
	return jsonscan.Members(b, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "alg":
			h.Alg, ok = jsonscan.PlainString(v)
		case "kid":
			h.Kid, ok = jsonscan.PlainString(v)
		default:
			ok = unrelatedKey(key, headerKeys)
		}
		return ok
	})
}

// decodeClaims decodes the claims b into c, which must be zero, as
// decodeObject would, except that info, meta and data are copied out of b
// either way and sub may alias b.
func decodeClaims(b []byte, c *rawClaims) error { return decodeScanned(b, c, decodeClaimsFast) }

func decodeClaimsFast(b []byte, c *rawClaims) bool {
	return jsonscan.Members(b, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "sub":
			c.Sub, ok = v, true
		case "exp":
			c.Exp, ok = dateValue(v)
		case "nbf":
			c.Nbf, ok = dateValue(v)
		case "iat":
			c.Iat, ok = dateValue(v)
		case "expire_at":
			c.ExpireAt, ok = dateValue(v)
		case "jti":
			c.Jti, ok = jsonscan.PlainString(v)
		case "iss":
			c.Iss, ok = jsonscan.PlainString(v)
		case "b64info":
			c.B64Info, ok = jsonscan.PlainString(v)
		case "channel":
			c.Channel, ok = jsonscan.PlainString(v)
		case "client":
			c.Client, ok = jsonscan.PlainString(v)
		case "b64data":
			c.B64Data, ok = jsonscan.PlainString(v)
		case "aud":
			c.Aud, ok = audienceValue(v)
		case "channels":
			c.Channels, ok = jsonscan.Strings(v)
		case "info":
			c.Info, ok = bytes.Clone(v), true
		case "meta":
			c.Meta, ok = bytes.Clone(v), true
		case "data":
			c.Data, ok = bytes.Clone(v), true
		default: // subs and override included: they take the general decoder
			ok = unrelatedKey(key, claimKeys)
		}
		return ok
	})
}

// unrelatedKey reports whether encoding/json would match key to none of
// known: it matches names case-insensitively, with Unicode folding, so a
// key that is not plain ASCII is never called unrelated.
func unrelatedKey(key []byte, known []string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, k := range known {
		if bytes.EqualFold(key, []byte(k)) {
			return false
		}
	}
	return true
}

// dateValue decodes a numeric date that is a JSON number.
func dateValue(v []byte) (*numericDate, bool) {
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return nil, false
	}
	d := new(numericDate)
	if d.UnmarshalJSON(v) != nil {
		return nil, false
	}
	return d, true
}

// audienceValue decodes an aud claim that is a plain string or an array of
// plain strings.
func audienceValue(v []byte) (audience, bool) {
	if s, ok := jsonscan.PlainString(v); ok {
		return audience{s}, true
	}
	ss, ok := jsonscan.Strings(v)
	return audience(ss), ok
}
