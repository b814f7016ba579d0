package engine

import (
	"strings"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// subscribed returns the subscription of ch, if any, and the user.
func (c *Client) subscribed(ch string) (*subscription, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[ch], c.user
}

func (c *Client) handlePublish(req *pb.PublishRequest) error {
	cfg := c.node.config()
	r, err := resolveChannel(cfg.rules, req.Channel)
	if err != nil {
		return err
	}
	o := r.Options
	sub, user := c.subscribed(req.Channel)
	if !c.allowed(o.AllowPublishForClient, o.AllowPublishForSubscriber, o.AllowPublishForAnonymous, sub != nil, user, cfg.client.Insecure) {
		return protocol.ErrPermissionDenied
	}
	var chanInfo []byte
	if sub != nil {
		chanInfo = sub.chanInfo
	}
	_, err = c.node.Publish(c.ctx, req.Channel, req.Data, PublishOptions{ClientInfo: c.clientInfo(chanInfo)})
	return err
}

func (c *Client) presenceAllowed(ch string) error {
	cfg := c.node.config()
	r, err := resolveChannel(cfg.rules, ch)
	if err != nil {
		return err
	}
	o := r.Options
	if !o.Presence {
		return protocol.ErrNotAvailable
	}
	sub, user := c.subscribed(ch)
	if !c.allowed(o.AllowPresenceForClient, o.AllowPresenceForSubscriber, o.AllowPresenceForAnonymous, sub != nil, user, cfg.client.Insecure) {
		return protocol.ErrPermissionDenied
	}
	return nil
}

func (c *Client) handlePresence(req *pb.PresenceRequest) (*pb.PresenceResult, error) {
	if err := c.presenceAllowed(req.Channel); err != nil {
		return nil, err
	}
	m, err := c.node.opts.Presence.Presence(c.ctx, req.Channel)
	if err != nil {
		return nil, err
	}
	res := &pb.PresenceResult{Presence: make(map[string]*pb.ClientInfo, len(m))}
	for id, info := range m {
		res.Presence[id] = toProtoClientInfo(info)
	}
	return res, nil
}

func (c *Client) handlePresenceStats(req *pb.PresenceStatsRequest) (*pb.PresenceStatsResult, error) {
	if err := c.presenceAllowed(req.Channel); err != nil {
		return nil, err
	}
	st, err := c.node.opts.Presence.PresenceStats(c.ctx, req.Channel)
	if err != nil {
		return nil, err
	}
	return &pb.PresenceStatsResult{NumClients: uint32(st.NumClients), NumUsers: uint32(st.NumUsers)}, nil
}

func (c *Client) handleHistory(req *pb.HistoryRequest) (*pb.HistoryResult, error) {
	cfg := c.node.config()
	r, err := resolveChannel(cfg.rules, req.Channel)
	if err != nil {
		return nil, err
	}
	o := r.Options
	if !historyEnabled(o) {
		return nil, protocol.ErrNotAvailable
	}
	sub, user := c.subscribed(req.Channel)
	if !c.allowed(o.AllowHistoryForClient, o.AllowHistoryForSubscriber, o.AllowHistoryForAnonymous, sub != nil, user, cfg.client.Insecure) {
		return nil, protocol.ErrPermissionDenied
	}
	limit := int(req.Limit)
	max := cfg.client.HistoryMaxPublicationLimit
	if max > 0 && (limit < 0 || limit > max) {
		limit = max
	}
	f := broker.HistoryFilter{Limit: limit, Reverse: req.Reverse}
	if req.Since != nil {
		f.Since = &broker.StreamPosition{Offset: req.Since.Offset, Epoch: req.Since.Epoch}
	}
	if f.Reverse && f.Since != nil && f.Since.Offset == 0 {
		return nil, protocol.ErrBadRequest
	}
	pubs, sp, err := c.node.opts.Broker.History(c.ctx, req.Channel, broker.HistoryOptions{Filter: f, MetaTTL: o.HistoryMetaTTL})
	if err != nil {
		return nil, err
	}
	res := &pb.HistoryResult{Epoch: sp.Epoch, Offset: sp.Offset, Publications: make([]*pb.Publication, len(pubs))}
	for i, p := range pubs {
		res.Publications[i] = toProtoPublication(p)
	}
	return res, nil
}

// handleRPC serves the built-in ping RPC; other methods need an RPC proxy,
// which is not configured: 104 for an unknown RPC namespace, 108 otherwise.
func (c *Client) handleRPC(req *pb.RPCRequest) (*pb.RPCResult, error) {
	rpc := c.node.config().rpc
	if rpc.Ping.Enabled && req.Method == rpc.Ping.Method {
		return &pb.RPCResult{}, nil
	}
	boundary := rpc.NamespaceBoundary
	if boundary == "" {
		boundary = ":"
	}
	if ns, _, ok := strings.Cut(req.Method, boundary); ok {
		for _, n := range rpc.Namespaces {
			if n.Name == ns {
				return nil, protocol.ErrNotAvailable
			}
		}
		return nil, protocol.ErrMethodNotFound
	}
	return nil, protocol.ErrNotAvailable
}
