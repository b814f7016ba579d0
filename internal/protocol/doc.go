// Package protocol implements Herald's client protocol v2 codecs: the JSON
// codec written by hand (raw JSON data, newline-joined frames) and the
// Protobuf codec (varint length-prefixed messages) over the generated types
// in protocolpb, plus the error, disconnect and unsubscribe code tables.
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
