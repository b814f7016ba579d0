package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// subParams is everything subscribeCore needs to establish a subscription.
type subParams struct {
	opts          config.ChannelOptions
	private       bool
	serverSide    bool
	positioned    bool
	recoverable   bool
	presence      bool
	joinLeave     bool
	pushJoinLeave bool
	delta         bool
	chanInfo      []byte
	data          []byte
	expireAt      int64
	recover       bool
	offset        uint64
	epoch         string
}

// resolveChannel validates ch and returns its options, mapping rule errors
// to client errors.
func resolveChannel(rules *channel.Rules, ch string) (channel.Resolved, error) {
	if ch == "" {
		return channel.Resolved{}, protocol.ErrBadRequest
	}
	r, err := rules.Resolve(ch)
	if err != nil {
		if errors.Is(err, channel.ErrUnknownChannel) {
			return r, protocol.ErrUnknownChannel
		}
		return r, protocol.ErrBadRequest
	}
	if t := r.Options.SubscriptionType; t != "" && t != "stream" {
		return r, protocol.ErrPermissionDenied
	}
	return r, nil
}

func historyEnabled(o config.ChannelOptions) bool { return o.HistorySize > 0 && o.HistoryTTL > 0 }

func applyOverride(p *subParams, o SubscribeOverride) {
	if o.Presence != nil {
		p.presence = *o.Presence
	}
	if o.JoinLeave != nil {
		p.joinLeave = *o.JoinLeave
	}
	if o.ForcePushJoinLeave != nil && *o.ForcePushJoinLeave {
		p.pushJoinLeave = true
	}
	if o.ForceRecovery != nil && *o.ForceRecovery && historyEnabled(p.opts) {
		p.recoverable, p.positioned = true, true
	}
	if o.ForcePositioning != nil && *o.ForcePositioning && historyEnabled(p.opts) {
		p.positioned = true
	}
}

// serverSubscribeParams returns the parameters of a server-side
// subscription to ch with namespace options and overrides applied.
func (c *Client) serverSubscribeParams(ch string, so SubscribeOptions) (subParams, error) {
	r, err := resolveChannel(c.node.config().rules, ch)
	if err != nil {
		return subParams{}, err
	}
	o := r.Options
	p := subParams{
		opts:          o,
		serverSide:    true,
		presence:      o.Presence,
		joinLeave:     o.JoinLeave,
		pushJoinLeave: o.ForcePushJoinLeave,
		chanInfo:      so.ChanInfo,
		data:          so.Data,
		expireAt:      so.ExpireAt,
	}
	if historyEnabled(o) {
		p.recoverable = o.ForceRecovery
		p.positioned = o.ForceRecovery || o.ForcePositioning
	}
	applyOverride(&p, so.Override)
	if so.RecoverSince != nil && p.recoverable {
		p.recover, p.offset, p.epoch = true, so.RecoverSince.Offset, so.RecoverSince.Epoch
	}
	return p, nil
}

func (c *Client) handleSubscribe(id uint32, req *pb.SubscribeRequest) bool {
	p, err := c.clientSubscribeParams(req)
	if err != nil {
		return c.finishCommand(&pb.Reply{Id: id}, err)
	}
	res, sub, err := c.subscribeCore(req.Channel, p)
	if err != nil {
		return c.finishCommand(&pb.Reply{Id: id}, err)
	}
	if !c.sendReply(&pb.Reply{Id: id, Subscribe: res}) {
		return false
	}
	c.activate(req.Channel, sub)
	return true
}

