package protocol_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

func assertValidJSON(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Errorf("invalid JSON: %s", b)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		t.Errorf("raw newline in encoding: %q", b)
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func assertJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	if g, w := decodeAny(t, got), decodeAny(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs:\n got %s\nwant %s", got, want)
	}
}

// bytesKeys are the JSON keys of bytes fields, which our codec embeds as raw
// JSON and protojson as base64.
var bytesKeys = map[string]bool{"data": true, "conn_info": true, "chan_info": true}

// assertMatchesProtojson checks that ours (our JSON encoding of m) means the
// same as protojson's encoding of m, allowing for the documented
// differences: raw JSON instead of base64 for bytes fields, numbers instead
// of strings for 64-bit integers, and the always-emitted zero fields.
func assertMatchesProtojson(t *testing.T, m proto.Message, ours []byte) {
	t.Helper()
	theirs, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if err := sameJSON("$", decodeAny(t, ours), decodeAny(t, theirs), false); err != nil {
		t.Errorf("%v\n ours   %s\n theirs %s", err, ours, theirs)
	}
}

func sameJSON(path string, ours, theirs any, isBytes bool) error {
	if isBytes {
		s, ok := theirs.(string)
		if !ok {
			return fmt.Errorf("%s: protojson bytes field is %T", path, theirs)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			return fmt.Errorf("%s: payload: %w", path, err)
		}
		if !reflect.DeepEqual(ours, want) {
			return fmt.Errorf("%s: payload %v != %v", path, ours, want)
		}
		return nil
	}
	switch th := theirs.(type) {
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: ours is %T, want object", path, ours)
		}
		for k, tv := range th {
			ov, ok := o[k]
			if !ok {
				return fmt.Errorf("%s.%s missing", path, k)
			}
			if err := sameJSON(path+"."+k, ov, tv, bytesKeys[k] && !isMapPath(path)); err != nil {
				return err
			}
		}
		for k, ov := range o {
			if _, ok := th[k]; !ok && !isZeroJSON(ov) {
				return fmt.Errorf("%s.%s = %v is extra", path, k, ov)
			}
		}
		return nil
	case []any:
		o, ok := ours.([]any)
		if !ok || len(o) != len(th) {
			return fmt.Errorf("%s: ours %v, want array of %d", path, ours, len(th))
		}
		for i := range th {
			if err := sameJSON(fmt.Sprintf("%s[%d]", path, i), o[i], th[i], false); err != nil {
				return err
			}
		}
		return nil
	case string:
		if n, ok := ours.(json.Number); ok && string(n) == th {
			return nil
		}
	}
	if !reflect.DeepEqual(ours, theirs) {
		return fmt.Errorf("%s: ours %#v, theirs %#v", path, ours, theirs)
	}
	return nil
}

// isMapPath reports whether path ends in a map field whose keys are user
// data (so a key named "data" there is not a bytes field).
func isMapPath(path string) bool {
	for _, suffix := range []string{".tags", ".presence.presence", ".subs", ".headers"} {
		if len(path) >= len(suffix) && path[len(path)-len(suffix):] == suffix {
			return true
		}
	}
	return false
}

func isZeroJSON(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case json.Number:
		return v == "0"
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return v == nil
}

// gen builds random protocol messages with valid UTF-8 strings and valid
// JSON payloads.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) maybe() bool { return g.r.IntN(2) == 0 }

var genStrings = []string{"", "a", "chat:1", "42", "héllo", "q\"uote", "back\\slash", "tab\there", "nl\nx",
	"\x00ctl\x1f", "😀", "\u2028", "<html>&", "data", "0"}

var genPayloads = []string{"", `{}`, `[]`, `null`, `true`, `0`, `-12.5e3`, `"s"`, `{"a":[1,2,{"b":"c"}]}`,
	`"\u00e9\n"`, "{\n \"x\": 1\n}", `{"data":"ZGF0YQ=="}`}

func (g *gen) str() string { return genStrings[g.r.IntN(len(genStrings))] }

func (g *gen) payload() []byte {
	if p := genPayloads[g.r.IntN(len(genPayloads))]; p != "" {
		return []byte(p)
	}
	return nil
}

