package protocol

import (
	"bytes"
	"encoding/binary"
)

// AppendFrame appends one transport frame holding the encoded messages msgs
// to dst. For TypeJSON the messages are joined with a single '\n' and no
// trailing newline; for TypeProtobuf each message, even a lone one, is
// prefixed with its length as an unsigned varint, so an empty message (a
// ping) becomes the single byte 0x00. msgs must be complete encodings from
// this package (JSON ones hold no raw '\n').
func AppendFrame(t Type, dst []byte, msgs [][]byte) []byte {
	if t == TypeProtobuf {
		for _, m := range msgs {
			dst = binary.AppendUvarint(dst, uint64(len(m)))
			dst = append(dst, m...)
		}
		return dst
	}
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, '\n')
		}
		dst = append(dst, m...)
	}
	return dst
}

// SplitFrame splits a server frame into its encoded messages, undoing
// AppendFrame; it is meant for clients and tests. The returned slices alias
// frame. A JSON frame may end with one '\n'. An empty frame returns
// ErrEmptyFrame; a bad Protobuf length prefix returns an error wrapping
// ErrMalformed. There is no limit on the number of messages.
func SplitFrame(t Type, frame []byte) ([][]byte, error) {
	if len(frame) == 0 {
		return nil, ErrEmptyFrame
	}
	var msgs [][]byte
	if t == TypeProtobuf {
		for len(frame) > 0 {
			msg, rest, err := nextDelimited(frame)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, msg)
			frame = rest
		}
		return msgs, nil
	}
	if frame[len(frame)-1] == '\n' {
		frame = frame[:len(frame)-1]
	}
	for {
		i := bytes.IndexByte(frame, '\n')
		if i < 0 {
			return append(msgs, frame), nil
		}
		msgs = append(msgs, frame[:i])
		frame = frame[i+1:]
	}
}
