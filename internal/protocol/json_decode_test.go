package protocol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func decodeOne(t *testing.T, frame string) *pb.Command {
	t.Helper()
	cmds, err := protocol.DecodeCommandsJSON([]byte(frame))
	if err != nil {
		t.Fatalf("DecodeCommandsJSON(%q): %v", frame, err)
	}
	if len(cmds) != 1 {
		t.Fatalf("DecodeCommandsJSON(%q): %d commands", frame, len(cmds))
	}
	return cmds[0]
}

func assertProtoEqual(t *testing.T, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestDecodeCommandsJSONCompatExamples(t *testing.T) {
	tests := []struct {
		in   string
		want *pb.Command
	}{
		{`{"id":1,"connect":{"token":"<JWT>","name":"js"}}`,
			&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: "<JWT>", Name: "js"}}},
		{`{"id":2,"subscribe":{"channel":"chat:1","recover":true,"offset":5,"epoch":"AbCdEfGh"}}`,
			&pb.Command{Id: 2, Subscribe: &pb.SubscribeRequest{Channel: "chat:1", Recover: true, Offset: 5, Epoch: "AbCdEfGh"}}},
		{`{}`, &pb.Command{}},
		{`{"id":3,"publish":{"channel":"chat:1","data":{"t":3}}}`,
			&pb.Command{Id: 3, Publish: &pb.PublishRequest{Channel: "chat:1", Data: []byte(`{"t":3}`)}}},
	}
	for _, tt := range tests {
		assertProtoEqual(t, decodeOne(t, tt.in), tt.want)
	}
}

func TestDecodeCommandsJSONAllFields(t *testing.T) {
	in := `{"id":4294967295,"connect":{"token":"t","data":{"a":[1,2]},"subs":{"s1":{"recover":true,"offset":"9","epoch":"e","delta":"fossil"},"s2":null},` +
		`"name":"n","version":"v","headers":{"X-A":"1","x-b":"é"},"flag":-3},` +
		`"subscribe":{"channel":"c","token":"st","recover":true,"epoch":"e","offset":18446744073709551615,"data":"str",` +
		`"positioned":true,"recoverable":true,"join_leave":true,"delta":"fossil","flag":3,` +
		`"tf":{"op":"and","nodes":[{"key":"k","cmp":"in","vals":["a","b"]},{"op":"not","nodes":[{"key":"x","cmp":"ex"}]}]}},` +
		`"unsubscribe":{"channel":"u"},"publish":{"channel":"p","data":[true]},"presence":{"channel":"pr"},` +
		`"presence_stats":{"channel":"ps"},"history":{"channel":"h","limit":-1,"since":{"offset":4,"epoch":"he"},"reverse":true},` +
		`"ping":{},"send":{"data":1.5},"rpc":{"data":null,"method":"m"},"refresh":{"token":"rt"},"sub_refresh":{"channel":"sr","token":"srt"}}`
	want := &pb.Command{
		Id: 4294967295,
		Connect: &pb.ConnectRequest{Token: "t", Data: []byte(`{"a":[1,2]}`),
			Subs: map[string]*pb.SubscribeRequest{"s1": {Recover: true, Offset: 9, Epoch: "e", Delta: "fossil"}, "s2": nil},
			Name: "n", Version: "v", Headers: map[string]string{"X-A": "1", "x-b": "é"}, Flag: -3},
		Subscribe: &pb.SubscribeRequest{Channel: "c", Token: "st", Recover: true, Epoch: "e", Offset: 18446744073709551615,
			Data: []byte(`"str"`), Positioned: true, Recoverable: true, JoinLeave: true, Delta: "fossil", Flag: 3,
			Tf: &pb.FilterNode{Op: "and", Nodes: []*pb.FilterNode{
				{Key: "k", Cmp: "in", Vals: []string{"a", "b"}},
				{Op: "not", Nodes: []*pb.FilterNode{{Key: "x", Cmp: "ex"}}},
			}}},
		Unsubscribe:   &pb.UnsubscribeRequest{Channel: "u"},
		Publish:       &pb.PublishRequest{Channel: "p", Data: []byte(`[true]`)},
		Presence:      &pb.PresenceRequest{Channel: "pr"},
		PresenceStats: &pb.PresenceStatsRequest{Channel: "ps"},
		History:       &pb.HistoryRequest{Channel: "h", Limit: -1, Since: &pb.StreamPosition{Offset: 4, Epoch: "he"}, Reverse: true},
		Ping:          &pb.PingRequest{},
		Send:          &pb.SendRequest{Data: []byte(`1.5`)},
		Rpc:           &pb.RPCRequest{Data: []byte(`null`), Method: "m"},
		Refresh:       &pb.RefreshRequest{Token: "rt"},
		SubRefresh:    &pb.SubRefreshRequest{Channel: "sr", Token: "srt"},
	}
	got := decodeOne(t, in)
	assertProtoEqual(t, got, want)
	if got.Connect.Subs["s2"] != nil {
		t.Errorf("null map value decoded as %v", got.Connect.Subs["s2"])
	}
}

