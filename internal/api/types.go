package api

import "encoding/json"

// The request and result types below mirror the messages of Centrifugo's
// api.proto in the JSON form used by the HTTP API: field names are the
// proto field names, data/info/params are raw JSON and binary payloads travel
// base64-encoded in the b64* siblings.

// Error is the wire form of an API error: {"code":N,"message":"..."}.
type Error struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

// StreamPosition is a position in a channel history stream.
type StreamPosition struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// PublishRequest is the request of the publish method. Data (raw JSON) or
// B64Data (base64 of arbitrary bytes) is required; B64Data wins when both
// are set.
type PublishRequest struct {
	Channel        string            `json:"channel"`
	Data           json.RawMessage   `json:"data,omitempty"`
	B64Data        string            `json:"b64data,omitempty"`
	SkipHistory    bool              `json:"skip_history,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Delta          bool              `json:"delta,omitempty"`
	Version        uint64            `json:"version,omitempty"`
	VersionEpoch   string            `json:"version_epoch,omitempty"`
}

// PublishResult is the result of the publish method. Offset and Epoch are
// zero (and omitted) when the channel keeps no history.
type PublishResult struct {
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
}

// BroadcastRequest is the request of the broadcast method: a publish of the
// same data into each of Channels.
type BroadcastRequest struct {
	Channels       []string          `json:"channels"`
	Data           json.RawMessage   `json:"data,omitempty"`
	B64Data        string            `json:"b64data,omitempty"`
	SkipHistory    bool              `json:"skip_history,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Delta          bool              `json:"delta,omitempty"`
	Version        uint64            `json:"version,omitempty"`
	VersionEpoch   string            `json:"version_epoch,omitempty"`
}

// PublishResponse is the outcome of one publish of a broadcast: exactly one
// of Error and Result is set.
type PublishResponse struct {
	Error  *Error         `json:"error,omitempty"`
	Result *PublishResult `json:"result,omitempty"`
}

// BroadcastResult is the result of the broadcast method: one response per
// requested channel, in request order.
type BroadcastResult struct {
	Responses []PublishResponse `json:"responses"`
}

// BoolValue is a boolean wrapped in an object, {"value":true}, used where
// api.proto distinguishes "unset" from false.
type BoolValue struct {
	Value bool `json:"value"`
}

// SubscribeOptionOverride overrides namespace options for one server-side
// subscription. Nil fields keep the namespace value.
type SubscribeOptionOverride struct {
	Presence           *BoolValue `json:"presence,omitempty"`
	JoinLeave          *BoolValue `json:"join_leave,omitempty"`
	ForceRecovery      *BoolValue `json:"force_recovery,omitempty"`
	ForcePositioning   *BoolValue `json:"force_positioning,omitempty"`
	ForcePushJoinLeave *BoolValue `json:"force_push_join_leave,omitempty"`
}

// SubscribeRequest is the request of the subscribe method (a server-side
// subscription of user's connections). An empty User targets anonymous
// connections.
type SubscribeRequest struct {
	Channel      string                   `json:"channel"`
	User         string                   `json:"user"`
	ExpireAt     int64                    `json:"expire_at,omitempty"`
	Info         json.RawMessage          `json:"info,omitempty"`
	B64Info      string                   `json:"b64info,omitempty"`
	Client       string                   `json:"client,omitempty"`
	Data         json.RawMessage          `json:"data,omitempty"`
	B64Data      string                   `json:"b64data,omitempty"`
	RecoverSince *StreamPosition          `json:"recover_since,omitempty"`
	Override     *SubscribeOptionOverride `json:"override,omitempty"`
	Session      string                   `json:"session,omitempty"`
}

// SubscribeResult is the (empty) result of the subscribe method.
type SubscribeResult struct{}

// UnsubscribeRequest is the request of the unsubscribe method. An empty User
// targets anonymous connections.
type UnsubscribeRequest struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
	Client  string `json:"client,omitempty"`
	Session string `json:"session,omitempty"`
}

