package broker

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors callers branch on.
var (
	// ErrUnrecoverablePosition is returned by History when Since carries an
	// epoch that differs from the current stream epoch.
	ErrUnrecoverablePosition = errors.New("unrecoverable position")
	// ErrBadRequest is returned for requests that can never succeed, such as a
	// reverse history read with a zero Since offset.
	ErrBadRequest = errors.New("bad request")
	// ErrNotAvailable is returned when a capability is not provided by an
	// implementation (for example history on an at-most-once broker).
	ErrNotAvailable = errors.New("not available")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("broker closed")
)

// ClientInfo describes a connection subscribed to a channel. It is carried by
// client-side publications, join/leave events and presence entries.
type ClientInfo struct {
	User     string
	Client   string
	ConnInfo []byte // raw connection info (JSON or binary), may be nil
	ChanInfo []byte // raw channel info (JSON or binary), may be nil
}

// StreamPosition is a position in a channel history stream. The zero value
// means "no stream".
type StreamPosition struct {
	Offset uint64
	Epoch  string
}

// Publication is a message in a channel. A Publication is immutable once it
// has been handed to a Broker or to an EventHandler: it may be shared by many
// goroutines.
type Publication struct {
	// Offset in the channel history stream; zero when published without history.
	Offset uint64
	Data   []byte
	Info   *ClientInfo // publisher, set for client-side publications
	Tags   map[string]string
	// Time of publication in Unix milliseconds (used for lag metrics only).
	Time int64
	// Channel is the concrete channel when it differs from the subscription
	// channel (wildcard subscriptions). Empty otherwise.
	Channel string
}

// PublishOptions tune a single Publish call. The zero value publishes without
// history, without idempotency and without version checks.
type PublishOptions struct {
	// HistorySize is the maximum number of publications kept in the stream.
	// Zero (or HistoryTTL zero) means the publication is not kept in history.
	HistorySize int
	// HistoryTTL is how long publications are kept in the stream.
	HistoryTTL time.Duration
	// HistoryMetaTTL is how long stream meta (epoch, top offset, version) is
	// kept after the last publication or read. Zero means 30 days.
	HistoryMetaTTL time.Duration
	// ClientInfo of the publisher, if any.
	ClientInfo *ClientInfo
	// Tags attached to the publication.
	Tags map[string]string
	// IdempotencyKey, when non-empty, makes the publish idempotent within
	// IdempotentResultTTL: a repeated publish returns the first result and
	// does not publish again.
	IdempotencyKey string
	// IdempotentResultTTL is the lifetime of an idempotency key. Zero means 5 minutes.
	IdempotentResultTTL time.Duration
	// UseDelta asks the broker to deliver the previous publication of the
	// channel together with this one, so that subscribers may receive a delta.
	UseDelta bool
	// Version, when non-zero, suppresses the publication if it is not greater
	// than the last version seen with the same VersionEpoch. Needs history.
	Version      uint64
	VersionEpoch string
}

// PublishResult is what Publish returns on success.
type PublishResult struct {
	// Position of the publication in the stream (zero without history). For a
	// suppressed or idempotent-duplicate publish it is the current/first position.
	Position StreamPosition
	// Suppressed reports that the publication was not delivered because of
	// its version or because the idempotency key had already been used.
	Suppressed bool
}

// HistoryFilter selects publications from a stream.
type HistoryFilter struct {
	// Since is an exclusive position: forward reads return publications after
	// it, reverse reads publications before it. Nil means from the start
	// (forward) or from the top (reverse).
	Since *StreamPosition
	// Limit is the maximum number of publications: 0 returns only the stream
	// position, -1 returns all.
	Limit int
	// Reverse returns publications newest first.
	Reverse bool
}

// HistoryOptions tune a History call.
type HistoryOptions struct {
	Filter HistoryFilter
	// MetaTTL overrides the stream meta TTL refreshed by this read; zero means
	// the broker default (30 days).
	MetaTTL time.Duration
}

