package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/api/apitest"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

func newExec(t *testing.T) (*api.Executor, *apitest.Engine) {
	t.Helper()
	eng := &apitest.Engine{}
	return api.New(eng, api.Config{}), eng
}

func call(t *testing.T, e *api.Executor, method, params string) (string, error) {
	t.Helper()
	res, err := e.Call(context.Background(), method, []byte(params))
	if err != nil {
		if res != nil {
			t.Fatalf("%s: non-nil result %v with error %v", method, res, err)
		}
		return "", err
	}
	b, mErr := json.Marshal(res)
	if mErr != nil {
		t.Fatalf("%s: marshal result: %v", method, mErr)
	}
	return string(b), nil
}

func wantCode(t *testing.T, err error, code uint32) {
	t.Helper()
	pe := api.ProtocolError(err)
	if pe == nil || pe.Code != code {
		t.Fatalf("error %v, want code %d", err, code)
	}
}

func TestParseMethod(t *testing.T) {
	for s, want := range map[string]api.Method{
		"publish": api.MethodPublish, "PUBLISH": api.MethodPublish, "0": api.MethodPublish,
		"presence_stats": api.MethodPresenceStats, "PRESENCE_STATS": api.MethodPresenceStats, "5": api.MethodPresenceStats,
		"subscribe": api.MethodSubscribe, "11": api.MethodSubscribe, "REFRESH": api.MethodRefresh, "12": api.MethodRefresh,
		"batch": api.MethodBatch, "BATCH": api.MethodBatch,
	} {
		if got, ok := api.ParseMethod(s); !ok || got != want {
			t.Errorf("ParseMethod(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "Publish", "13", "14", "-1", "1000", "publish ", "map_publish", "connections"} {
		if m, ok := api.ParseMethod(s); ok {
			t.Errorf("ParseMethod(%q) = %v, want unknown", s, m)
		}
	}
}

func TestPublishValidation(t *testing.T) {
	e, eng := newExec(t)
	for _, p := range []string{
		`{"data":{}}`,                     // no channel
		`{"channel":"c"}`,                 // no data
		`{"channel":"c","b64data":"%%%"}`, // bad base64
		`{"channel":"","b64data":"aGk="}`, // empty channel
		`{"channel":"c","b64data":"aGk"}`, // missing padding
		`{}`, ``,
	} {
		_, err := call(t, e, "publish", p)
		wantCode(t, err, 107)
	}
	if n := len(eng.Calls()); n != 0 {
		t.Fatalf("engine called %d times for invalid requests", n)
	}
	_, err := call(t, e, "publish", `{"channel":5}`)
	if _, ok := errors.AsType[*api.DecodeError](err); !ok {
		t.Fatalf("type mismatch: %v, want *DecodeError", err)
	}
	wantCode(t, err, 107)
}

func TestPublishPassesOptions(t *testing.T) {
	e, eng := newExec(t)
	eng.PublishFunc = func(context.Context, string, []byte, engine.PublishOptions) (broker.PublishResult, error) {
		return broker.PublishResult{Position: broker.StreamPosition{Offset: 3, Epoch: "ep"}}, nil
	}
	got, err := call(t, e, "publish", `{"channel":"c","data":{"x":1},"skip_history":true,"tags":{"k":"v"},"idempotency_key":"ik","delta":true,"version":9,"version_epoch":"ve"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"offset":3,"epoch":"ep"}` {
		t.Fatalf("result %s", got)
	}
	want := apitest.Call{Method: "Publish", Channel: "c", Data: []byte(`{"x":1}`), Publish: engine.PublishOptions{
		SkipHistory: true, Tags: map[string]string{"k": "v"}, IdempotencyKey: "ik", Delta: true, Version: 9, VersionEpoch: "ve",
	}}
	if calls := eng.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Fatalf("calls %+v", calls)
	}
	eng.Reset()
	if _, err := call(t, e, "publish", `{"channel":"c","data":"ignored","b64data":"AAEC"}`); err != nil {
		t.Fatal(err)
	}
	if d := eng.Calls()[0].Data; string(d) != "\x00\x01\x02" {
		t.Fatalf("b64 data %q", d)
	}
}

func TestEngineErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code uint32
	}{
		{protocol.ErrUnknownChannel, 102},
		{protocol.ErrNotAvailable, 108},
		{fmt.Errorf("wrapped: %w", protocol.ErrUnrecoverablePosition), 112},
		{&protocol.Error{Code: 1500, Message: "custom"}, 1500},
		{broker.ErrNotAvailable, 108},
		{broker.ErrBadRequest, 107},
		{broker.ErrUnrecoverablePosition, 112},
		{errors.New("boom"), 100},
		{context.Canceled, 100},
	} {
		e, eng := newExec(t)
		eng.HistoryFunc = func(context.Context, string, broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
			return nil, broker.StreamPosition{}, tc.err
		}
		_, err := call(t, e, "history", `{"channel":"c"}`)
		wantCode(t, err, tc.code)
	}
}

