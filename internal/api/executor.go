package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// DefaultMaxConcurrency is the default bound on concurrent engine calls made
// by one broadcast or one parallel batch.
const DefaultMaxConcurrency = 1024

// Config tunes an Executor. The zero value is usable.
type Config struct {
	// Logger receives engine errors reported to callers as 100 internal
	// server error. If nil, nothing is logged.
	Logger *slog.Logger
	// MaxConcurrency bounds the goroutines one broadcast or one parallel
	// batch runs at a time. Zero means DefaultMaxConcurrency.
	MaxConcurrency int
}

// Executor runs server API methods against an Engine. It is safe for
// concurrent use.
type Executor struct {
	engine         Engine
	logger         *slog.Logger
	maxConcurrency int
}

// New returns an Executor calling eng.
func New(eng Engine, cfg Config) *Executor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	return &Executor{engine: eng, logger: cfg.Logger, maxConcurrency: cfg.MaxConcurrency}
}

// Call runs the method named method (see ParseMethod) with JSON params;
// empty params mean {}. It is Do after ParseMethod, and returns
// ErrUnknownMethod for an unknown name.
func (e *Executor) Call(ctx context.Context, method string, params []byte) (any, error) {
	m, ok := ParseMethod(method)
	if !ok {
		return nil, ErrUnknownMethod
	}
	return e.Do(ctx, m, params)
}

// Do decodes params (JSON; empty means {}) into the request type of m, runs
// the method and returns its result: a pointer to the method's XxxResult
// type. On failure the result is nil and the error is ErrUnknownMethod, a
// *DecodeError or a *protocol.Error (convert with ProtocolError).
//
// Byte slices of the request (data, info) may alias params and may be
// retained by the Engine, so params must not be modified after Do.
func (e *Executor) Do(ctx context.Context, m Method, params []byte) (any, error) {
	switch m {
	case MethodPublish:
		var req PublishRequest
		if err := DecodePublishRequest(params, &req); err != nil {
			return nil, &DecodeError{Method: m, Err: err}
		}
		return result(e.Publish(ctx, &req))
	case MethodBroadcast:
		return call(ctx, m, params, e.Broadcast)
	case MethodSubscribe:
		return call(ctx, m, params, e.Subscribe)
	case MethodUnsubscribe:
		return call(ctx, m, params, e.Unsubscribe)
	case MethodDisconnect:
		return call(ctx, m, params, e.Disconnect)
	case MethodRefresh:
		return call(ctx, m, params, e.Refresh)
	case MethodPresence:
		return call(ctx, m, params, e.Presence)
	case MethodPresenceStats:
		return call(ctx, m, params, e.PresenceStats)
	case MethodHistory:
		return call(ctx, m, params, e.History)
	case MethodHistoryRemove:
		return call(ctx, m, params, e.HistoryRemove)
	case MethodChannels:
		return call(ctx, m, params, e.Channels)
	case MethodInfo:
		return call(ctx, m, params, e.Info)
	case MethodRPC:
		return call(ctx, m, params, e.RPC)
	case MethodBatch:
		return call(ctx, m, params, e.Batch)
	default:
		return nil, ErrUnknownMethod
	}
}

// call decodes params into a new Req and runs fn.
func call[Req, Res any](ctx context.Context, m Method, params []byte, fn func(context.Context, *Req) (*Res, *protocol.Error)) (any, error) {
	req := new(Req)
	if err := decodeParams(params, req); err != nil {
		return nil, &DecodeError{Method: m, Err: err}
	}
	return result(fn(ctx, req))
}

// result converts a typed method outcome, avoiding typed-nil interfaces.
func result[Res any](res *Res, err *protocol.Error) (any, error) {
	if err != nil {
		return nil, err
	}
	return res, nil
}

// decodeParams unmarshals params into v; empty (or blank) params leave v
// zero.
func decodeParams(params []byte, v any) error {
	if len(bytes.TrimSpace(params)) == 0 {
		return nil
	}
	return json.Unmarshal(params, v)
}

// payload returns the bytes of a raw JSON / base64 pair; b64 wins when set.
func payload(raw json.RawMessage, b64 string) ([]byte, *protocol.Error) {
	if b64 != "" {
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, protocol.ErrBadRequest
		}
		return data, nil
	}
	if len(raw) == 0 {
		return nil, nil
	}
	return raw, nil
}

// Publish publishes req.Data (or the decoded req.B64Data) into req.Channel.
// It fails with 107 when the channel is empty, when neither data nor b64data
// is set or when b64data is not valid base64.
func (e *Executor) Publish(ctx context.Context, req *PublishRequest) (*PublishResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	data, perr := payload(req.Data, req.B64Data)
	if perr != nil {
		return nil, perr
	}
	if len(data) == 0 {
		return nil, protocol.ErrBadRequest
	}
	return e.publish(ctx, req.Channel, data, engine.PublishOptions{
		SkipHistory:    req.SkipHistory,
		Tags:           req.Tags,
		IdempotencyKey: req.IdempotencyKey,
		Delta:          req.Delta,
		Version:        req.Version,
		VersionEpoch:   req.VersionEpoch,
	})
}

