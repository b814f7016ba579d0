package engine_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// protobufFrame converts one JSON command into a varint-delimited
// Protobuf frame.
func protobufFrame(tb testing.TB, jsonCmd string) []byte {
	tb.Helper()
	var cmd pb.Command
	if err := protojson.Unmarshal([]byte(jsonCmd), &cmd); err != nil {
		tb.Fatal(err)
	}
	data, err := proto.Marshal(&cmd)
	if err != nil {
		tb.Fatal(err)
	}
	return append(protowire.AppendVarint(nil, uint64(len(data))), data...)
}
