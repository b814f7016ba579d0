package api

import (
	"context"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// Engine is the slice of the engine Node the server API consumes. Methods
// return *protocol.Error values (possibly wrapped) for application errors,
// such as protocol.ErrUnknownChannel or protocol.ErrNotAvailable; any other
// error is reported to API callers as 100 internal server error.
//
// Implementations must be safe for concurrent use: Broadcast and parallel
// batches call them from several goroutines at once.
type Engine interface {
	// Publish publishes data into ch using the namespace options of ch.
	Publish(ctx context.Context, ch string, data []byte, opts engine.PublishOptions) (broker.PublishResult, error)
	// Subscribe subscribes the connections of user (optionally only the
	// connection opts.Client or the session opts.Session) to ch on every
	// node. An empty user targets anonymous connections.
	Subscribe(ctx context.Context, user, ch string, opts engine.SubscribeOptions) error
	// Unsubscribe unsubscribes the connections of user (optionally only
	// client or session) from ch on every node. An empty user targets
	// anonymous connections.
	Unsubscribe(ctx context.Context, user, ch, client, session string) error
	// Disconnect disconnects the connections of user (optionally only client
	// or session) with d, keeping the client ids listed in whitelist.
	Disconnect(ctx context.Context, user string, d protocol.Disconnect, client, session string, whitelist []string) error
	// Refresh updates the expiration time and info of user connections, or
	// expires them when expired is true.
	Refresh(ctx context.Context, user, client, session string, expired bool, expireAt int64, info []byte) error
	// Presence returns the presence entries of ch keyed by client id.
	Presence(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error)
	// PresenceStats returns the presence counters of ch.
	PresenceStats(ctx context.Context, ch string) (broker.PresenceStats, error)
	// History reads the history stream of ch. It always returns the current
	// stream position.
	History(ctx context.Context, ch string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error)
	// RemoveHistory drops the publications kept in the history of ch.
	RemoveHistory(ctx context.Context, ch string) error
	// Channels returns the channels with at least one subscriber in the
	// cluster whose name matches pattern (empty matches all), with their
	// number of subscribed clients.
	Channels(ctx context.Context, pattern string) (map[string]int, error)
	// Info returns the nodes of the cluster known to this node.
	Info(ctx context.Context) ([]engine.NodeInfo, error)
}