// EventHandler receives what a Broker delivers to this node. Methods are
// called from broker goroutines; for one channel they are called in the order
// the broker received the events (publications in offset order).
type EventHandler interface {
	// HandlePublication delivers a publication in ch. prev is the previous
	// publication of the channel when the publisher asked for delta (may be nil).
	HandlePublication(ch string, pub *Publication, sp StreamPosition, useDelta bool, prev *Publication) error
	// HandleJoin delivers a join event in ch.
	HandleJoin(ch string, info *ClientInfo) error
	// HandleLeave delivers a leave event in ch.
	HandleLeave(ch string, info *ClientInfo) error
}

// ResubscribeHandler is optionally implemented by an EventHandler. A broker
// whose PUB/SUB delivery can lose events while its connection is broken
// (Redis) calls HandleResubscribe after it subscribed channels again, so the
// node can check the stream positions of their subscribers at once instead
// of waiting for the periodic check.
type ResubscribeHandler interface {
	HandleResubscribe(channels []string)
}

// Broker moves publications and join/leave events between the nodes of a
// cluster and keeps per-channel history streams.
type Broker interface {
	// Start binds the broker to the node's event handler. It is called once,
	// before any other method.
	Start(ctx context.Context, h EventHandler) error
	// Subscribe makes this node receive events of ch. Subscribe on an already
	// subscribed channel is a no-op.
	Subscribe(ctx context.Context, ch string) error
	// Unsubscribe stops delivery of ch events to this node.
	Unsubscribe(ctx context.Context, ch string) error
	// Publish delivers data to all subscribers of ch on every node. With
	// history options, appending to the stream and delivering are one atomic
	// step per channel, so every node sees publications in offset order.
	Publish(ctx context.Context, ch string, data []byte, opts PublishOptions) (PublishResult, error)
	// PublishJoin delivers a join event (at most once, never stored).
	PublishJoin(ctx context.Context, ch string, info *ClientInfo) error
	// PublishLeave delivers a leave event (at most once, never stored).
	PublishLeave(ctx context.Context, ch string, info *ClientInfo) error
	// History reads the stream of ch. It always returns the current stream
	// position (creating the stream meta with a new epoch if none exists).
	// A Since with a different epoch gives ErrUnrecoverablePosition.
	History(ctx context.Context, ch string, opts HistoryOptions) ([]*Publication, StreamPosition, error)
	// RemoveHistory drops the publications of ch (the meta is kept).
	RemoveHistory(ctx context.Context, ch string) error
}

// Closer is implemented by brokers and presence managers that hold resources.
// Close must be idempotent.
type Closer interface {
	Close(ctx context.Context) error
}

// PresenceStats summarises a channel presence.
type PresenceStats struct {
	NumClients int
	NumUsers   int // distinct user ids; anonymous connections count as one
}

// PresenceManager keeps the set of connections subscribed to channels with
// presence enabled.
type PresenceManager interface {
	// AddPresence adds or refreshes the entry of clientID in ch.
	AddPresence(ctx context.Context, ch string, clientID string, info *ClientInfo) error
	// RemovePresence removes the entry of clientID (of user userID) from ch.
	RemovePresence(ctx context.Context, ch string, clientID string, userID string) error
	// Presence returns all entries of ch keyed by client id.
	Presence(ctx context.Context, ch string) (map[string]*ClientInfo, error)
	// PresenceStats returns counts for ch.
	PresenceStats(ctx context.Context, ch string) (PresenceStats, error)
}

// ControlHandler receives control messages published by other nodes (and by
// this node, for broadcast messages).
type ControlHandler interface {
	HandleControl(data []byte) error
}

// Controller carries node-to-node control messages: node heartbeats,
// cluster-wide subscribe/unsubscribe/disconnect/refresh and surveys.
type Controller interface {
	// StartControl binds the controller to the node; called once.
	StartControl(ctx context.Context, nodeID string, h ControlHandler) error
	// PublishControl sends data to every node when toNode is empty, or to the
	// node with that id.
	PublishControl(ctx context.Context, data []byte, toNode string) error
}
