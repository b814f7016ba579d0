package protocol_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func TestProtobufReplyRoundTrip(t *testing.T) {
	g := newGen(4)
	for range 2000 {
		r := g.reply()
		b, err := protocol.AppendReplyProtobuf([]byte("xx"), r)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.Reply
		if err := proto.Unmarshal(b[2:], &got); err != nil {
			t.Fatal(err)
		}
		assertProtoEqual(t, &got, r)

		p := g.push()
		b, err = protocol.AppendPushProtobuf(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		var gotPush pb.Push
		if err := proto.Unmarshal(b, &gotPush); err != nil {
			t.Fatal(err)
		}
		assertProtoEqual(t, &gotPush, p)
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestProtobufEmptyReplyIsPing(t *testing.T) {
	b, err := protocol.EncodeReply(protocol.TypeProtobuf, &pb.Reply{})
	if err != nil || len(b) != 0 {
		t.Fatalf("EncodeReply(empty) = %x, %v", b, err)
	}
	frame := protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{b})
	if string(frame) != "\x00" {
		t.Errorf("ping frame = %x, want 00", frame)
	}
	cmds, err := protocol.DecodeCommandsProtobuf(frame)
	if err != nil || len(cmds) != 1 || !proto.Equal(cmds[0], &pb.Command{}) {
		t.Errorf("pong decode = %v, %v", cmds, err)
	}
}

func TestProtobufInvalidUTF8(t *testing.T) {
	if _, err := protocol.AppendReplyProtobuf([]byte("keep"), &pb.Reply{Push: &pb.Push{Channel: "\xff"}}); err == nil {
		t.Error("invalid UTF-8 string encoded without error")
	}
}

func TestDecodeCommandsProtobufRoundTrip(t *testing.T) {
	g := newGen(5)
	var msgs [][]byte
	var want []*pb.Command
	for range protocol.MaxCommandsPerFrame {
		c := g.command(true)
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
		want = append(want, c)
	}
	frame := protocol.AppendFrame(protocol.TypeProtobuf, nil, msgs)
	cmds, err := protocol.DecodeCommands(protocol.TypeProtobuf, frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != len(want) {
		t.Fatalf("%d commands, want %d", len(cmds), len(want))
	}
	for i := range cmds {
		assertProtoEqual(t, cmds[i], want[i])
	}
	// Results must not alias the frame.
	for i := range frame {
		frame[i] = 0xAA
	}
	for i := range cmds {
		assertProtoEqual(t, cmds[i], want[i])
	}
}

func TestDecodeCommandsProtobufUnknownFieldsDiscarded(t *testing.T) {
	b, _ := proto.Marshal(&pb.Command{Id: 7})
	b = protowireAppendUnknown(b)
	cmds, err := protocol.DecodeCommandsProtobuf(protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{b}))
	if err != nil {
		t.Fatal(err)
	}
	if cmds[0].Id != 7 || len(cmds[0].ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("got %v, unknown %x", cmds[0], cmds[0].ProtoReflect().GetUnknown())
	}
}

// protowireAppendUnknown appends field 99 (varint 1) to b.
func protowireAppendUnknown(b []byte) []byte {
	b = binary.AppendUvarint(b, 99<<3) // field 99, wire type 0 (varint)
	return binary.AppendUvarint(b, 1)
}

func TestDecodeCommandsProtobufErrors(t *testing.T) {
	valid, _ := proto.Marshal(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: "t"}})
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, protocol.ErrEmptyFrame},
		{"truncated varint", []byte{0x80}, protocol.ErrMalformed},
		{"truncated varint after message", append(protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{valid}), 0xff), protocol.ErrMalformed},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, protocol.ErrMalformed},
		{"length past end", append([]byte{byte(len(valid) + 1)}, valid...), protocol.ErrMalformed},
		{"huge length", binary.AppendUvarint(nil, 1<<62), protocol.ErrMalformed},
		{"bad message", []byte{0x02, 0xff, 0xff}, protocol.ErrMalformed},
		{"json", []byte(`{"id":1}`), protocol.ErrMalformed},
		{"invalid utf8", protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{mustMarshalRaw(t)}), protocol.ErrMalformed},
		{"too many", make([]byte, protocol.MaxCommandsPerFrame+1), protocol.ErrTooManyCommands},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := protocol.DecodeCommandsProtobuf(tt.frame)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if cmds != nil {
				t.Errorf("commands returned with error")
			}
		})
	}
	cmds, err := protocol.DecodeCommandsProtobuf(make([]byte, protocol.MaxCommandsPerFrame))
	if err != nil || len(cmds) != protocol.MaxCommandsPerFrame {
		t.Errorf("max batch of pongs: %d, %v", len(cmds), err)
	}
}

// mustMarshalRaw builds a Command whose connect.token (field 4 → field 1)
// holds invalid UTF-8, bypassing the marshaller's check.
func mustMarshalRaw(t *testing.T) []byte {
	t.Helper()
	inner := []byte{0x0a, 0x01, 0xff}                       // ConnectRequest.token = "\xff"
	return append([]byte{0x22, byte(len(inner))}, inner...) // Command.connect
}

func TestDecodeEmulationRequestProtobuf(t *testing.T) {
	want := &pb.EmulationRequest{Node: "n", Session: "s", Data: []byte{0x00}}
	b, _ := proto.Marshal(want)
	got, err := protocol.DecodeEmulationRequest(protocol.TypeProtobuf, b)
	if err != nil {
		t.Fatal(err)
	}
	assertProtoEqual(t, got, want)
	if _, err := protocol.DecodeEmulationRequestProtobuf([]byte{0xff}); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("err = %v", err)
	}
}
