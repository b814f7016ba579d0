package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func benchPush() *pb.Push {
	return &pb.Push{Channel: "chat:index", Pub: &pb.Publication{
		Data:   []byte(`{"input":"hello, this is a fairly typical chat message payload","user":{"id":42,"name":"Alice"},"ts":1700000000123}`),
		Info:   &pb.ClientInfo{User: "42", Client: "7c1d0f49-56e2-4ee4-b5d3-1a4f9b2b9a3e", ConnInfo: []byte(`{"name":"Alice"}`)},
		Offset: 1234567,
		Tags:   map[string]string{"type": "message", "room": "index"},
	}}
}

func BenchmarkEncodePublicationPushJSON(b *testing.B) {
	r := &pb.Reply{Push: benchPush()}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = protocol.AppendReplyJSON(buf[:0], r)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodePublicationPushJSONStdlib is a reference point: the same
// shape through encoding/json with json.RawMessage payloads.
func BenchmarkEncodePublicationPushJSONStdlib(b *testing.B) {
	type info struct {
		User     string          `json:"user"`
		Client   string          `json:"client"`
		ConnInfo json.RawMessage `json:"conn_info,omitempty"`
	}
	type pub struct {
		Data   json.RawMessage   `json:"data,omitempty"`
		Info   *info             `json:"info,omitempty"`
		Offset uint64            `json:"offset,omitempty"`
		Tags   map[string]string `json:"tags,omitempty"`
	}
	type push struct {
		Channel string `json:"channel,omitempty"`
		Pub     *pub   `json:"pub,omitempty"`
	}
	type reply struct {
		Push *push `json:"push,omitempty"`
	}
	p := benchPush()
	r := reply{Push: &push{Channel: p.Channel, Pub: &pub{Data: p.Pub.Data, Offset: p.Pub.Offset, Tags: p.Pub.Tags,
		Info: &info{User: p.Pub.Info.User, Client: p.Pub.Info.Client, ConnInfo: p.Pub.Info.ConnInfo}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePublicationPushProtobuf(b *testing.B) {
	r := &pb.Reply{Push: benchPush()}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = protocol.AppendReplyProtobuf(buf[:0], r)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

var benchCommandsJSON = strings.Join([]string{
	`{"id":2,"subscribe":{"channel":"chat:index","recover":true,"offset":1234567,"epoch":"AbCdEfGh"}}`,
	`{"id":3,"publish":{"channel":"chat:index","data":{"input":"hello, this is a fairly typical chat message payload","ts":1700000000123}}}`,
	`{}`,
	`{"id":4,"rpc":{"method":"getCurrentYear","data":{"tz":"UTC"}}}`,
}, "\n")

func BenchmarkDecodeCommandsJSON(b *testing.B) {
	frame := []byte(benchCommandsJSON)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeCommandsJSON(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCommandsJSONStdlib is a reference point: the same frame
// through encoding/json into private structs with json.RawMessage.
func BenchmarkDecodeCommandsJSONStdlib(b *testing.B) {
	type sub struct {
		Channel string `json:"channel"`
		Recover bool   `json:"recover"`
		Offset  uint64 `json:"offset"`
		Epoch   string `json:"epoch"`
	}
	type pubReq struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	type rpc struct {
		Method string          `json:"method"`
		Data   json.RawMessage `json:"data"`
	}
	type cmd struct {
		ID        uint32  `json:"id"`
		Subscribe *sub    `json:"subscribe"`
		Publish   *pubReq `json:"publish"`
		RPC       *rpc    `json:"rpc"`
	}
	lines := strings.Split(benchCommandsJSON, "\n")
	frame := []byte(benchCommandsJSON)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			var c cmd
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDecodeCommandsProtobuf(b *testing.B) {
	cmds := []*pb.Command{
		{Id: 2, Subscribe: &pb.SubscribeRequest{Channel: "chat:index", Recover: true, Offset: 1234567, Epoch: "AbCdEfGh"}},
		{Id: 3, Publish: &pb.PublishRequest{Channel: "chat:index", Data: []byte(`{"input":"hello, this is a fairly typical chat message payload","ts":1700000000123}`)}},
		{},
		{Id: 4, Rpc: &pb.RPCRequest{Method: "getCurrentYear", Data: []byte(`{"tz":"UTC"}`)}},
	}
	var msgs [][]byte
	for _, c := range cmds {
		m, err := proto.Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	frame := protocol.AppendFrame(protocol.TypeProtobuf, nil, msgs)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeCommandsProtobuf(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, typ := range []protocol.Type{protocol.TypeJSON, protocol.TypeProtobuf} {
		b.Run(typ.String(), func(b *testing.B) {
			msg, err := protocol.EncodeReply(typ, &pb.Reply{Push: benchPush()})
			if err != nil {
				b.Fatal(err)
			}
			msgs := make([][]byte, 16) // the writer's default batch
			for i := range msgs {
				msgs[i] = msg
			}
			buf := make([]byte, 0, 16*(len(msg)+4))
			b.SetBytes(int64(16 * len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				buf = protocol.AppendFrame(typ, buf[:0], msgs)
			}
		})
	}
}