func (e *Executor) publish(ctx context.Context, ch string, data []byte, opts engine.PublishOptions) (*PublishResult, *protocol.Error) {
	res, err := e.engine.Publish(ctx, ch, data, opts)
	if err != nil {
		return nil, e.engineError(ctx, MethodPublish, ch, err)
	}
	return &PublishResult{Offset: res.Position.Offset, Epoch: res.Position.Epoch}, nil
}

// Broadcast publishes the same data into every channel of req.Channels,
// running at most Config.MaxConcurrency publishes at a time. The request
// fails with 107 when there are no channels or no data (or b64data is
// invalid); otherwise every channel gets its own response, in request order,
// an empty channel name giving a 107 response.
func (e *Executor) Broadcast(ctx context.Context, req *BroadcastRequest) (*BroadcastResult, *protocol.Error) {
	if len(req.Channels) == 0 {
		return nil, protocol.ErrBadRequest
	}
	data, perr := payload(req.Data, req.B64Data)
	if perr != nil {
		return nil, perr
	}
	if len(data) == 0 {
		return nil, protocol.ErrBadRequest
	}
	opts := engine.PublishOptions{
		SkipHistory:    req.SkipHistory,
		Tags:           req.Tags,
		IdempotencyKey: req.IdempotencyKey,
		Delta:          req.Delta,
		Version:        req.Version,
		VersionEpoch:   req.VersionEpoch,
	}
	responses := make([]PublishResponse, len(req.Channels))
	e.forEach(len(req.Channels), func(i int) {
		ch := req.Channels[i]
		if ch == "" {
			responses[i].Error = wireError(protocol.ErrBadRequest)
			return
		}
		res, perr := e.publish(ctx, ch, data, opts)
		if perr != nil {
			responses[i].Error = wireError(perr)
			return
		}
		responses[i].Result = res
	})
	return &BroadcastResult{Responses: responses}, nil
}

