// Package protocol implements Herald's client protocol v2 codecs: the JSON
// codec written by hand (raw JSON data, newline-joined frames) and the
// Protobuf codec (varint length-prefixed messages) over the generated types
// in protocolpb, plus the error, disconnect and unsubscribe code tables.
//
// Encoders (AppendReplyJSON, AppendPushJSON, AppendReplyProtobuf, ...) only
// read their message, append to the caller's buffer and keep no state, so a
// message shared for fan-out may be encoded from many goroutines at once.
// Decoders (DecodeCommandsJSON, DecodeCommandsProtobuf, ...) return fresh
// messages that never alias the input frame, so transports may reuse their
// read buffers. Every function in the package is safe for concurrent use.
//
// Errors: command decoders fail with ErrEmptyFrame, ErrTooManyCommands or an
// error wrapping ErrMalformed (all mapped to DisconnectBadRequest); JSON
// encoders fail only with an error wrapping ErrInvalidJSONPayload (mapped to
// DisconnectInappropriateProtocol).
package protocol

// Type is the client protocol encoding of a connection.
type Type uint8

const (
	// TypeJSON is the JSON encoding (text frames).
	TypeJSON Type = iota
	// TypeProtobuf is the Protobuf encoding (binary frames).
	TypeProtobuf
)

// String returns "json" or "protobuf".
func (t Type) String() string {
	if t == TypeProtobuf {
		return "protobuf"
	}
	return "json"
}