// clientSubscribeParams checks permissions of a client-side subscribe
// request (COMPAT §5.6) and returns the subscription parameters.
func (c *Client) clientSubscribeParams(req *pb.SubscribeRequest) (subParams, error) {
	cfg := c.node.config()
	ch := req.Channel
	r, err := resolveChannel(cfg.rules, ch)
	if err != nil {
		return subParams{}, err
	}
	o := r.Options
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	p := subParams{opts: o, private: r.Private, presence: o.Presence, joinLeave: o.JoinLeave}
	var override SubscribeOverride
	switch {
	case req.Token != "":
		tok, err := cfg.verifier.VerifySubscribeToken(c.ctx, req.Token)
		if err != nil {
			if errors.Is(err, jwt.ErrTokenExpired) {
				return p, protocol.ErrTokenExpired
			}
			if errors.Is(err, jwt.ErrJWKSUnavailable) {
				return p, fmt.Errorf("verify subscription token: %w", err)
			}
			return p, protocol.ErrPermissionDenied
		}
		if tok.UserID != user || tok.Channel != ch || (tok.Client != "" && tok.Client != c.id) {
			return p, protocol.DisconnectInvalidToken
		}
		p.chanInfo, p.data, p.expireAt = tok.Info, tok.Data, tok.ExpireAt
		if tok.Override != nil {
			override = SubscribeOverride{
				Presence: tok.Override.Presence, JoinLeave: tok.Override.JoinLeave,
				ForcePushJoinLeave: tok.Override.ForcePushJoinLeave, ForceRecovery: tok.Override.ForceRecovery,
				ForcePositioning: tok.Override.ForcePositioning,
			}
		}
	case r.Private:
		return p, protocol.ErrPermissionDenied
	case o.AllowUserLimitedChannels && cfg.rules.IsUserLimited(ch):
		if !cfg.rules.UserAllowed(ch, user) {
			return p, protocol.ErrPermissionDenied
		}
	case o.AllowSubscribeForClient && (user != "" || o.AllowSubscribeForAnonymous) && !cfg.rules.IsUserLimited(ch):
	case cfg.client.Insecure:
	default:
		return p, protocol.ErrPermissionDenied
	}
	if p.expireAt > 0 && p.expireAt <= c.node.now().Unix() {
		return p, protocol.ErrExpired
	}
	historyPerm := c.allowed(o.AllowHistoryForClient, o.AllowHistoryForSubscriber, o.AllowHistoryForAnonymous, true, user, cfg.client.Insecure)
	presencePerm := o.Presence && c.allowed(o.AllowPresenceForClient, o.AllowPresenceForSubscriber, o.AllowPresenceForAnonymous, true, user, cfg.client.Insecure)
	if historyEnabled(o) {
		p.recoverable = o.ForceRecovery || (req.Recoverable && (o.AllowRecovery || historyPerm))
		p.positioned = p.recoverable || o.ForcePositioning || (req.Positioned && (o.AllowPositioning || historyPerm))
	}
	p.pushJoinLeave = o.ForcePushJoinLeave || (req.JoinLeave && o.JoinLeave && presencePerm)
	applyOverride(&p, override)
	if req.Recover && p.recoverable {
		p.recover, p.offset, p.epoch = true, req.Offset, req.Epoch
	} else if p.recoverable && o.AutoCacheRecover && o.ForceRecoveryMode == "cache" {
		p.recover = true // deliver the latest publication on every subscribe
	}
	if req.Delta != "" && p.positioned {
		for _, t := range o.AllowedDeltaTypes {
			if t == req.Delta && t == "fossil" {
				p.delta = true
			}
		}
	}
	return p, nil
}

// allowed evaluates a client/subscriber/anonymous permission triple.
func (c *Client) allowed(forClient, forSubscriber, forAnonymous, subscribed bool, user string, insecure bool) bool {
	if insecure {
		return true
	}
	anonOK := user != "" || forAnonymous
	if forClient && anonOK {
		return true
	}
	return forSubscriber && subscribed && anonOK
}

