package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func TestAppendReplyJSONGolden(t *testing.T) {
	info := &pb.ClientInfo{User: "42", Client: "c1"}
	tests := []struct {
		name  string
		reply *pb.Reply
		want  string
	}{
		{"nil ping", nil, `{}`},
		{"empty ping", &pb.Reply{}, `{}`},
		{"error", &pb.Reply{Id: 3, Error: &pb.Error{Code: 103, Message: "permission denied"}},
			`{"id":3,"error":{"code":103,"message":"permission denied"}}`},
		{"error temporary", &pb.Reply{Id: 4, Error: &pb.Error{Code: 100, Message: "internal server error", Temporary: true}},
			`{"id":4,"error":{"code":100,"message":"internal server error","temporary":true}}`},
		{"connect", &pb.Reply{Id: 1, Connect: &pb.ConnectResult{Client: "uuid", Version: "6.9.1 OSS", Ping: 25, Pong: true}},
			`{"id":1,"connect":{"client":"uuid","version":"6.9.1 OSS","ping":25,"pong":true}}`},
		{"connect full", &pb.Reply{Id: 1, Connect: &pb.ConnectResult{
			Client: "c", Version: "v", Expires: true, Ttl: 60, Data: []byte(`{"a":1}`),
			Subs: map[string]*pb.SubscribeResult{
				"b": {Recoverable: true, Epoch: "e", Offset: 3, Positioned: true},
				"a": {},
			},
			Ping: 25, Pong: true, Session: "s", Node: "n", Time: 1700000000000,
		}}, `{"id":1,"connect":{"client":"c","version":"v","expires":true,"ttl":60,"data":{"a":1},` +
			`"subs":{"a":{},"b":{"recoverable":true,"epoch":"e","offset":3,"positioned":true}},` +
			`"ping":25,"pong":true,"session":"s","node":"n","time":1700000000000}}`},
		{"subscribe", &pb.Reply{Id: 2, Subscribe: &pb.SubscribeResult{
			Expires: true, Ttl: 10, Recoverable: true, Epoch: "AbCdEfGh",
			Publications: []*pb.Publication{{Data: []byte(`{"t":1}`), Offset: 6}},
			Recovered:    true, Offset: 5, Positioned: true, Data: []byte(`"x"`), WasRecovering: true, Delta: true, Id: 9,
		}}, `{"id":2,"subscribe":{"expires":true,"ttl":10,"recoverable":true,"epoch":"AbCdEfGh",` +
			`"publications":[{"data":{"t":1},"offset":6}],"recovered":true,"offset":5,"positioned":true,` +
			`"data":"x","was_recovering":true,"delta":true,"id":9}}`},
		{"subscribe empty", &pb.Reply{Id: 2, Subscribe: &pb.SubscribeResult{}}, `{"id":2,"subscribe":{}}`},
		{"unsubscribe", &pb.Reply{Id: 5, Unsubscribe: &pb.UnsubscribeResult{}}, `{"id":5,"unsubscribe":{}}`},
		{"publish", &pb.Reply{Id: 6, Publish: &pb.PublishResult{}}, `{"id":6,"publish":{}}`},
		{"presence", &pb.Reply{Id: 7, Presence: &pb.PresenceResult{Presence: map[string]*pb.ClientInfo{
			"c2": {User: "", Client: "c2", ConnInfo: []byte(`{"n":"x"}`), ChanInfo: []byte(`[1]`)},
			"c1": info,
		}}}, `{"id":7,"presence":{"presence":{"c1":{"user":"42","client":"c1"},` +
			`"c2":{"user":"","client":"c2","conn_info":{"n":"x"},"chan_info":[1]}}}}`},
		{"presence empty", &pb.Reply{Id: 7, Presence: &pb.PresenceResult{}}, `{"id":7,"presence":{"presence":{}}}`},
		{"presence stats zero", &pb.Reply{Id: 8, PresenceStats: &pb.PresenceStatsResult{}},
			`{"id":8,"presence_stats":{"num_clients":0,"num_users":0}}`},
		{"presence stats", &pb.Reply{Id: 8, PresenceStats: &pb.PresenceStatsResult{NumClients: 3, NumUsers: 2}},
			`{"id":8,"presence_stats":{"num_clients":3,"num_users":2}}`},
		{"history empty", &pb.Reply{Id: 9, History: &pb.HistoryResult{}},
			`{"id":9,"history":{"publications":[],"epoch":"","offset":0}}`},
		{"history", &pb.Reply{Id: 9, History: &pb.HistoryResult{
			Publications: []*pb.Publication{
				{Data: []byte(`1`), Offset: 1, Info: info},
				{Data: []byte(`2`), Offset: 18446744073709551615, Tags: map[string]string{"z": "1", "a": "\"q\""}},
			},
			Epoch: "ep", Offset: 18446744073709551615,
		}}, `{"id":9,"history":{"publications":[{"data":1,"info":{"user":"42","client":"c1"},"offset":1},` +
			`{"data":2,"offset":18446744073709551615,"tags":{"a":"\"q\"","z":"1"}}],"epoch":"ep","offset":18446744073709551615}}`},
		{"ping result", &pb.Reply{Id: 10, Ping: &pb.PingResult{}}, `{"id":10,"ping":{}}`},
		{"rpc", &pb.Reply{Id: 11, Rpc: &pb.RPCResult{Data: []byte(`{"ok":true}`)}}, `{"id":11,"rpc":{"data":{"ok":true}}}`},
		{"rpc empty", &pb.Reply{Id: 11, Rpc: &pb.RPCResult{}}, `{"id":11,"rpc":{}}`},
		{"refresh", &pb.Reply{Id: 12, Refresh: &pb.RefreshResult{Client: "c", Version: "v", Expires: true, Ttl: 3600}},
			`{"id":12,"refresh":{"client":"c","version":"v","expires":true,"ttl":3600}}`},
		{"sub refresh", &pb.Reply{Id: 13, SubRefresh: &pb.SubRefreshResult{Expires: true, Ttl: 30}},
			`{"id":13,"sub_refresh":{"expires":true,"ttl":30}}`},
		{"data newlines stripped", &pb.Reply{Id: 14, Rpc: &pb.RPCResult{Data: []byte("{\n  \"a\": [1,\n 2]\n}\n")}},
			`{"id":14,"rpc":{"data":{  "a": [1, 2]}}}`},
		{"push in reply", &pb.Reply{Push: &pb.Push{Channel: "chat:1", Pub: &pb.Publication{Data: []byte(`{"t":2}`), Offset: 7}}},
			`{"push":{"channel":"chat:1","pub":{"data":{"t":2},"offset":7}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.AppendReplyJSON(nil, tt.reply)
			if err != nil {
				t.Fatalf("AppendReplyJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("AppendReplyJSON:\n got %s\nwant %s", got, tt.want)
			}
			assertValidJSON(t, got)
		})
	}
}

func TestAppendPushJSONGolden(t *testing.T) {
	info := &pb.ClientInfo{User: "42", Client: "uuid", ConnInfo: []byte(`{"name":"x"}`)}
	tests := []struct {
		name string
		push *pb.Push
		want string
	}{
		{"nil ping", nil, `{}`},
		{"empty ping", &pb.Push{}, `{}`},
		{"pub", &pb.Push{Channel: "c", Pub: &pb.Publication{
			Data: []byte(`{"t":2}`), Info: info, Offset: 7, Tags: map[string]string{"k": "v"},
			Delta: true, Time: 123, Channel: "c.x",
		}}, `{"channel":"c","pub":{"data":{"t":2},"info":{"user":"42","client":"uuid","conn_info":{"name":"x"}},` +
			`"offset":7,"tags":{"k":"v"},"delta":true,"time":123,"channel":"c.x"}}`},
		{"pub compact id", &pb.Push{Id: -5, Pub: &pb.Publication{Data: []byte(`"s"`)}}, `{"id":-5,"pub":{"data":"s"}}`},
		{"pub empty", &pb.Push{Channel: "c", Pub: &pb.Publication{}}, `{"channel":"c","pub":{}}`},
		{"join", &pb.Push{Channel: "c", Join: &pb.Join{Info: &pb.ClientInfo{User: "42", Client: "uuid"}}},
			`{"channel":"c","join":{"info":{"user":"42","client":"uuid"}}}`},
		{"join anonymous", &pb.Push{Channel: "c", Join: &pb.Join{Info: &pb.ClientInfo{Client: "uuid"}}},
			`{"channel":"c","join":{"info":{"user":"","client":"uuid"}}}`},
		{"leave", &pb.Push{Channel: "c", Leave: &pb.Leave{Info: &pb.ClientInfo{User: "42", Client: "uuid"}}},
			`{"channel":"c","leave":{"info":{"user":"42","client":"uuid"}}}`},
		{"leave no info", &pb.Push{Channel: "c", Leave: &pb.Leave{}}, `{"channel":"c","leave":{}}`},
		{"unsubscribe", &pb.Push{Channel: "c", Unsubscribe: &pb.Unsubscribe{Code: 2000, Reason: "server unsubscribe"}},
			`{"channel":"c","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}`},
		{"message", &pb.Push{Message: &pb.Message{Data: []byte(`{"m":1}`)}}, `{"message":{"data":{"m":1}}}`},
		{"subscribe", &pb.Push{Channel: "c", Subscribe: &pb.Subscribe{Recoverable: true, Epoch: "e", Offset: 2, Positioned: true, Data: []byte(`null`)}},
			`{"channel":"c","subscribe":{"recoverable":true,"epoch":"e","offset":2,"positioned":true,"data":null}}`},
		{"connect", &pb.Push{Connect: &pb.Connect{
			Client: "c", Version: "v", Data: []byte(`{}`), Subs: map[string]*pb.SubscribeResult{"s": {Recoverable: true}},
			Expires: true, Ttl: 5, Ping: 25, Session: "ss", Node: "nn", Time: 9,
		}}, `{"connect":{"client":"c","version":"v","data":{},"subs":{"s":{"recoverable":true}},"expires":true,"ttl":5,` +
			`"ping":25,"session":"ss","node":"nn","time":9}}`},
		{"disconnect", &pb.Push{Disconnect: &pb.Disconnect{Code: 3001, Reason: "shutdown"}},
			`{"disconnect":{"code":3001,"reason":"shutdown"}}`},
		{"disconnect reconnect", &pb.Push{Disconnect: &pb.Disconnect{Code: 3001, Reason: "shutdown", Reconnect: true}},
			`{"disconnect":{"code":3001,"reason":"shutdown","reconnect":true}}`},
		{"refresh", &pb.Push{Refresh: &pb.Refresh{Expires: true, Ttl: 3600}}, `{"refresh":{"expires":true,"ttl":3600}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.AppendPushJSON(nil, tt.push)
			if err != nil {
				t.Fatalf("AppendPushJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("AppendPushJSON:\n got %s\nwant %s", got, tt.want)
			}
			assertValidJSON(t, got)
			// The same push wrapped in a Reply.
			wrapped, err := protocol.AppendReplyJSON(nil, &pb.Reply{Push: tt.push})
			if err != nil {
				t.Fatalf("AppendReplyJSON: %v", err)
			}
			wantWrapped := `{"push":` + tt.want + `}`
			if tt.push == nil {
				wantWrapped = `{}`
			}
			if string(wrapped) != wantWrapped {
				t.Errorf("wrapped:\n got %s\nwant %s", wrapped, wantWrapped)
			}
		})
	}
}

// TestCompatExamples checks the server frames of COMPAT.md §1.11. The
// subscribe example lists keys out of field-number order, so it is compared
// semantically; the others byte for byte.
func TestCompatExamples(t *testing.T) {
	uuid := "7c1d0f49-56e2-4ee4-b5d3-1a4f9b2b9a3e"
	tests := []struct {
		reply    *pb.Reply
		want     string
		semantic bool
	}{
		{reply: &pb.Reply{Id: 1, Connect: &pb.ConnectResult{Client: uuid, Version: "6.9.1 OSS", Ping: 25, Pong: true}},
			want: `{"id":1,"connect":{"client":"` + uuid + `","version":"6.9.1 OSS","ping":25,"pong":true}}`},
		{reply: &pb.Reply{Id: 2, Subscribe: &pb.SubscribeResult{
			Recoverable: true, Epoch: "AbCdEfGh", Offset: 5, Positioned: true, Recovered: true, WasRecovering: true,
			Publications: []*pb.Publication{{Data: []byte(`{"t":1}`), Offset: 6}},
		}}, semantic: true,
			want: `{"id":2,"subscribe":{"recoverable":true,"epoch":"AbCdEfGh","offset":5,"positioned":true,"recovered":true,"was_recovering":true,"publications":[{"data":{"t":1},"offset":6}]}}`},
		{reply: &pb.Reply{Push: &pb.Push{Channel: "chat:1", Pub: &pb.Publication{Data: []byte(`{"t":2}`), Offset: 7}}},
			want: `{"push":{"channel":"chat:1","pub":{"data":{"t":2},"offset":7}}}`},
		{reply: &pb.Reply{Push: &pb.Push{Channel: "chat:1", Join: &pb.Join{Info: &pb.ClientInfo{User: "42", Client: uuid}}}},
			want: `{"push":{"channel":"chat:1","join":{"info":{"user":"42","client":"` + uuid + `"}}}}`},
		{reply: &pb.Reply{}, want: `{}`},
		{reply: &pb.Reply{Id: 3, Error: &pb.Error{Code: protocol.ErrPermissionDenied.Code, Message: protocol.ErrPermissionDenied.Message}},
			want: `{"id":3,"error":{"code":103,"message":"permission denied"}}`},
		{reply: &pb.Reply{Push: &pb.Push{Channel: "chat:1", Unsubscribe: &pb.Unsubscribe{
			Code: protocol.UnsubscribeServer.Code, Reason: protocol.UnsubscribeServer.Reason}}},
			want: `{"push":{"channel":"chat:1","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}`},
		{reply: &pb.Reply{Push: &pb.Push{Refresh: &pb.Refresh{Expires: true, Ttl: 3600}}},
			want: `{"push":{"refresh":{"expires":true,"ttl":3600}}}`},
	}
	for _, tt := range tests {
		got, err := protocol.AppendReplyJSON(nil, tt.reply)
		if err != nil {
			t.Fatalf("AppendReplyJSON(%s): %v", tt.want, err)
		}
		if tt.semantic {
			assertJSONEqual(t, got, []byte(tt.want))
		} else if string(got) != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	// Unidirectional examples.
	uni := []struct {
		push *pb.Push
		want string
	}{
		{&pb.Push{}, `{}`},
		{&pb.Push{Channel: "c", Pub: &pb.Publication{Data: []byte(`{}`)}}, `{"channel":"c","pub":{"data":{}}}`},
		{&pb.Push{Disconnect: &pb.Disconnect{Code: protocol.DisconnectShutdown.Code, Reason: protocol.DisconnectShutdown.Reason}},
			`{"disconnect":{"code":3001,"reason":"shutdown"}}`},
	}
	for _, tt := range uni {
		got, err := protocol.AppendPushJSON(nil, tt.push)
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendPushJSON = %s, %v; want %s", got, err, tt.want)
		}
	}
}

func TestAppendJSONStringEscaping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\s/`, `"q\"b\\s/"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<&>", `"<&>"`},
		{"héllo ✓ 😀", `"héllo ✓ 😀"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"\ufffd", "\"\ufffd\""},
	}
	for _, tt := range tests {
		got, err := protocol.AppendPushJSON(nil, &pb.Push{Channel: tt.in})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"channel":` + tt.want + `}`
		if string(got) != want {
			t.Errorf("channel %q:\n got %s\nwant %s", tt.in, got, want)
		}
		assertValidJSON(t, got)
	}
}

func TestAppendJSONInvalidPayload(t *testing.T) {
	bad := [][]byte{
		[]byte(`{`), []byte(`{"a":}`), []byte(`hello`), []byte(`{} {}`), []byte("\"\xff\""),
		[]byte(`"a` + "\n" + `b"`), []byte{0x00, 0x01}, []byte(`   `), []byte(`[1,]`), []byte(`01`),
		[]byte(`"\x"`), []byte(`1.`), []byte(`tru`),
	}
	for _, data := range bad {
		replies := []*pb.Reply{
			{Id: 1, Rpc: &pb.RPCResult{Data: data}},
			{Push: &pb.Push{Channel: "c", Pub: &pb.Publication{Data: data}}},
			{Push: &pb.Push{Channel: "c", Join: &pb.Join{Info: &pb.ClientInfo{Client: "c", ConnInfo: data}}}},
			{Id: 2, Presence: &pb.PresenceResult{Presence: map[string]*pb.ClientInfo{"c": {ChanInfo: data}}}},
			{Id: 3, History: &pb.HistoryResult{Publications: []*pb.Publication{{Data: data}}}},
			{Id: 4, Connect: &pb.ConnectResult{Data: data}},
			{Id: 5, Subscribe: &pb.SubscribeResult{Data: data}},
			{Push: &pb.Push{Message: &pb.Message{Data: data}}},
		}
		for _, r := range replies {
			prefix := []byte("prefix")
			got, err := protocol.AppendReplyJSON(prefix, r)
			if !errors.Is(err, protocol.ErrInvalidJSONPayload) {
				t.Errorf("payload %q in %v: err = %v, want ErrInvalidJSONPayload", data, r, err)
				continue
			}
			if string(got) != "prefix" {
				t.Errorf("payload %q: dst = %q after error, want original", data, got)
			}
		}
		if _, err := protocol.AppendPushJSON(nil, &pb.Push{Pub: &pb.Publication{Data: data}}); !errors.Is(err, protocol.ErrInvalidJSONPayload) {
			t.Errorf("AppendPushJSON payload %q: err = %v", data, err)
		}
	}
}

func TestAppendJSONValidPayloads(t *testing.T) {
	good := []string{
		`0`, `-1.5e+10`, `"str"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `true`, `false`, `null`, `[]`, `{}`,
		` {"a" : [1, {"b": null}] } `, `"é"`, `[[[[[]]]]]`, strings.Repeat("[", 200) + strings.Repeat("]", 200),
	}
	for _, data := range good {
		got, err := protocol.AppendReplyJSON(nil, &pb.Reply{Id: 1, Rpc: &pb.RPCResult{Data: []byte(data)}})
		if err != nil {
			t.Errorf("payload %q: %v", data, err)
			continue
		}
		if want := `{"id":1,"rpc":{"data":` + data + `}}`; string(got) != want {
			t.Errorf("payload %q: got %s", data, got)
		}
	}
}

func TestAppendJSONAppendsToDst(t *testing.T) {
	dst := []byte("abc\n")
	got, err := protocol.AppendReplyJSON(dst, &pb.Reply{Id: 1, Publish: &pb.PublishResult{}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "abc\n"+`{"id":1,"publish":{}}` {
		t.Errorf("got %q", got)
	}
}
