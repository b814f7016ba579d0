package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/timewheel"
)

// TokenVerifier verifies connection and subscription JWTs. It is
// implemented by *jwt.Verifier.
type TokenVerifier interface {
	VerifyConnectToken(ctx context.Context, token string) (jwt.ConnectToken, error)
	VerifySubscribeToken(ctx context.Context, token string) (jwt.SubscribeToken, error)
}

// Options configure a Node. Broker, Presence, Rules and Verifier are
// required; the rest have documented defaults.
type Options struct {
	// Client is the client section of the configuration (defaults applied).
	Client config.Client
	// RPC is the rpc section of the configuration.
	RPC config.RPC
	// ChannelDataFormat is channel.publication_data_format.
	ChannelDataFormat string
	Broker            broker.Broker
	Presence          broker.PresenceManager
	// Controller carries node-to-node control messages; nil means a single
	// node (API commands and info stay local).
	Controller broker.Controller
	Rules      *channel.Rules
	Verifier   TokenVerifier
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Version reported to clients, e.g. "0.1.0 Herald".
	Version string
	// Name of the node; empty means the node id.
	Name string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Node is the per-process engine: it owns the hub of local connections and
// subscribers, the broker and presence manager, and serves both clients and
// the server API.
type Node struct {
	id       string
	opts     Options
	log      *slog.Logger
	hub      *hub
	wheel    *timewheel.Wheel
	dispatch *dispatcher
	cluster  *cluster
	started  time.Time

	// cfg holds the reloadable parts (*runtimeConfig).
	cfg atomic.Pointer[runtimeConfig]

	closing   atomic.Bool
	clientsWG sync.WaitGroup
	// sessions holds every live session, connected or not (*Client → struct{}).
	sessions sync.Map
	// numSessions counts the entries of sessions.
	numSessions atomic.Int64
	// bySession indexes sessions of emulation and unidirectional transports
	// by session id (string → *Client).
	bySession sync.Map

	// subLocks serialise broker subscribe/unsubscribe per channel.
	subLocks [numHubShards]sync.Mutex
}

// runtimeConfig is the part of the configuration SIGHUP may replace.
type runtimeConfig struct {
	client   config.Client
	rpc      config.RPC
	rules    *channel.Rules
	verifier TokenVerifier
}

// New returns a Node; Start must be called before use.
func New(opts Options) (*Node, error) {
	if opts.Broker == nil || opts.Presence == nil || opts.Rules == nil || opts.Verifier == nil {
		return nil, errors.New("engine: Broker, Presence, Rules and Verifier are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = "0.0.0 Herald"
	}
	n := &Node{
		id:   uuid.NewString(),
		opts: opts,
		log:  opts.Logger,
		hub:  newHub(),
	}
	if n.opts.Name == "" {
		n.opts.Name = n.id
	}
	n.cluster = newCluster(n, opts.Controller)
	n.dispatch = newDispatcher(n.handleEvents)
	n.wheel = timewheel.New()
	n.cfg.Store(&runtimeConfig{client: opts.Client, rpc: opts.RPC, rules: opts.Rules, verifier: opts.Verifier})
	return n, nil
}

// ErrSessionNotFound is returned by HandleEmulation for an unknown session.
var ErrSessionNotFound = errors.New("session not found")

// HandleEmulation passes a command frame received through the emulation
// endpoint to the session it belongs to. Replies go out on the session's
// stream. It returns ErrSessionNotFound when the session is not on this node.
func (n *Node) HandleEmulation(ctx context.Context, session string, frame []byte) error {
	v, ok := n.bySession.Load(session)
	if !ok {
		return ErrSessionNotFound
	}
	v.(*Client).HandleFrame(frame)
	return nil
}

// NumSessions returns the number of live client sessions on this node,
// including those not yet connected.
func (n *Node) NumSessions() int { return int(n.numSessions.Load()) }

// ID returns the node's unique id.
func (n *Node) ID() string { return n.id }

// Start starts the broker with the node as its event handler.
func (n *Node) Start(ctx context.Context) error {
	n.started = n.opts.Now()
	if err := n.opts.Broker.Start(ctx, &brokerHandler{n: n}); err != nil {
		return err
	}
	return n.cluster.start(ctx)
}

// Reload replaces the reloadable configuration (channel rules, token
// verification, client and rpc options) used by new operations.
func (n *Node) Reload(c config.Client, rpc config.RPC, rules *channel.Rules, v TokenVerifier) {
	n.cfg.Store(&runtimeConfig{client: c, rpc: rpc, rules: rules, verifier: v})
}

func (n *Node) config() *runtimeConfig { return n.cfg.Load() }

func (n *Node) now() time.Time { return n.opts.Now() }

// Shutdown disconnects every client with 3001 shutdown (at most 128 at a
// time), then closes the broker and presence manager if they are Closers.
// New connections are refused from the first call. It is idempotent.
func (n *Node) Shutdown(ctx context.Context) error {
	n.closing.Store(true)
	n.cluster.shutdown(ctx)
	sem := make(chan struct{}, 128)
	var wg sync.WaitGroup
	var all []*Client
	n.sessions.Range(func(k, _ any) bool {
		all = append(all, k.(*Client))
		return true
	})
	for _, c := range all {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close(protocol.DisconnectShutdown)
		}(c)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		n.clientsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	var errs []error
	if c, ok := n.opts.Broker.(broker.Closer); ok {
		errs = append(errs, c.Close(ctx))
	}
	if c, ok := n.opts.Presence.(broker.Closer); ok && any(n.opts.Presence) != any(n.opts.Broker) {
		errs = append(errs, c.Close(ctx))
	}
	n.dispatch.stop()
	n.wheel.Close()
	return errors.Join(errs...)
}

// subscribeBroker subscribes the broker to ch when c is its first local
// subscriber. Serialised per channel shard with unsubscribeBroker.
func (n *Node) addSubscriber(ctx context.Context, ch string, c *Client, sub *subscription) error {
	mu := &n.subLocks[shardIndex(ch)]
	mu.Lock()
	defer mu.Unlock()
	if first := n.hub.addSub(ch, c, sub); first {
		if err := n.opts.Broker.Subscribe(ctx, ch); err != nil {
			n.hub.removeSub(ch, c)
			return err
		}
	}
	return nil
}

func (n *Node) removeSubscriber(ch string, c *Client) {
	mu := &n.subLocks[shardIndex(ch)]
	mu.Lock()
	defer mu.Unlock()
	if last := n.hub.removeSub(ch, c); last {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.opts.Broker.Unsubscribe(ctx, ch); err != nil {
			n.log.Error("broker unsubscribe", "channel", ch, "error", err)
		}
	}
}

// brokerHandler receives broker events and fans them out to local
// subscribers.
type brokerHandler struct{ n *Node }

func (h *brokerHandler) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition, useDelta bool, prev *broker.Publication) error {
	if h.n.hub.subCount(ch) == 0 {
		// Nobody here: no fan-out. A subscriber registering now reads the
		// stream after this publication was appended, so it loses nothing.
		return nil
	}
	if !useDelta {
		prev = nil
	}
	h.n.dispatch.dispatch(event{ch: ch, pub: pub, sp: sp, prev: prev})
	return nil
}

func (h *brokerHandler) HandleJoin(ch string, info *broker.ClientInfo) error {
	if h.n.hub.subCount(ch) == 0 {
		return nil
	}
	h.n.dispatch.dispatch(event{ch: ch, run: func() { h.n.fanoutJoinLeave(ch, info, true) }})
	return nil
}

func (h *brokerHandler) HandleLeave(ch string, info *broker.ClientInfo) error {
	if h.n.hub.subCount(ch) == 0 {
		return nil
	}
	h.n.dispatch.dispatch(event{ch: ch, run: func() { h.n.fanoutJoinLeave(ch, info, false) }})
	return nil
}
