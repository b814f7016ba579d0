package bench

import (
	"bytes"
	"testing"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// encoded returns r encoded by Herald's server codec.
func encoded(t testing.TB, pt protocol.Type, r *protocolpb.Reply) []byte {
	t.Helper()
	b, err := protocol.EncodeReply(pt, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeReplies(t *testing.T) {
	data := []byte(`{"c":1,"s":2,"t":3,"n":{"a":[1,"}"]}}`)
	cases := []struct {
		name string
		r    *protocolpb.Reply
		want reply
	}{
		{"ping", &protocolpb.Reply{}, reply{kind: kindPing}},
		{"connect", &protocolpb.Reply{Id: 1, Connect: &protocolpb.ConnectResult{Client: "abc", Ping: 25, Pong: true}},
			reply{kind: kindResult, id: 1, client: "abc", ping: 25, pong: true}},
		{"subscribe", &protocolpb.Reply{Id: 2, Subscribe: &protocolpb.SubscribeResult{}}, reply{kind: kindResult, id: 2}},
		{"error", &protocolpb.Reply{Id: 3, Error: &protocolpb.Error{Code: 103, Message: "permission denied"}},
			reply{kind: kindResult, id: 3, err: &replyError{103, "permission denied"}}},
		{"pub", &protocolpb.Reply{Push: &protocolpb.Push{Channel: "ch", Pub: &protocolpb.Publication{Data: data, Offset: 9}}},
			reply{kind: kindPub, channel: "ch", data: data}},
		{"pub-escaped-channel", &protocolpb.Reply{Push: &protocolpb.Push{Channel: `a"b`, Pub: &protocolpb.Publication{Data: data}}},
			reply{kind: kindPub, channel: `a"b`, data: data}},
		{"unsubscribe", &protocolpb.Reply{Push: &protocolpb.Push{Channel: "ch", Unsubscribe: &protocolpb.Unsubscribe{Code: 2000, Reason: "server unsubscribe"}}},
			reply{kind: kindPushOther, channel: "ch", pushErr: &replyError{2000, "server unsubscribe"}}},
	}
	for _, tc := range cases {
		for _, pt := range []protocol.Type{protocol.TypeJSON, protocol.TypeProtobuf} {
			msg := encoded(t, pt, tc.r)
			var got reply
			var err error
			if pt == protocol.TypeProtobuf {
				err = decodeProtobufReply(msg, &protocolpb.Reply{}, &got)
			} else if !decodeJSONPubFast(msg, &got) {
				err = decodeJSONReply(msg, &got)
			}
			if err != nil {
				t.Fatalf("%s/%s: %v", tc.name, pt, err)
			}
			if got.kind != tc.want.kind || got.id != tc.want.id || got.channel != tc.want.channel ||
				!bytes.Equal(got.data, tc.want.data) || got.client != tc.want.client || got.ping != tc.want.ping ||
				got.pong != tc.want.pong || (got.err == nil) != (tc.want.err == nil) || (got.pushErr == nil) != (tc.want.pushErr == nil) ||
				(got.err != nil && *got.err != *tc.want.err) || (got.pushErr != nil && *got.pushErr != *tc.want.pushErr) {
				t.Errorf("%s/%s: %s decoded as %+v, want %+v", tc.name, pt, msg, got, tc.want)
			}
		}
	}
}

func TestJSONValueLen(t *testing.T) {
	for in, want := range map[string]int{
		`{"a":"}"}rest`: 9, `[1,[2]],`: 7, `"x\"y"}`: 6, `123}`: 3, `true,`: 4,
		`{"a":1`: -1, `"abc`: -1, ``: -1, `,`: -1, `12`: -1,
	} {
		if got := jsonValueLen([]byte(in)); got != want {
			t.Errorf("jsonValueLen(%q) = %d, want %d", in, got, want)
		}
	}
}

func BenchmarkDecodeJSONPub(b *testing.B) {
	data := appendPayload(nil, payload{ch: 3, seq: 12345, sentNS: 1712345678901234567}, 0)
	msg := encoded(b, protocol.TypeJSON, &protocolpb.Reply{Push: &protocolpb.Push{Channel: "bench_fanout_3", Pub: &protocolpb.Publication{Data: data, Offset: 7}}})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		var r reply
		for b.Loop() {
			if !decodeJSONPubFast(msg, &r) {
				b.Fatal("not fast")
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		var r reply
		for b.Loop() {
			if err := decodeJSONReply(msg, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