// forEach calls fn(i) for every i in [0, n), from at most e.maxConcurrency
// goroutines, and returns when all calls have returned.
func (e *Executor) forEach(n int, fn func(i int)) {
	workers := min(n, e.maxConcurrency)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Subscribe subscribes the connections of req.User (an empty user meaning
// anonymous connections; optionally only req.Client or req.Session) to
// req.Channel. It fails with 107 for an empty channel or invalid base64.
func (e *Executor) Subscribe(ctx context.Context, req *SubscribeRequest) (*SubscribeResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	info, perr := payload(req.Info, req.B64Info)
	if perr != nil {
		return nil, perr
	}
	data, perr := payload(req.Data, req.B64Data)
	if perr != nil {
		return nil, perr
	}
	opts := engine.SubscribeOptions{
		ExpireAt: req.ExpireAt,
		ChanInfo: info,
		Data:     data,
		Client:   req.Client,
		Session:  req.Session,
	}
	if req.RecoverSince != nil {
		opts.RecoverSince = &broker.StreamPosition{Offset: req.RecoverSince.Offset, Epoch: req.RecoverSince.Epoch}
	}
	if o := req.Override; o != nil {
		opts.Override = engine.SubscribeOverride{
			Presence:           boolValue(o.Presence),
			JoinLeave:          boolValue(o.JoinLeave),
			ForcePushJoinLeave: boolValue(o.ForcePushJoinLeave),
			ForceRecovery:      boolValue(o.ForceRecovery),
			ForcePositioning:   boolValue(o.ForcePositioning),
		}
	}
	if err := e.engine.Subscribe(ctx, req.User, req.Channel, opts); err != nil {
		return nil, e.engineError(ctx, MethodSubscribe, req.Channel, err)
	}
	return &SubscribeResult{}, nil
}

func boolValue(v *BoolValue) *bool {
	if v == nil {
		return nil
	}
	b := v.Value
	return &b
}

// Unsubscribe unsubscribes the connections of req.User (an empty user
// meaning anonymous connections; optionally only req.Client or req.Session)
// from req.Channel. It fails with 107 for an empty channel.
func (e *Executor) Unsubscribe(ctx context.Context, req *UnsubscribeRequest) (*UnsubscribeResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	if err := e.engine.Unsubscribe(ctx, req.User, req.Channel, req.Client, req.Session); err != nil {
		return nil, e.engineError(ctx, MethodUnsubscribe, req.Channel, err)
	}
	return &UnsubscribeResult{}, nil
}

// Disconnect disconnects the connections of req.User with req.Disconnect
// (3503 force disconnect when unset or with a zero code). It fails with 107
// for an empty user.
func (e *Executor) Disconnect(ctx context.Context, req *DisconnectRequest) (*DisconnectResult, *protocol.Error) {
	if req.User == "" {
		return nil, protocol.ErrBadRequest
	}
	d := protocol.DisconnectForceNoReconnect
	if req.Disconnect != nil && req.Disconnect.Code != 0 {
		d = protocol.Disconnect{Code: req.Disconnect.Code, Reason: req.Disconnect.Reason}
	}
	if err := e.engine.Disconnect(ctx, req.User, d, req.Client, req.Session, req.Whitelist); err != nil {
		return nil, e.engineError(ctx, MethodDisconnect, "", err)
	}
	return &DisconnectResult{}, nil
}

// Refresh updates the expiration time and info of req.User's connections or
// expires them. It fails with 107 for an empty user.
func (e *Executor) Refresh(ctx context.Context, req *RefreshRequest) (*RefreshResult, *protocol.Error) {
	if req.User == "" {
		return nil, protocol.ErrBadRequest
	}
	var info []byte
	if len(req.Info) > 0 {
		info = req.Info
	}
	if err := e.engine.Refresh(ctx, req.User, req.Client, req.Session, req.Expired, req.ExpireAt, info); err != nil {
		return nil, e.engineError(ctx, MethodRefresh, "", err)
	}
	return &RefreshResult{}, nil
}

// Presence returns the presence entries of req.Channel. It fails with 107
// for an empty channel.
func (e *Executor) Presence(ctx context.Context, req *PresenceRequest) (*PresenceResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	entries, err := e.engine.Presence(ctx, req.Channel)
	if err != nil {
		return nil, e.engineError(ctx, MethodPresence, req.Channel, err)
	}
	res := &PresenceResult{Presence: make(map[string]*ClientInfo, len(entries))}
	for id, info := range entries {
		if info == nil {
			continue
		}
		res.Presence[id] = clientInfo(info)
	}
	return res, nil
}

// PresenceStats returns the presence counters of req.Channel. It fails with
// 107 for an empty channel.
func (e *Executor) PresenceStats(ctx context.Context, req *PresenceStatsRequest) (*PresenceStatsResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	st, err := e.engine.PresenceStats(ctx, req.Channel)
	if err != nil {
		return nil, e.engineError(ctx, MethodPresenceStats, req.Channel, err)
	}
	return &PresenceStatsResult{NumClients: clampUint32(int64(st.NumClients)), NumUsers: clampUint32(int64(st.NumUsers))}, nil
}

// History reads the history of req.Channel. It fails with 107 for an empty
// channel and for a reverse read with a Since offset of zero.
func (e *Executor) History(ctx context.Context, req *HistoryRequest) (*HistoryResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	f := broker.HistoryFilter{Limit: int(req.Limit), Reverse: req.Reverse}
	if req.Since != nil {
		if req.Reverse && req.Since.Offset == 0 {
			return nil, protocol.ErrBadRequest
		}
		f.Since = &broker.StreamPosition{Offset: req.Since.Offset, Epoch: req.Since.Epoch}
	}
	pubs, pos, err := e.engine.History(ctx, req.Channel, f)
	if err != nil {
		return nil, e.engineError(ctx, MethodHistory, req.Channel, err)
	}
	res := &HistoryResult{Publications: make([]*Publication, 0, len(pubs)), Epoch: pos.Epoch, Offset: pos.Offset}
	for _, p := range pubs {
		if p == nil {
			continue
		}
		pub := &Publication{Data: rawJSON(p.Data), Offset: p.Offset, Tags: p.Tags}
		if p.Info != nil {
			pub.Info = clientInfo(p.Info)
		}
		res.Publications = append(res.Publications, pub)
	}
	return res, nil
}

// HistoryRemove drops the history publications of req.Channel. It fails
// with 107 for an empty channel.
func (e *Executor) HistoryRemove(ctx context.Context, req *HistoryRemoveRequest) (*HistoryRemoveResult, *protocol.Error) {
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	if err := e.engine.RemoveHistory(ctx, req.Channel); err != nil {
		return nil, e.engineError(ctx, MethodHistoryRemove, req.Channel, err)
	}
	return &HistoryRemoveResult{}, nil
}

// Channels returns the active channels matching req.Pattern.
func (e *Executor) Channels(ctx context.Context, req *ChannelsRequest) (*ChannelsResult, *protocol.Error) {
	chs, err := e.engine.Channels(ctx, req.Pattern)
	if err != nil {
		return nil, e.engineError(ctx, MethodChannels, "", err)
	}
	res := &ChannelsResult{Channels: make(map[string]*ChannelInfo, len(chs))}
	for ch, n := range chs {
		res.Channels[ch] = &ChannelInfo{NumClients: clampUint32(int64(n))}
	}
	return res, nil
}

// Info returns the nodes of the cluster.
func (e *Executor) Info(ctx context.Context, _ *InfoRequest) (*InfoResult, *protocol.Error) {
	nodes, err := e.engine.Info(ctx)
	if err != nil {
		return nil, e.engineError(ctx, MethodInfo, "", err)
	}
	res := &InfoResult{Nodes: make([]*NodeResult, 0, len(nodes))}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, &NodeResult{
			UID:         n.UID,
			Name:        n.Name,
			Version:     n.Version,
			NumClients:  clampUint32(int64(n.NumClients)),
			NumUsers:    clampUint32(int64(n.NumUsers)),
			NumChannels: clampUint32(int64(n.NumChannels)),
			Uptime:      clampUint32(n.Uptime),
			NumSubs:     clampUint32(int64(n.NumSubs)),
		})
	}
	return res, nil
}