func TestBroadcastOrderAndConcurrency(t *testing.T) {
	const n = 3000
	var inFlight, maxInFlight atomic.Int64
	eng := &apitest.Engine{NoRecord: true}
	release := make(chan struct{})
	var started atomic.Int64
	eng.PublishFunc = func(_ context.Context, ch string, _ []byte, _ engine.PublishOptions) (broker.PublishResult, error) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		if started.Add(1) == 1024 {
			close(release) // the first 1024 publishes run together
		}
		<-release
		var i int
		if _, err := fmt.Sscanf(ch, "ch%d", &i); err != nil {
			return broker.PublishResult{}, err
		}
		if i%7 == 0 {
			return broker.PublishResult{}, protocol.ErrUnknownChannel
		}
		return broker.PublishResult{Position: broker.StreamPosition{Offset: uint64(i)}}, nil
	}
	e := api.New(eng, api.Config{})
	req := &api.BroadcastRequest{Data: json.RawMessage(`1`)}
	for i := range n {
		req.Channels = append(req.Channels, fmt.Sprintf("ch%d", i))
	}
	req.Channels = append(req.Channels, "")
	res, perr := e.Broadcast(context.Background(), req)
	if perr != nil {
		t.Fatal(perr)
	}
	if got := maxInFlight.Load(); got != 1024 {
		t.Fatalf("max in flight %d, want 1024", got)
	}
	if len(res.Responses) != n+1 {
		t.Fatalf("%d responses", len(res.Responses))
	}
	for i := range n {
		r := res.Responses[i]
		if i%7 == 0 {
			if r.Error == nil || r.Error.Code != 102 || r.Result != nil {
				t.Fatalf("response %d: %+v", i, r)
			}
			continue
		}
		if r.Error != nil || r.Result == nil || r.Result.Offset != uint64(i) {
			t.Fatalf("response %d: %+v", i, r)
		}
	}
	if last := res.Responses[n]; last.Error == nil || last.Error.Code != 107 {
		t.Fatalf("empty channel response %+v", last)
	}
}

func TestBroadcastValidation(t *testing.T) {
	e, eng := newExec(t)
	for _, p := range []string{`{"data":1}`, `{"channels":[],"data":1}`, `{"channels":["a"]}`, `{"channels":["a"],"b64data":"!"}`} {
		_, err := call(t, e, "broadcast", p)
		wantCode(t, err, 107)
	}
	if len(eng.Calls()) != 0 {
		t.Fatal("engine called")
	}
	got, err := call(t, e, "broadcast", `{"channels":["a","b"],"data":{"x":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"responses":[{"result":{}},{"result":{}}]}` {
		t.Fatalf("result %s", got)
	}
}

func TestSubscribeMapping(t *testing.T) {
	e, eng := newExec(t)
	got, err := call(t, e, "subscribe", `{"channel":"c","user":"u","expire_at":100,"b64info":"AQ==","info":{"i":1},"client":"cl","data":{"d":2},"recover_since":{"offset":5,"epoch":"ep"},"override":{"presence":{"value":true},"join_leave":{"value":false},"force_recovery":{"value":true},"force_positioning":{},"force_push_join_leave":{"value":true}},"session":"s"}`)
	if err != nil || got != `{}` {
		t.Fatalf("result %s, %v", got, err)
	}
	tr, fa := true, false
	want := apitest.Call{Method: "Subscribe", Channel: "c", User: "u", Subscribe: engine.SubscribeOptions{
		ExpireAt: 100, ChanInfo: []byte{1}, Data: []byte(`{"d":2}`), RecoverSince: &broker.StreamPosition{Offset: 5, Epoch: "ep"},
		Override: engine.SubscribeOverride{Presence: &tr, JoinLeave: &fa, ForceRecovery: &tr, ForcePositioning: &fa, ForcePushJoinLeave: &tr},
		Client:   "cl", Session: "s",
	}}
	if calls := eng.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Fatalf("calls %+v\nwant %+v", calls, want)
	}
	// Anonymous user is allowed; empty channel is not.
	if _, err := call(t, e, "subscribe", `{"channel":"c"}`); err != nil {
		t.Fatal(err)
	}
	_, err = call(t, e, "subscribe", `{"user":"u"}`)
	wantCode(t, err, 107)
	_, err = call(t, e, "subscribe", `{"channel":"c","b64data":"*"}`)
	wantCode(t, err, 107)
}

