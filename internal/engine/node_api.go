package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gobwas/glob"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/controlpb"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// idempotentResultTTL is how long idempotency keys are remembered.
const idempotentResultTTL = 5 * time.Minute

// validateData checks data against a publication_data_format: "" requires
// non-empty data, "json" valid JSON, "json_object" a JSON object, "binary"
// accepts anything.
func validateData(format string, data []byte) error {
	switch format {
	case "binary":
		return nil
	case "json":
		if !json.Valid(data) {
			return protocol.ErrBadRequest
		}
	case "json_object":
		if !json.Valid(data) || firstNonSpace(data) != '{' {
			return protocol.ErrBadRequest
		}
	default:
		if len(data) == 0 {
			return protocol.ErrBadRequest
		}
	}
	return nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// Publish publishes data to ch with the channel's namespace options
// (history, delta). It returns *protocol.Error values for invalid requests.
func (n *Node) Publish(ctx context.Context, ch string, data []byte, opts PublishOptions) (broker.PublishResult, error) {
	r, err := resolveChannel(n.config().rules, ch)
	if err != nil {
		return broker.PublishResult{}, err
	}
	o := r.Options
	format := o.PublicationDataFormat
	if format == "" {
		format = n.opts.ChannelDataFormat
	}
	if err := validateData(format, data); err != nil {
		return broker.PublishResult{}, err
	}
	bo := broker.PublishOptions{
		ClientInfo:          opts.ClientInfo,
		Tags:                opts.Tags,
		IdempotencyKey:      opts.IdempotencyKey,
		IdempotentResultTTL: idempotentResultTTL,
		UseDelta:            opts.Delta || o.DeltaPublish,
		Version:             opts.Version,
		VersionEpoch:        opts.VersionEpoch,
	}
	if !opts.SkipHistory && historyEnabled(o) {
		bo.HistorySize = o.HistorySize
		bo.HistoryTTL = o.HistoryTTL
		bo.HistoryMetaTTL = o.HistoryMetaTTL
	}
	return n.opts.Broker.Publish(ctx, ch, data, bo)
}

// targetConns returns the local connections of user, restricted to client
// and session when non-empty.
func (n *Node) targetConns(user, client, session string) []*Client {
	conns := n.hub.userConns(user)
	out := conns[:0]
	for _, c := range conns {
		if client != "" && c.id != client {
			continue
		}
		if session != "" && c.session != session {
			continue
		}
		out = append(out, c)
	}
	return out
}

// Subscribe subscribes the connections of user (optionally one client or
// session) to ch server-side, on every node; each receives a subscribe push.
func (n *Node) Subscribe(ctx context.Context, user, ch string, opts SubscribeOptions) error {
	if _, err := resolveChannel(n.config().rules, ch); err != nil {
		return err
	}
	n.subscribeLocal(user, ch, opts)
	return n.cluster.publish(ctx, &controlpb.Command{Subscribe: subscribeToControl(user, ch, opts)}, "")
}

func (n *Node) subscribeLocal(user, ch string, opts SubscribeOptions) {
	for _, c := range n.targetConns(user, opts.Client, opts.Session) {
		c.serverSubscribe(ch, opts)
	}
}

// serverSubscribe adds a server-side subscription at runtime and pushes it
// to the client. Failures are logged: the API call targets many connections.
func (c *Client) serverSubscribe(ch string, so SubscribeOptions) {
	p, err := c.serverSubscribeParams(ch, so)
	if err != nil {
		return
	}
	res, sub, err := c.subscribeCore(ch, p)
	if err != nil {
		if err != protocol.ErrAlreadySubscribed {
			c.node.log.Info("server-side subscribe failed", "client", c.id, "channel", ch, "error", err)
		}
		return
	}
	push := &pb.Push{Channel: ch, Subscribe: &pb.Subscribe{
		Recoverable: res.Recoverable, Epoch: res.Epoch, Offset: res.Offset, Positioned: res.Positioned, Data: res.Data,
	}}
	if !c.sendPush(push) {
		return
	}
	for _, pub := range res.Publications {
		if !c.sendPush(&pb.Push{Channel: ch, Pub: pub}) {
			return
		}
	}
	c.activate(ch, sub)
}

// Unsubscribe removes ch from the connections of user (optionally one
// client or session) on every node; each receives an unsubscribe push with
// code 2000.
func (n *Node) Unsubscribe(ctx context.Context, user, ch, client, session string) error {
	if ch == "" {
		return protocol.ErrBadRequest
	}
	n.unsubscribeLocal(user, ch, client, session)
	return n.cluster.publish(ctx, &controlpb.Command{Unsubscribe: &controlpb.Unsubscribe{
		User: user, Channel: ch, Client: client, Session: session,
		Code: protocol.UnsubscribeServer.Code, Reason: protocol.UnsubscribeServer.Reason,
	}}, "")
}

func (n *Node) unsubscribeLocal(user, ch, client, session string) {
	for _, c := range n.targetConns(user, client, session) {
		c.mu.Lock()
		sub := c.subs[ch]
		c.mu.Unlock()
		if sub != nil {
			c.unsubscribe(ch, sub, &protocol.UnsubscribeServer)
		}
	}
}

// Disconnect closes the connections of user (optionally one client or
// session) with d on every node, except the client ids in whitelist.
func (n *Node) Disconnect(ctx context.Context, user string, d protocol.Disconnect, client, session string, whitelist []string) error {
	n.disconnectLocal(user, d, client, session, whitelist)
	return n.cluster.publish(ctx, &controlpb.Command{Disconnect: &controlpb.Disconnect{
		User: user, Whitelist: whitelist, Code: d.Code, Reason: d.Reason, Client: client, Session: session,
	}}, "")
}

func (n *Node) disconnectLocal(user string, d protocol.Disconnect, client, session string, whitelist []string) {
	for _, c := range n.targetConns(user, client, session) {
		keep := false
		for _, id := range whitelist {
			if id == c.id {
				keep = true
				break
			}
		}
		if !keep {
			go c.Close(d)
		}
	}
}

// Refresh updates the expiration (and info) of the connections of user on
// every node, or expires them (3005) when expired is true.
func (n *Node) Refresh(ctx context.Context, user, client, session string, expired bool, expireAt int64, info []byte) error {
	n.refreshLocal(user, client, session, expired, expireAt, info)
	return n.cluster.publish(ctx, &controlpb.Command{Refresh: &controlpb.Refresh{
		User: user, Client: client, Session: session, Expired: expired, ExpireAt: expireAt, Info: info,
	}}, "")
}

func (n *Node) refreshLocal(user, client, session string, expired bool, expireAt int64, info []byte) {
	now := n.now().Unix()
	for _, c := range n.targetConns(user, client, session) {
		if expired || (expireAt > 0 && expireAt <= now) {
			go c.Close(protocol.DisconnectExpired)
			continue
		}
		c.mu.Lock()
		if c.state != stateConnected {
			c.mu.Unlock()
			continue
		}
		c.expireAt = expireAt
		if info != nil {
			c.connInfo = info
		}
		push := &pb.Push{Refresh: &pb.Refresh{}}
		if expireAt > 0 {
			c.scheduleExpireLocked(expireAt)
			push.Refresh.Expires = true
			push.Refresh.Ttl = uint32(expireAt - now)
		} else if c.expireTimer != nil {
			c.expireTimer.Stop()
		}
		c.mu.Unlock()
		c.sendPush(push)
	}
}

// Presence returns the presence of ch (108 when presence is off).
func (n *Node) Presence(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error) {
	r, err := resolveChannel(n.config().rules, ch)
	if err != nil {
		return nil, err
	}
	if !r.Options.Presence {
		return nil, protocol.ErrNotAvailable
	}
	return n.opts.Presence.Presence(ctx, ch)
}

// PresenceStats returns presence counts of ch (108 when presence is off).
func (n *Node) PresenceStats(ctx context.Context, ch string) (broker.PresenceStats, error) {
	r, err := resolveChannel(n.config().rules, ch)
	if err != nil {
		return broker.PresenceStats{}, err
	}
	if !r.Options.Presence {
		return broker.PresenceStats{}, protocol.ErrNotAvailable
	}
	return n.opts.Presence.PresenceStats(ctx, ch)
}

// History reads the history of ch (108 when history is off, 112 on epoch
// mismatch, 107 for a reverse read from offset 0).
func (n *Node) History(ctx context.Context, ch string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
	r, err := resolveChannel(n.config().rules, ch)
	if err != nil {
		return nil, broker.StreamPosition{}, err
	}
	if !historyEnabled(r.Options) {
		return nil, broker.StreamPosition{}, protocol.ErrNotAvailable
	}
	if f.Reverse && f.Since != nil && f.Since.Offset == 0 {
		return nil, broker.StreamPosition{}, protocol.ErrBadRequest
	}
	pubs, sp, err := n.opts.Broker.History(ctx, ch, broker.HistoryOptions{Filter: f, MetaTTL: r.Options.HistoryMetaTTL})
	if err != nil {
		return nil, sp, toClientError(err)
	}
	return pubs, sp, nil
}

// RemoveHistory removes the publications of ch.
func (n *Node) RemoveHistory(ctx context.Context, ch string) error {
	r, err := resolveChannel(n.config().rules, ch)
	if err != nil {
		return err
	}
	if !historyEnabled(r.Options) {
		return protocol.ErrNotAvailable
	}
	return n.opts.Broker.RemoveHistory(ctx, ch)
}

// Channels returns the channels with subscribers on any node matching
// pattern (a glob; empty matches all) and their subscriber counts.
func (n *Node) Channels(ctx context.Context, pattern string) (map[string]int, error) {
	var g *glob.Pattern
	if pattern != "" {
		var err error
		if g, err = glob.Compile(pattern); err != nil {
			return nil, protocol.ErrBadRequest
		}
	}
	all := n.hub.channels()
	answers, err := n.cluster.survey(ctx, surveyChannels, nil, "")
	if err != nil {
		return nil, err
	}
	for _, a := range answers {
		var m map[string]int
		if a.Code != 0 || json.Unmarshal(a.Data, &m) != nil {
			continue
		}
		for ch, cnt := range m {
			all[ch] += cnt
		}
	}
	if g != nil {
		for ch := range all {
			if !g.Match(ch) {
				delete(all, ch)
			}
		}
	}
	return all, nil
}

// Info returns information about the nodes of the cluster, this node first.
func (n *Node) Info(ctx context.Context) ([]NodeInfo, error) {
	return n.cluster.infos(), nil
}