// UnsubscribeResult is the (empty) result of the unsubscribe method.
type UnsubscribeResult struct{}

// Disconnect is the disconnect code and reason sent to clients.
type Disconnect struct {
	Code   uint32 `json:"code"`
	Reason string `json:"reason"`
}

// DisconnectRequest is the request of the disconnect method. A nil (or zero
// code) Disconnect means 3503 "force disconnect". User is required.
type DisconnectRequest struct {
	User       string      `json:"user"`
	Disconnect *Disconnect `json:"disconnect,omitempty"`
	Client     string      `json:"client,omitempty"`
	Whitelist  []string    `json:"whitelist,omitempty"`
	Session    string      `json:"session,omitempty"`
}

// DisconnectResult is the (empty) result of the disconnect method.
type DisconnectResult struct{}

// RefreshRequest is the request of the refresh method. User is required.
type RefreshRequest struct {
	User     string          `json:"user"`
	Client   string          `json:"client,omitempty"`
	Expired  bool            `json:"expired,omitempty"`
	ExpireAt int64           `json:"expire_at,omitempty"`
	Info     json.RawMessage `json:"info,omitempty"`
	Session  string          `json:"session,omitempty"`
}

// RefreshResult is the (empty) result of the refresh method.
type RefreshResult struct{}

// PresenceRequest is the request of the presence method.
type PresenceRequest struct {
	Channel string `json:"channel"`
}