func (g *gen) u32() uint32 {
	if g.maybe() {
		return 0
	}
	return g.r.Uint32()
}

func (g *gen) u64() uint64 {
	if g.maybe() {
		return 0
	}
	return g.r.Uint64()
}

func (g *gen) i64() int64 {
	if g.maybe() {
		return 0
	}
	return int64(g.r.Uint64())
}

func (g *gen) clientInfo() *pb.ClientInfo {
	return &pb.ClientInfo{User: g.str(), Client: g.str(), ConnInfo: g.payload(), ChanInfo: g.payload()}
}

func (g *gen) publication() *pb.Publication {
	p := &pb.Publication{Data: g.payload(), Offset: g.u64(), Delta: g.maybe(), Time: g.i64(), Channel: g.str()}
	if g.maybe() {
		p.Info = g.clientInfo()
	}
	if g.maybe() {
		p.Tags = map[string]string{}
		for range g.r.IntN(20) {
			p.Tags[g.str()] = g.str()
		}
	}
	return p
}

func (g *gen) publications() []*pb.Publication {
	var pubs []*pb.Publication
	for range g.r.IntN(3) {
		pubs = append(pubs, g.publication())
	}
	return pubs
}

func (g *gen) subscribeResult() *pb.SubscribeResult {
	return &pb.SubscribeResult{Expires: g.maybe(), Ttl: g.u32(), Recoverable: g.maybe(), Epoch: g.str(),
		Publications: g.publications(), Recovered: g.maybe(), Offset: g.u64(), Positioned: g.maybe(),
		Data: g.payload(), WasRecovering: g.maybe(), Delta: g.maybe(), Id: g.i64()}
}

func (g *gen) subs() map[string]*pb.SubscribeResult {
	if g.maybe() {
		return nil
	}
	m := map[string]*pb.SubscribeResult{}
	for range g.r.IntN(3) {
		m[g.str()] = g.subscribeResult()
	}
	return m
}

func (g *gen) push() *pb.Push {
	p := &pb.Push{Id: g.i64(), Channel: g.str()}
	switch g.r.IntN(10) {
	case 0:
		p.Pub = g.publication()
	case 1:
		p.Join = &pb.Join{Info: g.clientInfo()}
	case 2:
		p.Leave = &pb.Leave{Info: g.clientInfo()}
	case 3:
		p.Unsubscribe = &pb.Unsubscribe{Code: g.u32(), Reason: g.str()}
	case 4:
		p.Message = &pb.Message{Data: g.payload()}
	case 5:
		p.Subscribe = &pb.Subscribe{Recoverable: g.maybe(), Epoch: g.str(), Offset: g.u64(), Positioned: g.maybe(), Data: g.payload()}
	case 6:
		p.Connect = &pb.Connect{Client: g.str(), Version: g.str(), Data: g.payload(), Subs: g.subs(), Expires: g.maybe(),
			Ttl: g.u32(), Ping: g.u32(), Pong: g.maybe(), Session: g.str(), Node: g.str(), Time: g.i64()}
	case 7:
		p.Disconnect = &pb.Disconnect{Code: g.u32(), Reason: g.str(), Reconnect: g.maybe()}
	case 8:
		p.Refresh = &pb.Refresh{Expires: g.maybe(), Ttl: g.u32()}
	}
	return p
}

