package protocol_test

import (
	"errors"
	"testing"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func TestAppendFrameJSON(t *testing.T) {
	tests := []struct {
		msgs []string
		want string
	}{
		{nil, ""},
		{[]string{`{}`}, `{}`},
		{[]string{`{"id":1}`, `{}`, `{"push":{}}`}, "{\"id\":1}\n{}\n{\"push\":{}}"},
	}
	for _, tt := range tests {
		var msgs [][]byte
		for _, m := range tt.msgs {
			msgs = append(msgs, []byte(m))
		}
		got := protocol.AppendFrame(protocol.TypeJSON, []byte("pre"), msgs)
		if string(got) != "pre"+tt.want {
			t.Errorf("AppendFrame(%q) = %q", tt.msgs, got)
		}
	}
}

func TestAppendFrameProtobuf(t *testing.T) {
	long := make([]byte, 300)
	got := protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{{}, {0x08, 0x01}, long})
	want := append([]byte{0x00, 0x02, 0x08, 0x01, 0xac, 0x02}, long...)
	if string(got) != string(want) {
		t.Errorf("AppendFrame = %x\nwant %x", got, want)
	}
	if got := protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{{0x08, 0x01}}); string(got) != "\x02\x08\x01" {
		t.Errorf("single message not prefixed: %x", got)
	}
}

func TestSplitFrameRoundTrip(t *testing.T) {
	g := newGen(6)
	for _, typ := range []protocol.Type{protocol.TypeJSON, protocol.TypeProtobuf} {
		t.Run(typ.String(), func(t *testing.T) {
			for n := 1; n <= 20; n++ {
				var msgs [][]byte
				var replies []*pb.Reply
				for range n {
					r := g.reply()
					b, err := protocol.EncodeReply(typ, r)
					if err != nil {
						t.Fatal(err)
					}
					msgs = append(msgs, b)
					replies = append(replies, r)
				}
				frame := protocol.AppendFrame(typ, nil, msgs)
				parts, err := protocol.SplitFrame(typ, frame)
				if err != nil {
					t.Fatal(err)
				}
				if len(parts) != n {
					t.Fatalf("split into %d, want %d", len(parts), n)
				}
				for i := range parts {
					if string(parts[i]) != string(msgs[i]) {
						t.Fatalf("part %d = %q, want %q", i, parts[i], msgs[i])
					}
					if typ == protocol.TypeJSON {
						assertMatchesProtojson(t, replies[i], parts[i])
					}
				}
			}
		})
	}
}

func TestSplitFrameEdges(t *testing.T) {
	if _, err := protocol.SplitFrame(protocol.TypeJSON, nil); !errors.Is(err, protocol.ErrEmptyFrame) {
		t.Errorf("json empty: %v", err)
	}
	if _, err := protocol.SplitFrame(protocol.TypeProtobuf, nil); !errors.Is(err, protocol.ErrEmptyFrame) {
		t.Errorf("protobuf empty: %v", err)
	}
	parts, err := protocol.SplitFrame(protocol.TypeJSON, []byte("{}\n"))
	if err != nil || len(parts) != 1 || string(parts[0]) != "{}" {
		t.Errorf("json trailing newline: %q, %v", parts, err)
	}
	parts, err = protocol.SplitFrame(protocol.TypeProtobuf, []byte{0x00, 0x00})
	if err != nil || len(parts) != 2 || len(parts[0]) != 0 {
		t.Errorf("protobuf pings: %q, %v", parts, err)
	}
	for _, bad := range [][]byte{{0x80}, {0x05, 0x01}} {
		if _, err := protocol.SplitFrame(protocol.TypeProtobuf, bad); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func TestGenericCodec(t *testing.T) {
	r := &pb.Reply{Id: 1, Connect: &pb.ConnectResult{Client: "c", Ping: 25}}
	j, err := protocol.EncodeReply(protocol.TypeJSON, r)
	if err != nil || string(j) != `{"id":1,"connect":{"client":"c","ping":25}}` {
		t.Errorf("EncodeReply json = %s, %v", j, err)
	}
	p, err := protocol.AppendReply(protocol.TypeProtobuf, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	var back pb.Reply
	if err := unmarshal(p, &back); err != nil {
		t.Fatal(err)
	}
	assertProtoEqual(t, &back, r)

	push := &pb.Push{Channel: "c", Pub: &pb.Publication{Data: []byte(`1`)}}
	pj, err := protocol.AppendPush(protocol.TypeJSON, nil, push)
	if err != nil || string(pj) != `{"channel":"c","pub":{"data":1}}` {
		t.Errorf("AppendPush json = %s, %v", pj, err)
	}
	pp, err := protocol.AppendPush(protocol.TypeProtobuf, nil, push)
	if err != nil {
		t.Fatal(err)
	}
	var backPush pb.Push
	if err := unmarshal(pp, &backPush); err != nil {
		t.Fatal(err)
	}
	assertProtoEqual(t, &backPush, push)

	cmds, err := protocol.DecodeCommands(protocol.TypeJSON, []byte(`{"id":1}`))
	if err != nil || len(cmds) != 1 || cmds[0].Id != 1 {
		t.Errorf("DecodeCommands json = %v, %v", cmds, err)
	}
	if protocol.TypeJSON.String() != "json" || protocol.TypeProtobuf.String() != "protobuf" {
		t.Error("Type.String")
	}
}
