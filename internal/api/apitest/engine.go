// Package apitest provides a fake api.Engine for tests of the server API and
// its bindings.
package apitest

import (
	"context"
	"slices"
	"sync"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// Call records one Engine method call. Fields not taken by the method are
// zero.
type Call struct {
	Method     string // Engine method name, e.g. "Publish"
	Channel    string
	User       string
	Client     string
	Session    string
	Data       []byte
	Publish    engine.PublishOptions
	Subscribe  engine.SubscribeOptions
	Disconnect protocol.Disconnect
	Whitelist  []string
	Expired    bool
	ExpireAt   int64
	Info       []byte
	Filter     broker.HistoryFilter
	Pattern    string
}

// Engine is a fake api.Engine that records every call and answers with the
// matching XxxFunc hook, or with zero values and a nil error when the hook
// is nil. Set hooks before use; Engine is safe for concurrent use.
type Engine struct {
	PublishFunc       func(ctx context.Context, ch string, data []byte, opts engine.PublishOptions) (broker.PublishResult, error)
	SubscribeFunc     func(ctx context.Context, user, ch string, opts engine.SubscribeOptions) error
	UnsubscribeFunc   func(ctx context.Context, user, ch, client, session string) error
	DisconnectFunc    func(ctx context.Context, user string, d protocol.Disconnect, client, session string, whitelist []string) error
	RefreshFunc       func(ctx context.Context, user, client, session string, expired bool, expireAt int64, info []byte) error
	PresenceFunc      func(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error)
	PresenceStatsFunc func(ctx context.Context, ch string) (broker.PresenceStats, error)
	HistoryFunc       func(ctx context.Context, ch string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error)
	RemoveHistoryFunc func(ctx context.Context, ch string) error
	ChannelsFunc      func(ctx context.Context, pattern string) (map[string]int, error)
	InfoFunc          func(ctx context.Context) ([]engine.NodeInfo, error)

	// NoRecord disables call recording (for benchmarks).
	NoRecord bool

	mu    sync.Mutex
	calls []Call
}

var _ api.Engine = (*Engine)(nil)

// Calls returns a copy of the recorded calls, in call order.
func (e *Engine) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Reset forgets the recorded calls.
func (e *Engine) Reset() {
	e.mu.Lock()
	e.calls = nil
	e.mu.Unlock()
}

func (e *Engine) record(c Call) {
	if e.NoRecord {
		return
	}
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.mu.Unlock()
}

// Publish implements api.Engine.
func (e *Engine) Publish(ctx context.Context, ch string, data []byte, opts engine.PublishOptions) (broker.PublishResult, error) {
	e.record(Call{Method: "Publish", Channel: ch, Data: data, Publish: opts})
	if e.PublishFunc != nil {
		return e.PublishFunc(ctx, ch, data, opts)
	}
	return broker.PublishResult{}, nil
}

// Subscribe implements api.Engine.
func (e *Engine) Subscribe(ctx context.Context, user, ch string, opts engine.SubscribeOptions) error {
	e.record(Call{Method: "Subscribe", User: user, Channel: ch, Subscribe: opts})
	if e.SubscribeFunc != nil {
		return e.SubscribeFunc(ctx, user, ch, opts)
	}
	return nil
}

// Unsubscribe implements api.Engine.
func (e *Engine) Unsubscribe(ctx context.Context, user, ch, client, session string) error {
	e.record(Call{Method: "Unsubscribe", User: user, Channel: ch, Client: client, Session: session})
	if e.UnsubscribeFunc != nil {
		return e.UnsubscribeFunc(ctx, user, ch, client, session)
	}
	return nil
}

// Disconnect implements api.Engine.
func (e *Engine) Disconnect(ctx context.Context, user string, d protocol.Disconnect, client, session string, whitelist []string) error {
	e.record(Call{Method: "Disconnect", User: user, Disconnect: d, Client: client, Session: session, Whitelist: whitelist})
	if e.DisconnectFunc != nil {
		return e.DisconnectFunc(ctx, user, d, client, session, whitelist)
	}
	return nil
}

// Refresh implements api.Engine.
func (e *Engine) Refresh(ctx context.Context, user, client, session string, expired bool, expireAt int64, info []byte) error {
	e.record(Call{Method: "Refresh", User: user, Client: client, Session: session, Expired: expired, ExpireAt: expireAt, Info: info})
	if e.RefreshFunc != nil {
		return e.RefreshFunc(ctx, user, client, session, expired, expireAt, info)
	}
	return nil
}

// Presence implements api.Engine.
func (e *Engine) Presence(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error) {
	e.record(Call{Method: "Presence", Channel: ch})
	if e.PresenceFunc != nil {
		return e.PresenceFunc(ctx, ch)
	}
	return nil, nil
}

// PresenceStats implements api.Engine.
func (e *Engine) PresenceStats(ctx context.Context, ch string) (broker.PresenceStats, error) {
	e.record(Call{Method: "PresenceStats", Channel: ch})
	if e.PresenceStatsFunc != nil {
		return e.PresenceStatsFunc(ctx, ch)
	}
	return broker.PresenceStats{}, nil
}

// History implements api.Engine.
func (e *Engine) History(ctx context.Context, ch string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
	e.record(Call{Method: "History", Channel: ch, Filter: f})
	if e.HistoryFunc != nil {
		return e.HistoryFunc(ctx, ch, f)
	}
	return nil, broker.StreamPosition{}, nil
}

// RemoveHistory implements api.Engine.
func (e *Engine) RemoveHistory(ctx context.Context, ch string) error {
	e.record(Call{Method: "RemoveHistory", Channel: ch})
	if e.RemoveHistoryFunc != nil {
		return e.RemoveHistoryFunc(ctx, ch)
	}
	return nil
}

// Channels implements api.Engine.
func (e *Engine) Channels(ctx context.Context, pattern string) (map[string]int, error) {
	e.record(Call{Method: "Channels", Pattern: pattern})
	if e.ChannelsFunc != nil {
		return e.ChannelsFunc(ctx, pattern)
	}
	return nil, nil
}

// Info implements api.Engine.
func (e *Engine) Info(ctx context.Context) ([]engine.NodeInfo, error) {
	e.record(Call{Method: "Info"})
	if e.InfoFunc != nil {
		return e.InfoFunc(ctx)
	}
	return nil, nil
}