func (g *gen) reply() *pb.Reply {
	r := &pb.Reply{Id: g.u32()}
	switch g.r.IntN(15) {
	case 0:
		r.Error = &pb.Error{Code: g.u32(), Message: g.str(), Temporary: g.maybe()}
	case 1:
		r.Push = g.push()
	case 2:
		r.Connect = &pb.ConnectResult{Client: g.str(), Version: g.str(), Expires: g.maybe(), Ttl: g.u32(), Data: g.payload(),
			Subs: g.subs(), Ping: g.u32(), Pong: g.maybe(), Session: g.str(), Node: g.str(), Time: g.i64()}
	case 3:
		r.Subscribe = g.subscribeResult()
	case 4:
		r.Unsubscribe = &pb.UnsubscribeResult{}
	case 5:
		r.Publish = &pb.PublishResult{}
	case 6:
		r.Presence = &pb.PresenceResult{Presence: map[string]*pb.ClientInfo{}}
		for range g.r.IntN(4) {
			r.Presence.Presence[g.str()] = g.clientInfo()
		}
	case 7:
		r.PresenceStats = &pb.PresenceStatsResult{NumClients: g.u32(), NumUsers: g.u32()}
	case 8:
		r.History = &pb.HistoryResult{Publications: g.publications(), Epoch: g.str(), Offset: g.u64()}
	case 9:
		r.Ping = &pb.PingResult{}
	case 10:
		r.Rpc = &pb.RPCResult{Data: g.payload()}
	case 11:
		r.Refresh = &pb.RefreshResult{Client: g.str(), Version: g.str(), Expires: g.maybe(), Ttl: g.u32()}
	case 12:
		r.SubRefresh = &pb.SubRefreshResult{Expires: g.maybe(), Ttl: g.u32()}
	}
	return r
}

func (g *gen) filterNode(depth int) *pb.FilterNode {
	n := &pb.FilterNode{Op: g.str(), Key: g.str(), Cmp: g.str(), Val: g.str()}
	for range g.r.IntN(3) {
		n.Vals = append(n.Vals, g.str())
	}
	if depth < 3 {
		for range g.r.IntN(3) {
			n.Nodes = append(n.Nodes, g.filterNode(depth+1))
		}
	}
	return n
}

func (g *gen) subscribeRequest(withData bool) *pb.SubscribeRequest {
	s := &pb.SubscribeRequest{Channel: g.str(), Token: g.str(), Recover: g.maybe(), Epoch: g.str(), Offset: g.u64(),
		Positioned: g.maybe(), Recoverable: g.maybe(), JoinLeave: g.maybe(), Delta: g.str(), Flag: g.i64()}
	if withData {
		s.Data = g.payload()
	}
	if g.maybe() {
		s.Tf = g.filterNode(0)
	}
	return s
}

// command returns a random Command; bytes fields are left empty unless
// withData, since protojson and our codec encode them differently.
func (g *gen) command(withData bool) *pb.Command {
	data := func() []byte {
		if withData {
			return g.payload()
		}
		return nil
	}
	c := &pb.Command{Id: g.u32()}
	switch g.r.IntN(14) {
	case 0:
		c.Connect = &pb.ConnectRequest{Token: g.str(), Data: data(), Name: g.str(), Version: g.str(), Flag: g.i64()}
		if g.maybe() {
			c.Connect.Subs = map[string]*pb.SubscribeRequest{g.str(): g.subscribeRequest(withData)}
		}
		if g.maybe() {
			c.Connect.Headers = map[string]string{g.str(): g.str(), g.str(): g.str()}
		}
	case 1:
		c.Subscribe = g.subscribeRequest(withData)
	case 2:
		c.Unsubscribe = &pb.UnsubscribeRequest{Channel: g.str()}
	case 3:
		c.Publish = &pb.PublishRequest{Channel: g.str(), Data: data()}
	case 4:
		c.Presence = &pb.PresenceRequest{Channel: g.str()}
	case 5:
		c.PresenceStats = &pb.PresenceStatsRequest{Channel: g.str()}
	case 6:
		c.History = &pb.HistoryRequest{Channel: g.str(), Limit: int32(g.r.Uint32()), Reverse: g.maybe()}
		if g.maybe() {
			c.History.Since = &pb.StreamPosition{Offset: g.u64(), Epoch: g.str()}
		}
	case 7:
		c.Ping = &pb.PingRequest{}
	case 8:
		c.Send = &pb.SendRequest{Data: data()}
	case 9:
		c.Rpc = &pb.RPCRequest{Data: data(), Method: g.str()}
	case 10:
		c.Refresh = &pb.RefreshRequest{Token: g.str()}
	case 11:
		c.SubRefresh = &pb.SubRefreshRequest{Channel: g.str(), Token: g.str()}
	}
	return c
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }
