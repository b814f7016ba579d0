package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/timewheel"
	"github.com/heraldrt/herald/internal/uring"
)

type clientState uint8

const (
	stateConnecting clientState = iota
	stateConnected
	stateFailed // connect failed: no further commands are processed
	stateClosed
)

// maxPendingBuffer bounds the events held while a subscription is
// being established; more means the subscriber cannot keep up (3008).
const maxPendingBuffer = 10000

// Client is one client connection's session. Its exported methods are safe
// for concurrent use.
type Client struct {
	// What a fan-out's delivery reads comes first and together (with the
	// writer's own hot fields at its start), so that delivering to a
	// client whose state is not in the cache costs few cache lines.
	mu    sync.Mutex    // guards the fields from state on; see LOCKING.md
	proto protocol.Type // t.Protocol(), read per delivery without a call into t
	uni   bool          // t.Unidirectional()
	w     writer

	node    *Node
	t       Transport
	ctx     context.Context
	id      string
	session string

	frameMu sync.Mutex // serialises HandleFrame

	state       clientState // this field and those below: guarded by mu
	user        string
	connInfo    []byte
	name        string
	version     string
	expireAt    int64 // unix seconds; 0 = never
	subs        map[string]*subscription
	pongPending bool
	pingTimer   timewheel.Timer // the wheel's timers, held by value: no allocation each
	pongTimer   timewheel.Timer
	staleTimer  timewheel.Timer
	expireTimer *time.Timer
	closeTimer  *time.Timer
	maintTimer  timewheel.Timer

	closeOnce sync.Once
}

// subscription is a connection's subscription to one channel. Fields above
// the separator are immutable once the subscription is created; the rest
// are guarded by Client.mu.
type subscription struct {
	// live reports whether the subscription is in its client's subs map
	// (c.subs[ch] == sub); guarded by the client's mu like the map.
	live          bool
	serverSide    bool
	positioned    bool
	recoverable   bool
	presence      bool
	joinLeave     bool
	pushJoinLeave bool
	delta         bool // Fossil delta compression negotiated
	chanInfo      []byte

	deltaReady    bool           // the client holds the previous payload (delta)
	lastCheck     time.Time      // last stream position check
	suspectOffset uint64         // stream top seen ahead of the client at the last check
	pending       bool           // subscribe reply not yet queued
	buffer        []pendingEvent // publications, joins and leaves received while pending
	offset        uint64         // last delivered offset (positioned)
	epoch         string         // stream epoch (positioned)
	expireAt      int64          // unix seconds; 0 = never
	timer         *time.Timer    // expiry check
}

// pendingEvent is a publication, or a join or leave push (push set),
// received while its subscription was pending.
type pendingEvent struct {
	pub  *broker.Publication
	sp   broker.StreamPosition
	push *preparedPush
}

var (
	pingJSON     = []byte("{}")
	pingProtobuf = []byte{}
)

// NewClient starts a session for a new connection on t. ctx carries the
// RequestInfo and should live as long as the connection. It fails with
// protocol.DisconnectShutdown when the node is shutting down.
func (n *Node) NewClient(ctx context.Context, t Transport) (*Client, error) {
	if n.closing.Load() {
		return nil, protocol.DisconnectShutdown
	}
	cfg := n.config()
	c := &Client{
		node:  n,
		t:     t,
		proto: t.Protocol(),
		uni:   t.Unidirectional(),
		ctx:   ctx,
		id:    uuid.NewString(),
		subs:  make(map[string]*subscription),
	}
	if t.Emulation() || c.uni {
		c.session = uuid.NewString()
		n.bySession.Store(c.session, c)
	}
	c.w.init(writerConfig{
		maxSize:  cfg.client.QueueMaxSize,
		maxBatch: cfg.client.MaxMessagesInFrame,
		delay:    cfg.client.WriteDelay,
	}, t.WriteMany, func(error) {
		go c.Close(protocol.DisconnectWriteError)
	})
	if tw, ok := t.(TryWriter); ok {
		c.w.tryWrite = tw.TryWriteMany
		if bw, ok := t.(BatchWriter); ok {
			c.w.batch = bw
		}
	}
	n.clientsWG.Add(1)
	n.sessions.Store(c, struct{}{})
	n.numSessions.Add(1)
	if n.closing.Load() { // Shutdown started after the first check
		c.Close(protocol.DisconnectShutdown)
		return nil, protocol.DisconnectShutdown
	}
	if d := cfg.client.StaleCloseDelay; d > 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		n.wheel.Start(&c.staleTimer, d, c.checkStale)
	}
	return c, nil
}