// subscribeCore registers a pending subscription to ch, reads the stream
// position (and recovers missed publications) and adds presence. The caller
// queues the returned result and then calls activate.
func (c *Client) subscribeCore(ch string, p subParams) (*pb.SubscribeResult, *subscription, error) {
	cfg := c.node.config()
	sub := &subscription{
		serverSide:    p.serverSide,
		positioned:    p.positioned,
		recoverable:   p.recoverable,
		presence:      p.presence,
		joinLeave:     p.joinLeave,
		pushJoinLeave: p.pushJoinLeave,
		delta:         p.delta,
		chanInfo:      p.chanInfo,
		pending:       true,
		expireAt:      p.expireAt,
	}
	c.mu.Lock()
	if c.state != stateConnected {
		c.mu.Unlock()
		return nil, nil, protocol.DisconnectBadRequest
	}
	if _, ok := c.subs[ch]; ok {
		c.mu.Unlock()
		return nil, nil, protocol.ErrAlreadySubscribed
	}
	if limit := cfg.client.ChannelLimit; !p.serverSide && limit > 0 && len(c.subs) >= limit {
		c.mu.Unlock()
		return nil, nil, protocol.ErrLimitExceeded
	}
	c.addSubLocked(ch, sub)
	c.mu.Unlock()

	rollback := func() {
		c.mu.Lock()
		c.removeSubLocked(ch, sub)
		c.mu.Unlock()
		c.node.removeSubscriber(ch, c)
	}
	if err := c.node.addSubscriber(c.ctx, ch, c, sub); err != nil {
		c.mu.Lock()
		c.removeSubLocked(ch, sub)
		c.mu.Unlock()
		return nil, nil, err
	}

	res := &pb.SubscribeResult{Data: p.data, Delta: p.delta}
	if sub.positioned {
		res.Positioned = true
		res.Recoverable = sub.recoverable
		res.WasRecovering = p.recover
		pubs, sp, recovered, err := c.recoverStream(ch, p, cfg.client.RecoveryMaxPublicationLimit)
		if err != nil {
			rollback()
			return nil, nil, err
		}
		res.Epoch = sp.Epoch
		res.Offset = sp.Offset
		res.Recovered = recovered
		c.mu.Lock()
		sub.epoch = sp.Epoch
		sub.offset = sp.Offset
		if recovered {
			res.Offset = p.offset
			res.Publications = make([]*pb.Publication, len(pubs))
			for i, pub := range pubs {
				res.Publications[i] = toProtoPublication(pub)
				if sub.delta && c.proto == protocol.TypeJSON {
					res.Publications[i].Data = jsonString(pub.Data)
				}
			}
			sub.deltaReady = sub.delta && len(pubs) > 0
		}
		c.mu.Unlock()
	}
	if p.presence {
		if err := c.node.opts.Presence.AddPresence(c.ctx, ch, c.id, c.clientInfo(p.chanInfo)); err != nil {
			rollback()
			return nil, nil, err
		}
	}
	if p.expireAt > 0 {
		now := c.node.now().Unix()
		res.Expires = true
		res.Ttl = uint32(p.expireAt - now)
		c.mu.Lock()
		c.scheduleSubExpireLocked(ch, sub)
		c.mu.Unlock()
	}
	if p.joinLeave {
		if err := c.node.opts.Broker.PublishJoin(c.ctx, ch, c.clientInfo(p.chanInfo)); err != nil {
			c.node.log.Error("publish join", "channel", ch, "client", c.id, "error", err)
		}
	}
	return res, sub, nil
}

// recoverStream reads the stream position of ch and, when p asks to
// recover, the publications after p.offset. recovered is true only when the
// publications close the gap exactly up to the top of the stream.
func (c *Client) recoverStream(ch string, p subParams, limit int) ([]*broker.Publication, broker.StreamPosition, bool, error) {
	b := c.node.opts.Broker
	metaTTL := p.opts.HistoryMetaTTL
	if p.opts.ForceRecoveryMode == "cache" {
		return c.recoverCache(ch, p)
	}
	if !p.recover {
		_, sp, err := b.History(c.ctx, ch, broker.HistoryOptions{MetaTTL: metaTTL})
		return nil, sp, false, err
	}
	if limit <= 0 {
		limit = 300
	}
	pubs, sp, err := b.History(c.ctx, ch, broker.HistoryOptions{
		Filter:  broker.HistoryFilter{Since: &broker.StreamPosition{Offset: p.offset, Epoch: p.epoch}, Limit: limit + 1},
		MetaTTL: metaTTL,
	})
	if errors.Is(err, broker.ErrUnrecoverablePosition) {
		_, sp, err = b.History(c.ctx, ch, broker.HistoryOptions{MetaTTL: metaTTL})
		return nil, sp, false, err
	}
	if err != nil {
		return nil, sp, false, err
	}
	if sp.Epoch != p.epoch || len(pubs) > limit {
		return nil, sp, false, nil
	}
	if len(pubs) == 0 {
		return nil, sp, p.offset == sp.Offset, nil
	}
	if pubs[0].Offset != p.offset+1 {
		return nil, sp, false, nil
	}
	// Publications newer than the read arrive through the pending buffer;
	// the client position advances to the last recovered offset.
	last := pubs[len(pubs)-1].Offset
	if last != sp.Offset {
		return nil, sp, false, nil
	}
	return pubs, broker.StreamPosition{Offset: last, Epoch: sp.Epoch}, true, nil
}

