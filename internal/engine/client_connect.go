package engine

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// maxConnectionTTL caps connection and subscription expirations.
const maxConnectionTTL = 365 * 24 * time.Hour

// serverSub is a server-side subscription requested at connect time.
type serverSub struct {
	channel string
	opts    SubscribeOptions
}

func (c *Client) handleConnect(id uint32, req *pb.ConnectRequest) bool {
	res, subs, err := c.connect(req)
	if err != nil {
		var d protocol.Disconnect
		if errors.As(err, &d) {
			c.Close(d)
			return false
		}
		pe := toClientError(err)
		c.mu.Lock()
		c.state = stateFailed
		// The client closes after reading the error; do not wait forever.
		c.closeTimer = time.AfterFunc(5*time.Second, func() { c.Close(protocol.DisconnectConnectionClosed) })
		c.mu.Unlock()
		c.sendReply(&pb.Reply{Id: id, Error: &pb.Error{Code: pe.Code, Message: pe.Message, Temporary: pe.Temporary}})
		return true
	}
	if !c.sendReply(&pb.Reply{Id: id, Connect: res}) {
		return false
	}
	for _, s := range subs {
		c.activate(s.channel, s.sub)
	}
	return true
}

type activatedSub struct {
	channel string
	sub     *subscription
}