// ID returns the client id.
func (c *Client) ID() string { return c.id }

// Session returns the session id (emulation and unidirectional transports).
func (c *Client) Session() string { return c.session }

// HandleFrame processes one transport frame of commands. It returns false
// when the connection is closed or must stop reading.
func (c *Client) HandleFrame(frame []byte) bool {
	// Frames of one connection are processed one at a time, even when an
	// emulation transport receives them on concurrent requests.
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	switch state {
	case stateClosed:
		return false
	case stateFailed:
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	cmds, err := protocol.DecodeCommands(c.proto, frame)
	if err != nil {
		c.node.log.Debug("malformed frame", "client", c.id, "error", err)
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	for _, cmd := range cmds {
		if !c.handleCommand(cmd) {
			return false
		}
	}
	return true
}

// handleCommand dispatches one command; it returns false when the
// connection was closed.
func (c *Client) handleCommand(cmd *pb.Command) bool {
	if cmd.Id == 0 && cmd.Send == nil {
		return c.handlePong()
	}
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	if state == stateConnecting && cmd.Connect == nil {
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	if state != stateConnecting && cmd.Connect != nil {
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	if state != stateConnecting && state != stateConnected {
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	reply := &pb.Reply{Id: cmd.Id}
	var err error
	switch {
	case cmd.Connect != nil:
		return c.handleConnect(cmd.Id, cmd.Connect)
	case cmd.Subscribe != nil:
		return c.handleSubscribe(cmd.Id, cmd.Subscribe)
	case cmd.Unsubscribe != nil:
		err = c.handleUnsubscribe(cmd.Unsubscribe)
		reply.Unsubscribe = &pb.UnsubscribeResult{}
	case cmd.Publish != nil:
		err = c.handlePublish(cmd.Publish)
		reply.Publish = &pb.PublishResult{}
	case cmd.Presence != nil:
		reply.Presence, err = c.handlePresence(cmd.Presence)
	case cmd.PresenceStats != nil:
		reply.PresenceStats, err = c.handlePresenceStats(cmd.PresenceStats)
	case cmd.History != nil:
		reply.History, err = c.handleHistory(cmd.History)
	case cmd.Rpc != nil:
		reply.Rpc, err = c.handleRPC(cmd.Rpc)
	case cmd.Refresh != nil:
		reply.Refresh, err = c.handleRefresh(cmd.Refresh)
	case cmd.SubRefresh != nil:
		reply.SubRefresh, err = c.handleSubRefresh(cmd.SubRefresh)
	case cmd.Send != nil:
		// No message handler is installed: like Centrifugo OSS.
		c.Close(protocol.DisconnectNotAvailable)
		return false
	default:
		// Includes the ping command, which is defined but not served.
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	return c.finishCommand(reply, err)
}

// finishCommand sends reply, or the error err: an error reply for
// *protocol.Error, a disconnect for protocol.Disconnect, 100 otherwise.
func (c *Client) finishCommand(reply *pb.Reply, err error) bool {
	if err != nil {
		var d protocol.Disconnect
		if errors.As(err, &d) {
			c.Close(d)
			return false
		}
		pe := toClientError(err)
		if pe == protocol.ErrInternal {
			c.node.log.Error("command failed", "client", c.id, "user", c.user, "error", err)
		}
		reply = &pb.Reply{Id: reply.Id, Error: &pb.Error{Code: pe.Code, Message: pe.Message, Temporary: pe.Temporary}}
	}
	return c.sendReply(reply)
}

func toClientError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, broker.ErrUnrecoverablePosition):
		return protocol.ErrUnrecoverablePosition
	case errors.Is(err, broker.ErrBadRequest):
		return protocol.ErrBadRequest
	case errors.Is(err, broker.ErrNotAvailable):
		return protocol.ErrNotAvailable
	}
	return protocol.ErrInternal
}

// sendReply encodes and queues r; it returns false if the connection was
// closed as a result.
func (c *Client) sendReply(r *pb.Reply) bool {
	data, err := protocol.EncodeReply(c.proto, r)
	if err != nil {
		c.Close(protocol.DisconnectInappropriateProtocol)
		return false
	}
	return c.enqueue(data)
}

// sendPush encodes and queues a push outside any fan-out.
func (c *Client) sendPush(push *pb.Push) bool {
	data, err := encodePush(c.proto, c.uni, push)
	if err != nil {
		go c.Close(protocol.DisconnectInappropriateProtocol)
		return false
	}
	return c.enqueue(data)
}

func (c *Client) enqueue(data []byte) bool {
	if !c.w.enqueue(data, false) {
		go c.Close(protocol.DisconnectSlow)
		return false
	}
	return true
}

// handlePong processes an empty command (pong).
func (c *Client) handlePong() bool {
	c.mu.Lock()
	if c.state != stateConnected || !c.pongPending {
		c.mu.Unlock()
		c.Close(protocol.DisconnectBadRequest)
		return false
	}
	c.pongPending = false
	c.pongTimer.Stop()
	c.mu.Unlock()
	return true
}

// schedulePing starts the ping cycle after a successful connect.
// Precondition: c.mu held.
func (c *Client) schedulePingLocked() {
	interval := c.node.config().client.PingInterval
	if interval <= 0 {
		return
	}
	first := interval/2 + time.Duration(rand.Int64N(int64(interval/2)+1))
	c.node.wheel.Start(&c.pingTimer, first, c.sendPing)
}

func (c *Client) sendPing() {
	cfg := c.node.config().client
	c.mu.Lock()
	if c.state != stateConnected {
		c.mu.Unlock()
		return
	}
	expectPong := cfg.PongTimeout > 0 && !c.uni
	if expectPong && !c.pongPending {
		c.pongPending = true
		if !c.pongTimer.Bound() {
			c.node.wheel.Start(&c.pongTimer, cfg.PongTimeout, c.checkPong)
		} else {
			c.pongTimer.Reset(cfg.PongTimeout)
		}
	}
	c.pingTimer.Reset(cfg.PingInterval) // the timer that called sendPing
	c.mu.Unlock()
	ping := pingJSON
	if c.proto == protocol.TypeProtobuf {
		ping = pingProtobuf
	}
	c.enqueue(ping)
}

// checkStale is the stale timer's callback: a connection that has not
// sent its connect command in time is closed.
func (c *Client) checkStale() {
	c.mu.Lock()
	stale := c.state == stateConnecting
	c.mu.Unlock()
	if stale {
		go c.Close(protocol.DisconnectStale) // never block the wheel
	}
}

// checkPong is the pong timer's callback: a ping still unanswered
// disconnects the client.
func (c *Client) checkPong() {
	c.mu.Lock()
	missed := c.pongPending && c.state == stateConnected
	c.mu.Unlock()
	if missed {
		go c.Close(protocol.DisconnectNoPong) // never block the wheel
	}
}

// Close ends the session with d: subscriptions are removed (with leave
// events and presence cleanup), queued messages are flushed unless d is
// 3000 or 3008, and the transport is closed. Transports call it with
// protocol.DisconnectConnectionClosed when the connection is lost. Close is
// idempotent.
func (c *Client) Close(d protocol.Disconnect) {
	c.closeOnce.Do(func() { c.close(d) })
}

func (c *Client) close(d protocol.Disconnect) {
	c.mu.Lock()
	wasConnected := c.state == stateConnected
	c.state = stateClosed
	subs := c.subs
	c.subs = nil
	for _, sub := range subs {
		sub.live = false // as removeSubLocked, for the whole map
	}
	c.staleTimer.Stop()
	for _, t := range []*time.Timer{c.expireTimer, c.closeTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.pingTimer.Stop()
	c.pongTimer.Stop()
	c.maintTimer.Stop()
	for _, sub := range subs {
		if sub.timer != nil {
			sub.timer.Stop()
		}
	}
	c.mu.Unlock()

	for ch, sub := range subs {
		c.node.removeSubscriber(ch, c)
		c.cleanupSubscription(ch, sub)
	}
	if wasConnected {
		c.node.hub.removeConn(c)
	}
	c.w.close(d.Code != protocol.DisconnectConnectionClosed.Code && d.Code != protocol.DisconnectSlow.Code)
	if err := c.t.Close(d); err != nil {
		c.node.log.Debug("transport close", "client", c.id, "error", err)
	}
	if d.Code != protocol.DisconnectConnectionClosed.Code {
		c.node.log.Debug("client disconnected", "client", c.id, "user", c.user, "code", d.Code, "reason", d.Reason)
	}
	c.node.sessions.Delete(c)
	c.node.numSessions.Add(-1)
	if c.session != "" {
		c.node.bySession.Delete(c.session)
	}
	c.node.clientsWG.Done()
}

// cleanupSubscription removes presence and publishes leave for a removed
// subscription. Must be called without c.mu held.
func (c *Client) cleanupSubscription(ch string, sub *subscription) {
	if !sub.presence && !sub.joinLeave {
		return // nothing to tell: no context (and its timer) either
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if sub.presence {
		if err := c.node.opts.Presence.RemovePresence(ctx, ch, c.id, c.user); err != nil {
			c.node.log.Error("remove presence", "channel", ch, "client", c.id, "error", err)
		}
	}
	if sub.joinLeave {
		if err := c.node.opts.Broker.PublishLeave(ctx, ch, c.clientInfo(sub.chanInfo)); err != nil {
			c.node.log.Error("publish leave", "channel", ch, "client", c.id, "error", err)
		}
	}
}

func (c *Client) clientInfo(chanInfo []byte) *broker.ClientInfo {
	return &broker.ClientInfo{User: c.user, Client: c.id, ConnInfo: c.connInfo, ChanInfo: chanInfo}
}

// addSubLocked records sub as the subscription of ch. With removeSubLocked
// it keeps sub.live equal to c.subs[ch] == sub, which the delivery path
// reads without a map lookup. Precondition: c.mu held.
func (c *Client) addSubLocked(ch string, sub *subscription) {
	c.subs[ch] = sub
	sub.live = true
}

// removeSubLocked removes sub if it is the subscription of ch, and reports
// whether it was. Precondition: c.mu held.
func (c *Client) removeSubLocked(ch string, sub *subscription) bool {
	if c.subs == nil || c.subs[ch] != sub {
		return false
	}
	delete(c.subs, ch)
	sub.live = false
	return true
}

// insufficientState ends a subscription whose stream has a gap: unsubscribe
// 2500 for client-side subscriptions (the SDK resubscribes and recovers),
// disconnect 3010 for server-side ones.
func (c *Client) insufficientState(ch string, sub *subscription) {
	if sub.serverSide {
		c.Close(protocol.DisconnectInsufficientState)
		return
	}
	c.unsubscribe(ch, sub, &protocol.UnsubscribeInsufficientState)
}

// deliverJoinLeave queues the join or leave push pp of ch for sub, through
// the fan-out's batch b when not nil (not Full).
func (c *Client) deliverJoinLeave(ch string, sub *subscription, pp *preparedPush, b *uring.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !sub.live {
		return
	}
	if sub.pending {
		c.holdLocked(sub, pendingEvent{push: pp}) // queued after the subscribe reply
		return
	}
	c.queuePushLocked(pp, true, b)
}

// queuePushLocked queues the prepared push pp (a join or leave) for c,
// through b when not nil; a push c cannot take closes it. It reports
// whether pp was queued. Precondition: c.mu held.
func (c *Client) queuePushLocked(pp *preparedPush, delayable bool, b *uring.Batch) bool {
	data, err := pp.get(c.proto, c.uni)
	if err != nil {
		go c.Close(protocol.DisconnectInappropriateProtocol)
		return false
	}
	if !c.w.enqueueIn(data, delayable, b) {
		go c.Close(protocol.DisconnectSlow)
		return false
	}
	return true
}

// holdLocked keeps e for sub until activate, in arrival order; a pending
// subscription holding maxPendingBuffer events closes c as slow. It
// reports whether e was kept. Precondition: c.mu held, sub pending.
func (c *Client) holdLocked(sub *subscription, e pendingEvent) bool {
	if len(sub.buffer) >= maxPendingBuffer {
		go c.Close(protocol.DisconnectSlow)
		return false
	}
	sub.buffer = append(sub.buffer, e)
	return true
}

// activate ends the pending phase of sub after its subscribe reply (or
// connect reply) was queued: buffered publications newer than the position
// the client already has, and joins and leaves, are queued in order, as
// their fan-out would have queued them (held for client.write_delay).
func (c *Client) activate(ch string, sub *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[ch] != sub {
		return
	}
	buf := sub.buffer
	sub.buffer = nil
	sub.pending = false
	for _, p := range buf {
		if p.push != nil {
			if !c.queuePushLocked(p.push, true, nil) {
				return
			}
			continue
		}
		data, more := c.preparePublicationLocked(ch, sub, p.pub, p.sp, newPreparedPush(ch, p.pub, nil))
		if data != nil && !c.w.enqueue(data, true) {
			go c.Close(protocol.DisconnectSlow)
			return
		}
		if !more {
			return // the subscription ended (insufficient state, or a failed encoding)
		}
	}
}
