package bench

import (
	"bytes"
)

// Prefixes of a publication push as Herald and Centrifugo encode it in the
// JSON protocol: {"push":{"channel":"<ch>","pub":{"data":<value>...
var (
	fastPushPrefix = []byte(`{"push":{"channel":"`)
	fastPubPrefix  = []byte(`","pub":{"data":`)
)

// decodeJSONPubFast decodes a publication push in the exact form servers
// write it, without reflection. ok is false for anything else (pings,
// replies, other pushes, escaped channel names), which the caller then
// decodes with decodeJSONReply. data aliases msg.
func decodeJSONPubFast(msg []byte, out *reply) (ok bool) {
	if !bytes.HasPrefix(msg, fastPushPrefix) {
		return false
	}
	rest := msg[len(fastPushPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return false
	}
	channel := rest[:end]
	rest = rest[end:]
	if !bytes.HasPrefix(rest, fastPubPrefix) {
		return false
	}
	rest = rest[len(fastPubPrefix):]
	n := jsonValueLen(rest)
	if n <= 0 {
		return false
	}
	*out = reply{kind: kindPub, channel: string(channel), data: rest[:n]}
	return true
}

// jsonValueLen returns the length of the JSON value (object, array, string
// or scalar) at the start of b, or -1 if it is not complete. It checks
// nesting and string escapes only, not full JSON grammar.
func jsonValueLen(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	switch b[0] {
	case '"':
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				n := jsonValueLen(b[i:])
				if n < 0 {
					return -1
				}
				i += n - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for i, c := range b {
		switch c {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			if i == 0 {
				return -1
			}
			return i
		}
	}
	return -1 // a scalar must be followed by something inside a push
}
