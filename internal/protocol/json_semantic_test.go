package protocol_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// TestJSONMatchesProtojson encodes random replies and pushes and checks
// each against protojson, modulo the documented differences.
func TestJSONMatchesProtojson(t *testing.T) {
	g := newGen(1)
	for i := range 3000 {
		r := g.reply()
		got, err := protocol.AppendReplyJSON(nil, r)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		assertValidJSON(t, got)
		assertMatchesProtojson(t, r, got)

		p := g.push()
		got, err = protocol.AppendPushJSON(nil, p)
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		assertValidJSON(t, got)
		assertMatchesProtojson(t, p, got)
		if t.Failed() {
			t.Fatalf("stopping after message %d", i)
		}
	}
}

// TestJSONDeterministic checks that map order does not change the output.
func TestJSONDeterministic(t *testing.T) {
	g := newGen(2)
	for range 200 {
		r := g.reply()
		first, err := protocol.AppendReplyJSON(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			again, _ := protocol.AppendReplyJSON(nil, proto.Clone(r).(*pb.Reply))
			if string(again) != string(first) {
				t.Fatalf("non-deterministic:\n%s\n%s", first, again)
			}
		}
	}
}

// TestProtojsonComparatorCatchesDifferences guards the comparator itself.
func TestProtojsonComparatorCatchesDifferences(t *testing.T) {
	r := &pb.Reply{Id: 1, Subscribe: &pb.SubscribeResult{Ttl: 30, Offset: 7, Data: []byte(`{"a":1}`)}}
	for _, wrong := range []string{
		`{"id":1,"subscribe":{"ttl":31,"offset":7,"data":{"a":1}}}`,
		`{"id":1,"subscribe":{"ttl":30,"offset":7,"data":{"a":2}}}`,
		`{"id":1,"subscribe":{"ttl":30,"data":{"a":1}}}`,
		`{"id":1,"subscribe":{"ttl":30,"offset":7,"data":{"a":1},"recovered":true}}`,
		`{"id":2,"subscribe":{"ttl":30,"offset":7,"data":{"a":1}}}`,
	} {
		theirs, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if sameJSON("$", decodeAny(t, []byte(wrong)), decodeAny(t, theirs), false) == nil {
			t.Errorf("comparator accepted %s", wrong)
		}
	}
}
