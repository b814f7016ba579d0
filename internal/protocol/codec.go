package protocol

import "github.com/heraldrt/herald/internal/protocol/protocolpb"

// EncodeReply returns the encoding of r in protocol t, without framing. Use
// AppendFrame to put one or more encoded replies in a transport frame.
// Errors are those of AppendReplyJSON and AppendReplyProtobuf.
func EncodeReply(t Type, r *protocolpb.Reply) ([]byte, error) {
	var dst []byte // Protobuf: sized exactly by the encoder
	if t != TypeProtobuf {
		// The JSON encoder appends as it goes: a buffer as large as a
		// typical reply (a connect reply is about 150 bytes) saves the
		// growth steps.
		dst = make([]byte, 0, jsonReplySizeHint)
	}
	return AppendReply(t, dst, r)
}

// jsonReplySizeHint is the initial capacity of an encoded JSON reply.
const jsonReplySizeHint = 192

// AppendReply appends the encoding of r in protocol t to dst, without
// framing. Errors are those of AppendReplyJSON and AppendReplyProtobuf.
func AppendReply(t Type, dst []byte, r *protocolpb.Reply) ([]byte, error) {
	if t == TypeProtobuf {
		return AppendReplyProtobuf(dst, r)
	}
	return AppendReplyJSON(dst, r)
}

// AppendPush appends the encoding of a bare Push (unidirectional transports)
// in protocol t to dst, without framing. Errors are those of AppendPushJSON
// and AppendPushProtobuf.
func AppendPush(t Type, dst []byte, p *protocolpb.Push) ([]byte, error) {
	if t == TypeProtobuf {
		return AppendPushProtobuf(dst, p)
	}
	return AppendPushJSON(dst, p)
}

// DecodeCommands decodes one client frame in protocol t. Errors are those of
// DecodeCommandsJSON and DecodeCommandsProtobuf; each maps to disconnect
// 3501 (bad request).
func DecodeCommands(t Type, frame []byte) ([]*protocolpb.Command, error) {
	if t == TypeProtobuf {
		return DecodeCommandsProtobuf(frame)
	}
	return DecodeCommandsJSON(frame)
}

// DecodeEmulationRequest decodes an /emulation request body in protocol t.
// Errors are those of DecodeEmulationRequestJSON and
// DecodeEmulationRequestProtobuf.
func DecodeEmulationRequest(t Type, b []byte) (*protocolpb.EmulationRequest, error) {
	if t == TypeProtobuf {
		return DecodeEmulationRequestProtobuf(b)
	}
	return DecodeEmulationRequestJSON(b)
}