// RPC always fails with 104 method not found: Herald registers no server API
// RPC extensions.
func (e *Executor) RPC(_ context.Context, _ *RPCRequest) (*RPCResult, *protocol.Error) {
	return nil, ErrNotFound
}

// Batch runs req.Commands, one after another or, with req.Parallel, at most
// Config.MaxConcurrency at a time, and returns one reply per command in
// command order. A command with no known method set gets a 104 reply.
func (e *Executor) Batch(ctx context.Context, req *BatchRequest) (*BatchResult, *protocol.Error) {
	replies := make([]*Reply, len(req.Commands))
	run := func(i int) { replies[i] = e.command(ctx, req.Commands[i]) }
	if req.Parallel {
		e.forEach(len(req.Commands), run)
	} else {
		for i := range req.Commands {
			run(i)
		}
	}
	return &BatchResult{Replies: replies}, nil
}

// command runs one batch command.
func (e *Executor) command(ctx context.Context, c *Command) *Reply {
	var (
		r    Reply
		perr *protocol.Error
	)
	switch {
	case c == nil:
		perr = ErrNotFound
	case c.Publish != nil:
		r.Publish, perr = e.Publish(ctx, c.Publish)
	case c.Broadcast != nil:
		r.Broadcast, perr = e.Broadcast(ctx, c.Broadcast)
	case c.Subscribe != nil:
		r.Subscribe, perr = e.Subscribe(ctx, c.Subscribe)
	case c.Unsubscribe != nil:
		r.Unsubscribe, perr = e.Unsubscribe(ctx, c.Unsubscribe)
	case c.Disconnect != nil:
		r.Disconnect, perr = e.Disconnect(ctx, c.Disconnect)
	case c.Presence != nil:
		r.Presence, perr = e.Presence(ctx, c.Presence)
	case c.PresenceStats != nil:
		r.PresenceStats, perr = e.PresenceStats(ctx, c.PresenceStats)
	case c.History != nil:
		r.History, perr = e.History(ctx, c.History)
	case c.HistoryRemove != nil:
		r.HistoryRemove, perr = e.HistoryRemove(ctx, c.HistoryRemove)
	case c.Info != nil:
		r.Info, perr = e.Info(ctx, c.Info)
	case c.RPC != nil:
		r.RPC, perr = e.RPC(ctx, c.RPC)
	case c.Refresh != nil:
		r.Refresh, perr = e.Refresh(ctx, c.Refresh)
	case c.Channels != nil:
		r.Channels, perr = e.Channels(ctx, c.Channels)
	default:
		perr = ErrNotFound
	}
	if perr != nil {
		return &Reply{Error: wireError(perr)}
	}
	return &r
}

// wireError converts a protocol error into its wire form.
func wireError(pe *protocol.Error) *Error {
	return &Error{Code: pe.Code, Message: pe.Message}
}

// WireError returns the wire form of err, converted with ProtocolError; nil
// for a nil err.
func WireError(err error) *Error {
	pe := ProtocolError(err)
	if pe == nil {
		return nil
	}
	return wireError(pe)
}

func clientInfo(info *broker.ClientInfo) *ClientInfo {
	return &ClientInfo{
		User:     info.User,
		Client:   info.Client,
		ConnInfo: rawJSON(info.ConnInfo),
		ChanInfo: rawJSON(info.ChanInfo),
	}
}

// rawJSON returns b as raw JSON, or nil when b is empty or not valid JSON
// (binary payloads cannot be embedded in a JSON document).
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}

func clampUint32(v int64) uint32 {
	switch {
	case v < 0:
		return 0
	case v > math.MaxUint32:
		return math.MaxUint32
	default:
		return uint32(v)
	}
}
