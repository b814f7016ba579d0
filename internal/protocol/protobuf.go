package protocol

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// unmarshalOptions discards unknown fields: a client cannot make the server
// keep bytes it does not understand.
var unmarshalOptions = proto.UnmarshalOptions{DiscardUnknown: true}

// AppendReplyProtobuf appends the Protobuf encoding of r to dst, without a
// length prefix (AppendFrame adds it). An empty or nil Reply appends
// nothing. Invalid UTF-8 in a string field makes it fail with the protobuf
// runtime's error; dst is then returned with its original length.
func AppendReplyProtobuf(dst []byte, r *protocolpb.Reply) ([]byte, error) {
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, r)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendPushProtobuf appends the Protobuf encoding of a bare Push, as used by
// unidirectional transports, to dst without a length prefix. Errors are as
// for AppendReplyProtobuf.
func AppendPushProtobuf(dst []byte, p *protocolpb.Push) ([]byte, error) {
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, p)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// DecodeCommandsProtobuf decodes a Protobuf client frame: Commands, each
// prefixed with its length as an unsigned varint, concatenated. A zero
// length is a valid empty Command (a pong). Unknown fields are discarded and
// the result does not alias frame.
//
// An empty frame returns ErrEmptyFrame, more than MaxCommandsPerFrame
// commands ErrTooManyCommands; a bad varint, a length past the end of the
// frame or an undecodable message returns an error wrapping ErrMalformed.
func DecodeCommandsProtobuf(frame []byte) ([]*protocolpb.Command, error) {
	if len(frame) == 0 {
		return nil, ErrEmptyFrame
	}
	var cmds []*protocolpb.Command
	for i := 0; len(frame) > 0; i++ {
		if i == MaxCommandsPerFrame {
			return nil, ErrTooManyCommands
		}
		msg, rest, err := nextDelimited(frame)
		if err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		cmd := new(protocolpb.Command)
		if err := unmarshalOptions.Unmarshal(msg, cmd); err != nil {
			return nil, fmt.Errorf("%w: command %d: %w", ErrMalformed, i, err)
		}
		cmds = append(cmds, cmd)
		frame = rest
	}
	return cmds, nil
}

// DecodeEmulationRequestProtobuf decodes the Protobuf body of an /emulation
// request. Errors wrap ErrMalformed; the result does not alias b.
func DecodeEmulationRequestProtobuf(b []byte) (*protocolpb.EmulationRequest, error) {
	req := new(protocolpb.EmulationRequest)
	if err := unmarshalOptions.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: emulation request: %w", ErrMalformed, err)
	}
	return req, nil
}

// nextDelimited splits one varint length-prefixed message off b.
func nextDelimited(b []byte) (msg, rest []byte, err error) {
	n, size := binary.Uvarint(b)
	if size <= 0 {
		return nil, nil, fmt.Errorf("%w: invalid varint length prefix", ErrMalformed)
	}
	b = b[size:]
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: message length %d exceeds the %d bytes left in frame", ErrMalformed, n, len(b))
	}
	return b[:n], b[n:], nil
}