func TestDecodeCommandsJSONFrames(t *testing.T) {
	tests := []struct {
		in   string
		want []uint32 // ids
	}{
		{`{"id":1}`, []uint32{1}},
		{"{\"id\":1}\n", []uint32{1}},
		{"{\"id\":1}\n{\"id\":2}", []uint32{1, 2}},
		{"{\"id\":1}\n{\"id\":2}\n", []uint32{1, 2}},
		{"{}\n{}\n{}", []uint32{0, 0, 0}},
		{" \t{ \"id\" : 7 }\r ", []uint32{7}},
		{"{\"id\":1}\r\n{\"id\":2}", []uint32{1, 2}},
	}
	for _, tt := range tests {
		cmds, err := protocol.DecodeCommandsJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		var ids []uint32
		for _, c := range cmds {
			ids = append(ids, c.Id)
		}
		if !slicesEqual(ids, tt.want) {
			t.Errorf("%q: ids %v, want %v", tt.in, ids, tt.want)
		}
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeCommandsJSONLenient(t *testing.T) {
	tests := []struct {
		in   string
		want *pb.Command
	}{
		{`{"id":1,"unknown":{"deep":[1,{"x":"y"},null,true,false,-0.5e-3,"\u00e9\n"]},"connect":{"zzz":1,"name":"n"}}`,
			&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Name: "n"}}},
		{`{"id":null,"connect":null,"subscribe":{"channel":null,"recover":null,"offset":null,"tf":null}}`,
			&pb.Command{Subscribe: &pb.SubscribeRequest{}}},
		{`{"id":"5","subscribe":{"offset":"18446744073709551615","flag":"-9223372036854775808"}}`,
			&pb.Command{Id: 5, Subscribe: &pb.SubscribeRequest{Offset: 18446744073709551615, Flag: -9223372036854775808}}},
		{`{"id":1,"id":2}`, &pb.Command{Id: 2}},
		{`{"id":1,"publish":{"channel":"\u00e9\ud83d\ude00\t\"\\\/","data":"\ud800"}}`,
			&pb.Command{Id: 1, Publish: &pb.PublishRequest{Channel: "é😀\t\"\\/", Data: []byte(`"\ud800"`)}}},
		{`{"id":1,"publish":{"channel":"lone \ud800 surrogate \udc00x"}}`,
			&pb.Command{Id: 1, Publish: &pb.PublishRequest{Channel: "lone \ufffd surrogate \ufffdx"}}},
		{`{"\u0069d":3}`, &pb.Command{Id: 3}},
		{`{"ID":3}`, &pb.Command{}},
		{`{"id":0,"send":{"data":{"x":1}}}`, &pb.Command{Send: &pb.SendRequest{Data: []byte(`{"x":1}`)}}},
		{`{"id":1,"ping":{"ignored":[]}}`, &pb.Command{Id: 1, Ping: &pb.PingRequest{}}},
		{`{"id":1,"subscribe":{"tf":{"nodes":[null],"vals":null}}}`,
			&pb.Command{Id: 1, Subscribe: &pb.SubscribeRequest{Tf: &pb.FilterNode{Nodes: []*pb.FilterNode{{}}}}}},
	}
	for _, tt := range tests {
		assertProtoEqual(t, decodeOne(t, tt.in), tt.want)
	}
}

func TestDecodeCommandsJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", protocol.ErrEmptyFrame},
		{"newline only", "\n", protocol.ErrEmptyFrame},
		{"two newlines", "\n\n", protocol.ErrMalformed},
		{"empty line inside", "{}\n\n{}", protocol.ErrMalformed},
		{"two trailing newlines", "{}\n\n", protocol.ErrMalformed},
		{"whitespace", "   ", protocol.ErrMalformed},
		{"garbage", "hello", protocol.ErrMalformed},
		{"binary", "\x00\x01\x02\xff", protocol.ErrMalformed},
		{"protobuf frame", "\x04\x08\x01\x22\x00", protocol.ErrMalformed},
		{"array", "[]", protocol.ErrMalformed},
		{"string", `"x"`, protocol.ErrMalformed},
		{"unterminated", `{"id":1`, protocol.ErrMalformed},
		{"trailing data", `{"id":1}x`, protocol.ErrMalformed},
		{"two objects one line", `{}{}`, protocol.ErrMalformed},
		{"trailing comma", `{"id":1,}`, protocol.ErrMalformed},
		{"leading comma", `{,"id":1}`, protocol.ErrMalformed},
		{"missing colon", `{"id" 1}`, protocol.ErrMalformed},
		{"single quotes", `{'id':1}`, protocol.ErrMalformed},
		{"invalid utf8 value", "{\"id\":1,\"publish\":{\"channel\":\"\xff\"}}", protocol.ErrMalformed},
		{"invalid utf8 key", "{\"\xc3\":1}", protocol.ErrMalformed},
		{"invalid utf8 after escape", "{\"id\":1,\"publish\":{\"channel\":\"\\n\xff\"}}", protocol.ErrMalformed},
		{"invalid utf8 in data", "{\"id\":1,\"publish\":{\"data\":\"\xfe\"}}", protocol.ErrMalformed},
		{"invalid utf8 in unknown", "{\"x\":[\"\xfe\"]}", protocol.ErrMalformed},
		{"control char in string", "{\"id\":1,\"publish\":{\"channel\":\"a\tb\"}}", protocol.ErrMalformed},
		{"bad escape", `{"id":1,"publish":{"channel":"\q"}}`, protocol.ErrMalformed},
		{"bad unicode escape", `{"id":1,"publish":{"channel":"\u12G4"}}`, protocol.ErrMalformed},
		{"negative uint", `{"id":-1}`, protocol.ErrMalformed},
		{"uint32 overflow", `{"id":4294967296}`, protocol.ErrMalformed},
		{"uint64 overflow", `{"subscribe":{"offset":18446744073709551616}}`, protocol.ErrMalformed},
		{"int64 overflow", `{"connect":{"flag":9223372036854775808}}`, protocol.ErrMalformed},
		{"int32 overflow", `{"history":{"limit":2147483648}}`, protocol.ErrMalformed},
		{"float id", `{"id":1.5}`, protocol.ErrMalformed},
		{"exponent id", `{"id":1e2}`, protocol.ErrMalformed},
		{"leading zero", `{"id":01}`, protocol.ErrMalformed},
		{"empty quoted int", `{"id":""}`, protocol.ErrMalformed},
		{"quoted garbage int", `{"id":"1x"}`, protocol.ErrMalformed},
		{"bool as string", `{"subscribe":{"recover":"true"}}`, protocol.ErrMalformed},
		{"message as string", `{"connect":"x"}`, protocol.ErrMalformed},
		{"string as number", `{"connect":{"token":1}}`, protocol.ErrMalformed},
		{"bad data", `{"publish":{"data":{"a":}}}`, protocol.ErrMalformed},
		{"bad literal", `{"publish":{"data":nul}}`, protocol.ErrMalformed},
		{"headers value not string", `{"connect":{"headers":{"a":1}}}`, protocol.ErrMalformed},
		{"vals not array", `{"subscribe":{"tf":{"vals":"a"}}}`, protocol.ErrMalformed},
		{"deep nesting", `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, protocol.ErrMalformed},
		{"deep filter", `{"subscribe":{"tf":` + strings.Repeat(`{"nodes":[`, 10001) + strings.Repeat(`]}`, 10001) + `}}`, protocol.ErrMalformed},
		{"too many", strings.Repeat("{}\n", protocol.MaxCommandsPerFrame+1), protocol.ErrTooManyCommands},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := protocol.DecodeCommandsJSON([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if cmds != nil {
				t.Errorf("commands returned with error: %v", cmds)
			}
		})
	}
}

func TestDecodeCommandsJSONMaxBatch(t *testing.T) {
	frame := strings.Repeat("{}\n", protocol.MaxCommandsPerFrame)
	cmds, err := protocol.DecodeCommandsJSON([]byte(frame))
	if err != nil || len(cmds) != protocol.MaxCommandsPerFrame {
		t.Fatalf("got %d commands, %v", len(cmds), err)
	}
}

func TestDecodeCommandsJSONDoesNotAlias(t *testing.T) {
	frame := []byte(`{"id":1,"publish":{"channel":"c","data":{"k":"v"}},"rpc":{"data":[1],"method":"m"}}`)
	cmds, err := protocol.DecodeCommandsJSON(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 'X'
	}
	if string(cmds[0].Publish.Data) != `{"k":"v"}` || string(cmds[0].Rpc.Data) != `[1]` || cmds[0].Publish.Channel != "c" {
		t.Errorf("decoded command changed with frame: %v", cmds[0])
	}
}

// TestDecodeCommandsJSONMatchesProtojson decodes random commands encoded by
// protojson (which quotes 64-bit integers) and by our own encoder shape.
func TestDecodeCommandsJSONMatchesProtojson(t *testing.T) {
	g := newGen(3)
	var frame []byte
	var want []*pb.Command
	for i := range 2000 {
		c := g.command(false)
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("\n"), nil) // protojson output is single-line; be safe
		got := decodeOne(t, string(b))
		assertProtoEqual(t, got, c)
		if t.Failed() {
			t.Fatalf("command %d: %s", i, b)
		}
		if len(want) < protocol.MaxCommandsPerFrame {
			if len(frame) > 0 {
				frame = append(frame, '\n')
			}
			frame = append(frame, b...)
			want = append(want, c)
		}
	}
	cmds, err := protocol.DecodeCommandsJSON(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != len(want) {
		t.Fatalf("%d commands, want %d", len(cmds), len(want))
	}
	for i := range cmds {
		assertProtoEqual(t, cmds[i], want[i])
	}
}

func TestDecodeConnectRequestJSON(t *testing.T) {
	got, err := protocol.DecodeConnectRequestJSON([]byte("{\n  \"token\": \"t\",\n  \"subs\": {\"c\": {\"recover\": true, \"offset\": 3}},\n  \"data\": {\"x\": 1}\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	assertProtoEqual(t, got, &pb.ConnectRequest{Token: "t", Subs: map[string]*pb.SubscribeRequest{"c": {Recover: true, Offset: 3}},
		Data: []byte(`{"x": 1}`)})
	for _, in := range []string{"", " \n"} {
		if _, err := protocol.DecodeConnectRequestJSON([]byte(in)); !errors.Is(err, protocol.ErrEmptyFrame) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
	for _, in := range []string{"x", "{}{}", `{"token":1}`, "[]", "{\"token\":\"\xff\"}"} {
		if _, err := protocol.DecodeConnectRequestJSON([]byte(in)); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestDecodeEmulationRequestJSON(t *testing.T) {
	in := `{"node":"n1","session":"s1","data":"{\"id\":2,\"subscribe\":{\"channel\":\"c\"}}\n{}","x":1}`
	got, err := protocol.DecodeEmulationRequestJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	assertProtoEqual(t, got, &pb.EmulationRequest{Node: "n1", Session: "s1", Data: []byte("{\"id\":2,\"subscribe\":{\"channel\":\"c\"}}\n{}")})
	cmds, err := protocol.DecodeCommandsJSON(got.Data)
	if err != nil || len(cmds) != 2 || cmds[0].Subscribe.GetChannel() != "c" {
		t.Errorf("inner frame: %v, %v", cmds, err)
	}
	viaType, err := protocol.DecodeEmulationRequest(protocol.TypeJSON, []byte(in))
	if err != nil || !proto.Equal(viaType, got) {
		t.Errorf("DecodeEmulationRequest(TypeJSON) = %v, %v", viaType, err)
	}
	if _, err := protocol.DecodeEmulationRequestJSON(nil); !errors.Is(err, protocol.ErrEmptyFrame) {
		t.Errorf("empty: %v", err)
	}
	for _, bad := range []string{`{"data":{}}`, `{"node":1}`, `{"session":"s"`, "{\"data\":\"\xff\"}"} {
		if _, err := protocol.DecodeEmulationRequestJSON([]byte(bad)); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