// connect authenticates the connection and establishes its server-side
// subscriptions. On success the client is registered in the hub and its
// server-side subscriptions are pending until activated.
func (c *Client) connect(req *pb.ConnectRequest) (*pb.ConnectResult, []activatedSub, error) {
	cfg := c.node.config()
	now := c.node.now()
	var (
		user     string
		info     []byte
		expireAt int64
		subs     []serverSub
	)
	switch {
	case req.Token != "":
		tok, err := cfg.verifier.VerifyConnectToken(c.ctx, req.Token)
		if err != nil {
			if errors.Is(err, jwt.ErrTokenExpired) {
				return nil, nil, protocol.ErrTokenExpired
			}
			if errors.Is(err, jwt.ErrJWKSUnavailable) {
				return nil, nil, fmt.Errorf("verify connection token: %w", err)
			}
			c.node.log.Info("invalid connection token", "client", c.id, "error", err)
			return nil, nil, protocol.DisconnectInvalidToken
		}
		if tok.UserID == "" && cfg.client.DisallowAnonymousConnectionTokens {
			return nil, nil, protocol.DisconnectPermissionDenied
		}
		user, info, expireAt = tok.UserID, tok.Info, tok.ExpireAt
		subs = tokenServerSubs(tok)
	case cfg.client.AllowAnonymousConnectWithoutToken || cfg.client.Insecure:
	case cfg.client.UserIDHTTPHeader != "":
		ri, _ := RequestInfoFrom(c.ctx)
		user = ri.Header.Get(cfg.client.UserIDHTTPHeader)
		if user == "" {
			return nil, nil, protocol.DisconnectBadRequest
		}
	default:
		return nil, nil, protocol.DisconnectBadRequest
	}
	if expireAt > 0 {
		if expireAt <= now.Unix() {
			return nil, nil, protocol.ErrExpired
		}
		if max := now.Add(maxConnectionTTL).Unix(); expireAt > max {
			expireAt = max
		}
	}
	if limit := cfg.client.UserConnectionLimit; limit > 0 && user != "" && c.node.hub.userConnCount(user) >= limit {
		return nil, nil, protocol.DisconnectConnectionLimit
	}
	if pc := cfg.client.SubscribeToUserPersonalChannel; pc.Enabled && user != "" {
		subs = append(subs, serverSub{channel: cfg.rules.PersonalChannel(pc.PersonalChannelNamespace, user)})
	}
	if limit := cfg.client.ChannelLimit; limit > 0 && len(subs) > limit {
		return nil, nil, protocol.DisconnectChannelLimit
	}

	c.mu.Lock()
	if c.state != stateConnecting {
		c.mu.Unlock()
		return nil, nil, protocol.DisconnectBadRequest
	}
	c.user, c.connInfo, c.expireAt = user, info, expireAt
	c.name, c.version = req.Name, req.Version
	c.state = stateConnected
	c.staleTimer.Stop()
	c.schedulePingLocked()
	c.scheduleMaintenanceLocked(true)
	if expireAt > 0 {
		c.scheduleExpireLocked(expireAt)
	}
	c.mu.Unlock()
	c.node.hub.addConn(c)

	res := &pb.ConnectResult{
		Client:  c.id,
		Version: c.node.opts.Version,
	}
	if cfg.client.PingInterval > 0 {
		res.Ping = uint32(cfg.client.PingInterval / time.Second)
		res.Pong = cfg.client.PongTimeout > 0 && !c.uni
	}
	if expireAt > 0 {
		res.Expires = true
		res.Ttl = uint32(expireAt - now.Unix())
	}
	if c.t.Emulation() || c.uni {
		res.Session = c.session
		res.Node = c.node.id
	}
	if cfg.client.ConnectIncludeServerTime {
		res.Time = now.UnixMilli()
	}
	var activated []activatedSub
	for _, s := range subs {
		if sub, _ := c.subscribed(s.channel); sub != nil {
			continue // duplicate of an earlier source
		}
		p, err := c.serverSubscribeParams(s.channel, s.opts)
		if err != nil {
			c.unsubscribeAllPending(activated)
			return nil, nil, err
		}
		if rec := req.Subs[s.channel]; rec != nil && rec.Recover {
			p.recover, p.offset, p.epoch = true, rec.Offset, rec.Epoch
		}
		sr, sub, err := c.subscribeCore(s.channel, p)
		if err != nil {
			c.unsubscribeAllPending(activated)
			return nil, nil, err
		}
		if res.Subs == nil {
			res.Subs = make(map[string]*pb.SubscribeResult)
		}
		res.Subs[s.channel] = sr
		activated = append(activated, activatedSub{channel: s.channel, sub: sub})
	}
	if c.uni {
		for _, ch := range sortedKeys(req.Subs) {
			if sub, _ := c.subscribed(ch); sub != nil {
				continue
			}
			w := req.Subs[ch]
			p, err := c.clientSubscribeParams(&pb.SubscribeRequest{Channel: ch, Recover: w.Recover, Offset: w.Offset, Epoch: w.Epoch, Recoverable: w.Recover, Positioned: w.Recover})
			if err != nil || p.private {
				continue // wishes are only honoured where a client-side subscribe would be
			}
			p.serverSide = true
			sr, sub, err := c.subscribeCore(ch, p)
			if err != nil {
				c.unsubscribeAllPending(activated)
				return nil, nil, err
			}
			if res.Subs == nil {
				res.Subs = make(map[string]*pb.SubscribeResult)
			}
			res.Subs[ch] = sr
			activated = append(activated, activatedSub{channel: ch, sub: sub})
		}
	}
	return res, activated, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ConnectUnidirectional connects a unidirectional client with req (taken
// from cf_connect or the request body). On success the Connect push is
// queued, followed by the recovered publications of its subscriptions. On
// failure the session is closed and the returned error matches (errors.As)
// both the protocol.Disconnect the client is told — mapped by
// client.connect_code_to_unidirectional_disconnect, by default 109 and 110 →
// 3005, 111 → 3013, 103 → 3507, others → 3004 — and, when the connect failed
// with an error reply code, that *protocol.Error.
func (c *Client) ConnectUnidirectional(req *pb.ConnectRequest) error {
	res, subs, err := c.connect(req)
	if err != nil {
		d := c.unidirectionalDisconnect(err)
		c.Close(d)
		return &UnidirectionalConnectError{Disconnect: d, Cause: err}
	}
	push := &pb.Push{Connect: &pb.Connect{
		Client: res.Client, Version: res.Version, Data: res.Data, Subs: res.Subs, Expires: res.Expires,
		Ttl: res.Ttl, Ping: res.Ping, Pong: res.Pong, Session: res.Session, Node: res.Node, Time: res.Time,
	}}
	if !c.sendPush(push) {
		return protocol.DisconnectInappropriateProtocol
	}
	for _, s := range subs {
		c.activate(s.channel, s.sub)
	}
	return nil
}

// UnidirectionalConnectError is returned by ConnectUnidirectional.
type UnidirectionalConnectError struct {
	Disconnect protocol.Disconnect
	Cause      error
}

// Error implements error.
func (e *UnidirectionalConnectError) Error() string {
	return "unidirectional connect: " + e.Disconnect.Error() + ": " + e.Cause.Error()
}

// Unwrap returns the disconnect and the cause, so errors.As finds either.
func (e *UnidirectionalConnectError) Unwrap() []error {
	return []error{e.Disconnect, toClientErrorIfCode(e.Cause)}
}

// toClientErrorIfCode returns err, or its *protocol.Error code when err is
// an error reply rather than a disconnect.
func toClientErrorIfCode(err error) error {
	var d protocol.Disconnect
	if errors.As(err, &d) {
		return err
	}
	return toClientError(err)
}

// unidirectionalDisconnect maps a connect error to the disconnect a
// unidirectional client receives.
func (c *Client) unidirectionalDisconnect(err error) protocol.Disconnect {
	var d protocol.Disconnect
	if errors.As(err, &d) {
		return d
	}
	code := toClientError(err).Code
	if m := c.node.config().client.ConnectCodeToUnidirectionalDisconnect; m.Enabled {
		for _, t := range m.Transforms {
			if t.Code == code {
				return protocol.Disconnect{Code: t.To.Code, Reason: t.To.Reason}
			}
		}
	}
	switch code {
	case protocol.ErrTokenExpired.Code, protocol.ErrExpired.Code:
		return protocol.DisconnectExpired
	case protocol.ErrTooManyRequests.Code:
		return protocol.DisconnectTooManyRequests
	case protocol.ErrPermissionDenied.Code:
		return protocol.DisconnectPermissionDenied
	}
	return protocol.DisconnectServerError
}

func (c *Client) unsubscribeAllPending(subs []activatedSub) {
	for _, s := range subs {
		c.unsubscribe(s.channel, s.sub, nil)
	}
}

// tokenServerSubs returns the server-side subscriptions of a connection
// token: `subs` takes precedence over `channels`.
func tokenServerSubs(tok jwt.ConnectToken) []serverSub {
	var out []serverSub
	if len(tok.Subs) > 0 {
		names := make([]string, 0, len(tok.Subs))
		for ch := range tok.Subs {
			names = append(names, ch)
		}
		sort.Strings(names)
		for _, ch := range names {
			o := tok.Subs[ch]
			so := SubscribeOptions{ChanInfo: o.Info, Data: o.Data}
			if o.Override != nil {
				so.Override = SubscribeOverride{
					Presence: o.Override.Presence, JoinLeave: o.Override.JoinLeave,
					ForcePushJoinLeave: o.Override.ForcePushJoinLeave, ForceRecovery: o.Override.ForceRecovery,
					ForcePositioning: o.Override.ForcePositioning,
				}
			}
			out = append(out, serverSub{channel: ch, opts: so})
		}
		return out
	}
	for _, ch := range tok.Channels {
		out = append(out, serverSub{channel: ch})
	}
	return out
}

// scheduleExpireLocked arms the connection expiry check: if no refresh
// moves expireAt forward by expireAt + expired_close_delay, the client is
// disconnected with 3005. Precondition: c.mu held.
func (c *Client) scheduleExpireLocked(expireAt int64) {
	if c.expireTimer != nil {
		c.expireTimer.Stop()
	}
	delay := time.Until(time.Unix(expireAt, 0)) + c.node.config().client.ExpiredCloseDelay
	if delay < 0 {
		delay = 0
	}
	c.expireTimer = time.AfterFunc(delay, func() {
		c.mu.Lock()
		expired := c.state == stateConnected && c.expireAt > 0 && c.expireAt <= c.node.now().Unix()
		c.mu.Unlock()
		if expired {
			c.Close(protocol.DisconnectExpired)
		}
	})
}

func (c *Client) handleRefresh(req *pb.RefreshRequest) (*pb.RefreshResult, error) {
	cfg := c.node.config()
	if req.Token == "" {
		return nil, protocol.ErrBadRequest
	}
	tok, err := cfg.verifier.VerifyConnectToken(c.ctx, req.Token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, protocol.DisconnectExpired
		}
		if errors.Is(err, jwt.ErrJWKSUnavailable) {
			return nil, fmt.Errorf("verify refresh token: %w", err)
		}
		return nil, protocol.DisconnectInvalidToken
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok.UserID != c.user {
		return nil, protocol.DisconnectInvalidToken
	}
	if !sameServerSubs(tokenServerSubs(tok), c.subs) {
		return nil, protocol.DisconnectInsufficientState
	}
	now := c.node.now()
	expireAt := tok.ExpireAt
	if expireAt > 0 && expireAt <= now.Unix() {
		return nil, protocol.DisconnectExpired
	}
	if max := now.Add(maxConnectionTTL).Unix(); expireAt > max {
		expireAt = max
	}
	c.expireAt = expireAt
	if tok.Info != nil {
		c.connInfo = tok.Info
	}
	res := &pb.RefreshResult{Client: c.id, Version: c.node.opts.Version}
	if expireAt > 0 {
		res.Expires = true
		res.Ttl = uint32(expireAt - now.Unix())
		c.scheduleExpireLocked(expireAt)
	} else if c.expireTimer != nil {
		c.expireTimer.Stop()
	}
	return res, nil
}

// sameServerSubs reports whether the token's server-side channels are the
// channels of the connection's current server-side subscriptions coming from
// the token (personal and API subscriptions are ignored when the token lists
// none). Precondition: c.mu held by the caller for subs.
func sameServerSubs(tokenSubs []serverSub, subs map[string]*subscription) bool {
	for _, s := range tokenSubs {
		sub, ok := subs[s.channel]
		if !ok || !sub.serverSide {
			return false
		}
	}
	return true
}