func TestUnsubscribeDisconnectRefresh(t *testing.T) {
	e, eng := newExec(t)
	mustOK := func(method, params string) {
		t.Helper()
		got, err := call(t, e, method, params)
		if err != nil || got != `{}` {
			t.Fatalf("%s: %s, %v", method, got, err)
		}
	}
	mustOK("unsubscribe", `{"channel":"c","user":"","client":"cl","session":"s"}`)
	mustOK("disconnect", `{"user":"u"}`)
	mustOK("disconnect", `{"user":"u","disconnect":{"code":4000,"reason":"bye"},"client":"c","whitelist":["w1","w2"],"session":"s"}`)
	mustOK("refresh", `{"user":"u","client":"c","expired":true,"expire_at":7,"info":{"a":1},"session":"s"}`)
	want := []apitest.Call{
		{Method: "Unsubscribe", Channel: "c", Client: "cl", Session: "s"},
		{Method: "Disconnect", User: "u", Disconnect: protocol.DisconnectForceNoReconnect},
		{Method: "Disconnect", User: "u", Disconnect: protocol.Disconnect{Code: 4000, Reason: "bye"}, Client: "c", Session: "s", Whitelist: []string{"w1", "w2"}},
		{Method: "Refresh", User: "u", Client: "c", Session: "s", Expired: true, ExpireAt: 7, Info: []byte(`{"a":1}`)},
	}
	if calls := eng.Calls(); !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls %+v", calls)
	}
	for method, p := range map[string]string{
		"unsubscribe": `{"user":"u"}`, "disconnect": `{}`, "refresh": `{"client":"c"}`,
	} {
		_, err := call(t, e, method, p)
		wantCode(t, err, 107)
	}
}

func TestReadMethods(t *testing.T) {
	e, eng := newExec(t)
	eng.PresenceFunc = func(context.Context, string) (map[string]*broker.ClientInfo, error) {
		return map[string]*broker.ClientInfo{
			"c1": {User: "u1", Client: "c1", ConnInfo: []byte(`{"n":1}`), ChanInfo: []byte(`"x"`)},
			"c2": {User: "", Client: "c2", ConnInfo: []byte{0xff, 0x00}}, // binary info is dropped
		}, nil
	}
	eng.PresenceStatsFunc = func(context.Context, string) (broker.PresenceStats, error) {
		return broker.PresenceStats{NumClients: 0, NumUsers: 0}, nil
	}
	eng.ChannelsFunc = func(_ context.Context, pattern string) (map[string]int, error) {
		return map[string]int{"a": 2, "b": 1}, nil
	}
	eng.InfoFunc = func(context.Context) ([]engine.NodeInfo, error) {
		return []engine.NodeInfo{{UID: "id", Name: "n", Version: "v", NumClients: 1, NumUsers: 2, NumChannels: 3, NumSubs: 4, Uptime: 5}}, nil
	}
	for _, tc := range []struct{ method, params, want string }{
		{"presence", `{"channel":"c"}`, `{"presence":{"c1":{"user":"u1","client":"c1","conn_info":{"n":1},"chan_info":"x"},"c2":{"user":"","client":"c2"}}}`},
		{"presence_stats", `{"channel":"c"}`, `{"num_clients":0,"num_users":0}`},
		{"history", `{"channel":"c"}`, `{"publications":[],"epoch":"","offset":0}`},
		{"history_remove", `{"channel":"c"}`, `{}`},
		{"channels", `{"pattern":"*"}`, `{"channels":{"a":{"num_clients":2},"b":{"num_clients":1}}}`},
		{"channels", ``, `{"channels":{"a":{"num_clients":2},"b":{"num_clients":1}}}`},
		{"info", `{}`, `{"nodes":[{"uid":"id","name":"n","version":"v","num_clients":1,"num_users":2,"num_channels":3,"uptime":5,"num_subs":4}]}`},
	} {
		got, err := call(t, e, tc.method, tc.params)
		if err != nil || got != tc.want {
			t.Errorf("%s: %s, %v\nwant %s", tc.method, got, err, tc.want)
		}
	}
	for _, m := range []string{"presence", "presence_stats", "history", "history_remove"} {
		_, err := call(t, e, m, `{}`)
		wantCode(t, err, 107)
	}
	_, err := call(t, e, "rpc", `{"method":"x","params":{}}`)
	wantCode(t, err, 104)
	_, err = call(t, e, "nope", `{}`)
	if !errors.Is(err, api.ErrUnknownMethod) {
		t.Fatalf("unknown method: %v", err)
	}
	wantCode(t, err, 104)
}