// ClientInfo describes a connection in presence results and publications.
// User and Client are always present; ConnInfo and ChanInfo are raw JSON,
// omitted when empty (or when the stored info is not valid JSON, as with
// binary info set by Protobuf connections).
type ClientInfo struct {
	User     string          `json:"user"`
	Client   string          `json:"client"`
	ConnInfo json.RawMessage `json:"conn_info,omitempty"`
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

// PresenceResult is the result of the presence method, keyed by client id.
// Presence is never nil, so it encodes as {} when the channel is empty.
type PresenceResult struct {
	Presence map[string]*ClientInfo `json:"presence"`
}

// PresenceStatsRequest is the request of the presence_stats method.
type PresenceStatsRequest struct {
	Channel string `json:"channel"`
}

// PresenceStatsResult is the result of the presence_stats method.
type PresenceStatsResult struct {
	NumClients uint32 `json:"num_clients"`
	NumUsers   uint32 `json:"num_users"`
}

// HistoryRequest is the request of the history method. Limit 0 returns only
// the stream position, -1 all publications, N at most N. Since is exclusive;
// Reverse with a Since offset of zero is a bad request.
type HistoryRequest struct {
	Channel string          `json:"channel"`
	Limit   int32           `json:"limit,omitempty"`
	Since   *StreamPosition `json:"since,omitempty"`
	Reverse bool            `json:"reverse,omitempty"`
}

// Publication is a publication in history results. Data is raw JSON; it is
// omitted when the stored payload is not valid JSON (binary publications).
type Publication struct {
	Data   json.RawMessage   `json:"data,omitempty"`
	Info   *ClientInfo       `json:"info,omitempty"`
	Offset uint64            `json:"offset,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// HistoryResult is the result of the history method. All three fields are
// always present; Publications encodes as [] when empty.
type HistoryResult struct {
	Publications []*Publication `json:"publications"`
	Epoch        string         `json:"epoch"`
	Offset       uint64         `json:"offset"`
}

// HistoryRemoveRequest is the request of the history_remove method.
type HistoryRemoveRequest struct {
	Channel string `json:"channel"`
}

// HistoryRemoveResult is the (empty) result of the history_remove method.
type HistoryRemoveResult struct{}

// ChannelsRequest is the request of the channels method. Pattern is a glob
// (gobwas/glob syntax); empty matches every channel.
type ChannelsRequest struct {
	Pattern string `json:"pattern,omitempty"`
}

// ChannelInfo describes one channel in channels results.
type ChannelInfo struct {
	NumClients uint32 `json:"num_clients"`
}

// ChannelsResult is the result of the channels method. Channels is never nil.
type ChannelsResult struct {
	Channels map[string]*ChannelInfo `json:"channels"`
}

// InfoRequest is the (empty) request of the info method.
type InfoRequest struct{}

// NodeResult describes one node in info results.
type NodeResult struct {
	UID         string `json:"uid"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	NumClients  uint32 `json:"num_clients"`
	NumUsers    uint32 `json:"num_users"`
	NumChannels uint32 `json:"num_channels"`
	Uptime      uint32 `json:"uptime"`
	NumSubs     uint32 `json:"num_subs"`
}

// InfoResult is the result of the info method. Nodes is never nil.
type InfoResult struct {
	Nodes []*NodeResult `json:"nodes"`
}

// RPCRequest is the request of the rpc method. Herald registers no RPC
// extensions, so every call fails with 104 method not found.
type RPCRequest struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// RPCResult is the result of the rpc method; it is never returned.
type RPCResult struct {
	Data json.RawMessage `json:"data,omitempty"`
}

// Command is one command of a batch: exactly one field should be set. When
// several are set the first in api.proto field order is executed; when none
// is (including commands for methods Herald does not implement) the reply is
// 104 method not found.
type Command struct {
	Publish       *PublishRequest       `json:"publish,omitempty"`
	Broadcast     *BroadcastRequest     `json:"broadcast,omitempty"`
	Subscribe     *SubscribeRequest     `json:"subscribe,omitempty"`
	Unsubscribe   *UnsubscribeRequest   `json:"unsubscribe,omitempty"`
	Disconnect    *DisconnectRequest    `json:"disconnect,omitempty"`
	Presence      *PresenceRequest      `json:"presence,omitempty"`
	PresenceStats *PresenceStatsRequest `json:"presence_stats,omitempty"`
	History       *HistoryRequest       `json:"history,omitempty"`
	HistoryRemove *HistoryRemoveRequest `json:"history_remove,omitempty"`
	Info          *InfoRequest          `json:"info,omitempty"`
	RPC           *RPCRequest           `json:"rpc,omitempty"`
	Refresh       *RefreshRequest       `json:"refresh,omitempty"`
	Channels      *ChannelsRequest      `json:"channels,omitempty"`
}

// Reply is the outcome of one batch command: Error, or the result field
// named after the command's method.
type Reply struct {
	Error         *Error               `json:"error,omitempty"`
	Publish       *PublishResult       `json:"publish,omitempty"`
	Broadcast     *BroadcastResult     `json:"broadcast,omitempty"`
	Subscribe     *SubscribeResult     `json:"subscribe,omitempty"`
	Unsubscribe   *UnsubscribeResult   `json:"unsubscribe,omitempty"`
	Disconnect    *DisconnectResult    `json:"disconnect,omitempty"`
	Presence      *PresenceResult      `json:"presence,omitempty"`
	PresenceStats *PresenceStatsResult `json:"presence_stats,omitempty"`
	History       *HistoryResult       `json:"history,omitempty"`
	HistoryRemove *HistoryRemoveResult `json:"history_remove,omitempty"`
	Info          *InfoResult          `json:"info,omitempty"`
	RPC           *RPCResult           `json:"rpc,omitempty"`
	Refresh       *RefreshResult       `json:"refresh,omitempty"`
	Channels      *ChannelsResult      `json:"channels,omitempty"`
}

// BatchRequest is the request of the batch method. Commands run one after
// another unless Parallel is set.
type BatchRequest struct {
	Commands []*Command `json:"commands"`
	Parallel bool       `json:"parallel,omitempty"`
}

// BatchResult is the result of the batch method: one reply per command, in
// command order.
type BatchResult struct {
	Replies []*Reply `json:"replies"`
}
