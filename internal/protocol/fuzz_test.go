package protocol_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// FuzzDecodeCommandsJSON checks that the JSON decoder never panics, respects
// the batch limit, and only produces valid UTF-8 strings and valid JSON
// payloads. Seeds live in testdata/fuzz/FuzzDecodeCommandsJSON.
func FuzzDecodeCommandsJSON(f *testing.F) {
	f.Add([]byte(`{"id":1,"connect":{"token":"t","name":"js"}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmds, err := protocol.DecodeCommandsJSON(frame)
		if err != nil {
			if cmds != nil {
				t.Fatal("commands returned with an error")
			}
			return
		}
		if len(cmds) == 0 || len(cmds) > protocol.MaxCommandsPerFrame {
			t.Fatalf("%d commands", len(cmds))
		}
		for _, c := range cmds {
			// proto.Marshal rejects invalid UTF-8 in string fields.
			b, err := proto.Marshal(c)
			if err != nil {
				t.Fatalf("decoded command does not marshal: %v", err)
			}
			var back pb.Command
			if err := proto.Unmarshal(b, &back); err != nil || !proto.Equal(&back, c) {
				t.Fatalf("protobuf round trip: %v", err)
			}
			for _, data := range [][]byte{c.GetConnect().GetData(), c.GetSubscribe().GetData(), c.GetPublish().GetData(),
				c.GetSend().GetData(), c.GetRpc().GetData()} {
				if data != nil && !json.Valid(data) {
					t.Fatalf("data %q is not valid JSON", data)
				}
			}
		}
	})
}

// FuzzDecodeCommandsProtobuf checks that the Protobuf decoder never panics
// and that decoded commands re-encode and decode to the same commands.
// Seeds live in testdata/fuzz/FuzzDecodeCommandsProtobuf.
func FuzzDecodeCommandsProtobuf(f *testing.F) {
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmds, err := protocol.DecodeCommandsProtobuf(frame)
		if err != nil {
			if cmds != nil {
				t.Fatal("commands returned with an error")
			}
			return
		}
		if len(cmds) == 0 || len(cmds) > protocol.MaxCommandsPerFrame {
			t.Fatalf("%d commands", len(cmds))
		}
		msgs := make([][]byte, len(cmds))
		for i, c := range cmds {
			b, err := proto.Marshal(c)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			msgs[i] = b
		}
		again, err := protocol.DecodeCommandsProtobuf(protocol.AppendFrame(protocol.TypeProtobuf, nil, msgs))
		if err != nil {
			t.Fatalf("decode of re-encoded frame: %v", err)
		}
		if len(again) != len(cmds) {
			t.Fatalf("%d commands after round trip, want %d", len(again), len(cmds))
		}
		for i := range cmds {
			if !proto.Equal(again[i], cmds[i]) {
				t.Fatalf("command %d changed: %v -> %v", i, cmds[i], again[i])
			}
		}
	})
}

// FuzzEncodeRawJSON checks the payload validator against encoding/json: a
// payload is embedded exactly when it is valid JSON and valid UTF-8, and the
// result is then valid JSON without raw newlines.
func FuzzEncodeRawJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"\u00e9"]}`, "{\n}", `"\ud800"`, "\"\xff\"", `01`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := protocol.AppendPushJSON(nil, &pb.Push{Pub: &pb.Publication{Data: data}})
		want := len(data) == 0 || (json.Valid(data) && utf8.Valid(data))
		if (err == nil) != want {
			t.Fatalf("payload %q: err = %v, want valid = %v", data, err, want)
		}
		if err == nil {
			assertValidJSON(t, out)
		}
	})
}