// recoverCache is recovery in cache mode: the client gets only the latest
// publication when its position differs from the stream top, nothing when it
// is already there.
func (c *Client) recoverCache(ch string, p subParams) ([]*broker.Publication, broker.StreamPosition, bool, error) {
	pubs, sp, err := c.node.opts.Broker.History(c.ctx, ch, broker.HistoryOptions{
		Filter:  broker.HistoryFilter{Limit: 1, Reverse: true},
		MetaTTL: p.opts.HistoryMetaTTL,
	})
	if err != nil || !p.recover {
		return nil, sp, false, err
	}
	if (p.offset == sp.Offset && p.epoch == sp.Epoch) || len(pubs) == 0 {
		return nil, sp, true, nil
	}
	return pubs[:1], sp, true, nil
}

// scheduleSubExpireLocked arms the subscription expiry check.
// Precondition: c.mu held.
func (c *Client) scheduleSubExpireLocked(ch string, sub *subscription) {
	if sub.timer != nil {
		sub.timer.Stop()
	}
	delay := time.Until(time.Unix(sub.expireAt, 0)) + c.node.config().client.ExpiredSubCloseDelay
	if delay < 0 {
		delay = 0
	}
	sub.timer = time.AfterFunc(delay, func() {
		c.mu.Lock()
		expired := c.subs[ch] == sub && sub.expireAt > 0 && sub.expireAt <= c.node.now().Unix()
		c.mu.Unlock()
		if !expired {
			return
		}
		if sub.serverSide {
			c.Close(protocol.DisconnectSubExpired)
			return
		}
		c.unsubscribe(ch, sub, &protocol.UnsubscribeExpired)
	})
}

// unsubscribe removes sub (if it is still ch's subscription). With push
// non-nil the client is told with an unsubscribe push.
func (c *Client) unsubscribe(ch string, sub *subscription, push *protocol.Unsubscribe) {
	c.mu.Lock()
	if !c.removeSubLocked(ch, sub) {
		c.mu.Unlock()
		return
	}
	if sub.timer != nil {
		sub.timer.Stop()
	}
	c.mu.Unlock()
	c.node.removeSubscriber(ch, c)
	c.cleanupSubscription(ch, sub)
	if push != nil {
		c.sendPush(&pb.Push{Channel: ch, Unsubscribe: &pb.Unsubscribe{Code: push.Code, Reason: push.Reason}})
	}
}

func (c *Client) handleUnsubscribe(req *pb.UnsubscribeRequest) error {
	if req.Channel == "" {
		return protocol.ErrBadRequest
	}
	c.mu.Lock()
	sub := c.subs[req.Channel]
	c.mu.Unlock()
	if sub == nil {
		return nil
	}
	c.unsubscribe(req.Channel, sub, nil)
	return nil
}

func (c *Client) handleSubRefresh(req *pb.SubRefreshRequest) (*pb.SubRefreshResult, error) {
	cfg := c.node.config()
	if req.Channel == "" {
		return nil, protocol.ErrBadRequest
	}
	c.mu.Lock()
	sub := c.subs[req.Channel]
	user := c.user
	c.mu.Unlock()
	if sub == nil {
		return nil, protocol.ErrPermissionDenied
	}
	if req.Token == "" {
		return nil, protocol.ErrBadRequest
	}
	tok, err := cfg.verifier.VerifySubscribeToken(c.ctx, req.Token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, protocol.ErrTokenExpired
		}
		return nil, protocol.ErrPermissionDenied
	}
	if tok.UserID != user || tok.Channel != req.Channel || (tok.Client != "" && tok.Client != c.id) {
		return nil, protocol.DisconnectInvalidToken
	}
	now := c.node.now().Unix()
	if tok.ExpireAt > 0 && tok.ExpireAt <= now {
		return nil, protocol.ErrExpired
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[req.Channel] != sub {
		return nil, protocol.ErrPermissionDenied
	}
	sub.expireAt = tok.ExpireAt
	res := &pb.SubRefreshResult{}
	if tok.ExpireAt > 0 {
		res.Expires = true
		res.Ttl = uint32(tok.ExpireAt - now)
		c.scheduleSubExpireLocked(req.Channel, sub)
	} else if sub.timer != nil {
		sub.timer.Stop()
	}
	return res, nil
}