func TestHistory(t *testing.T) {
	e, eng := newExec(t)
	eng.HistoryFunc = func(context.Context, string, broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
		return []*broker.Publication{
			{Offset: 1, Data: []byte(`{"a":1}`)},
			{Offset: 2, Data: []byte("\x00bin"), Tags: map[string]string{"t": "v"}, Info: &broker.ClientInfo{User: "u", Client: "c"}},
		}, broker.StreamPosition{Offset: 2, Epoch: "ep"}, nil
	}
	got, err := call(t, e, "history", `{"channel":"c","limit":-1,"since":{"offset":1,"epoch":"ep"},"reverse":true}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"publications":[{"data":{"a":1},"offset":1},{"info":{"user":"u","client":"c"},"offset":2,"tags":{"t":"v"}}],"epoch":"ep","offset":2}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	wantF := broker.HistoryFilter{Limit: -1, Reverse: true, Since: &broker.StreamPosition{Offset: 1, Epoch: "ep"}}
	if f := eng.Calls()[0].Filter; !reflect.DeepEqual(f, wantF) {
		t.Fatalf("filter %+v", f)
	}
	_, err = call(t, e, "history", `{"channel":"c","since":{"offset":0,"epoch":"ep"},"reverse":true}`)
	wantCode(t, err, 107)
	if len(eng.Calls()) != 1 {
		t.Fatal("engine called for invalid reverse history")
	}
}

func TestBatch(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprint("parallel=", parallel), func(t *testing.T) {
			e, eng := newExec(t)
			eng.PublishFunc = func(_ context.Context, ch string, _ []byte, _ engine.PublishOptions) (broker.PublishResult, error) {
				if ch == "bad" {
					return broker.PublishResult{}, protocol.ErrUnknownChannel
				}
				return broker.PublishResult{Position: broker.StreamPosition{Offset: 1, Epoch: "e"}}, nil
			}
			params := fmt.Sprintf(`{"parallel":%v,"commands":[
				{"publish":{"channel":"a","data":1}},
				{"publish":{"channel":"bad","data":1}},
				{},
				{"connections":{"user":"u"}},
				null,
				{"broadcast":{"channels":["x","y"],"data":1}},
				{"presence_stats":{"channel":"p"}},
				{"rpc":{"method":"m"}},
				{"subscribe":{"channel":"s","user":"u"}},
				{"history":{"channel":"h"}},
				{"info":{}}
			]}`, parallel)
			got, err := call(t, e, "batch", params)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"replies":[{"publish":{"offset":1,"epoch":"e"}},{"error":{"code":102,"message":"unknown channel"}},` +
				`{"error":{"code":104,"message":"not found"}},{"error":{"code":104,"message":"not found"}},` +
				`{"error":{"code":104,"message":"not found"}},` +
				`{"broadcast":{"responses":[{"result":{"offset":1,"epoch":"e"}},{"result":{"offset":1,"epoch":"e"}}]}},` +
				`{"presence_stats":{"num_clients":0,"num_users":0}},{"error":{"code":104,"message":"not found"}},` +
				`{"subscribe":{}},{"history":{"publications":[],"epoch":"","offset":0}},{"info":{"nodes":[]}}]}`
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
	e, _ := newExec(t)
	if got, err := call(t, e, "batch", `{}`); err != nil || got != `{"replies":[]}` {
		t.Fatalf("empty batch: %s, %v", got, err)
	}
}
