package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/controlpb"
)

// Cluster timing (COMPAT §10.5).
const (
	nodeInfoInterval = 3 * time.Second
	nodeExpiry       = 9 * time.Second
	surveyTimeout    = 10 * time.Second
)

// Survey operations.
const (
	surveyChannels  = "channels"
	surveyEmulation = "centrifuge_emulation"
)

// Override bits of controlpb.Subscribe.override_mask.
const (
	maskPresence uint32 = 1 << iota
	maskJoinLeave
	maskPushJoinLeave
	maskPositioning
	maskRecovery
)

// cluster tracks the other nodes and pending surveys. With no Controller
// the node is alone and every method works locally.
type cluster struct {
	n          *Node
	controller broker.Controller

	mu    sync.Mutex
	nodes map[string]nodeEntry

	surveyID atomic.Uint64
	surveyMu sync.Mutex
	surveys  map[uint64]chan *controlpb.SurveyResponse

	stop chan struct{}
	wg   sync.WaitGroup
}

type nodeEntry struct {
	info *controlpb.Node
	seen time.Time
}

func newCluster(n *Node, c broker.Controller) *cluster {
	return &cluster{n: n, controller: c, nodes: map[string]nodeEntry{}, surveys: map[uint64]chan *controlpb.SurveyResponse{}, stop: make(chan struct{})}
}

// start binds the controller and starts the heartbeat goroutine.
func (cl *cluster) start(ctx context.Context) error {
	if cl.controller == nil {
		return nil
	}
	if err := cl.controller.StartControl(ctx, cl.n.id, controlHandler{cl}); err != nil {
		return err
	}
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		t := time.NewTicker(nodeInfoInterval)
		defer t.Stop()
		cl.publishNodeInfo()
		for {
			select {
			case <-cl.stop:
				return
			case <-t.C:
				cl.publishNodeInfo()
				cl.expireNodes()
			}
		}
	}()
	return nil
}

// shutdown stops the heartbeat and tells the other nodes this node leaves.
func (cl *cluster) shutdown(ctx context.Context) {
	if cl.controller == nil {
		return
	}
	select {
	case <-cl.stop:
		return
	default:
		close(cl.stop)
	}
	cl.wg.Wait()
	_ = cl.publish(ctx, &controlpb.Command{Shutdown: &controlpb.Shutdown{}}, "")
}

func (cl *cluster) publish(ctx context.Context, cmd *controlpb.Command, toNode string) error {
	if cl.controller == nil {
		return nil
	}
	cmd.Uid = cl.n.id
	data, err := proto.Marshal(cmd)
	if err != nil {
		return err
	}
	return cl.controller.PublishControl(ctx, data, toNode)
}

func (cl *cluster) localInfo() *controlpb.Node {
	clients, users, channels, subs := cl.n.hub.counts()
	return &controlpb.Node{
		Uid: cl.n.id, Name: cl.n.opts.Name, Version: cl.n.opts.Version,
		NumClients: uint32(clients), NumUsers: uint32(users), NumChannels: uint32(channels), NumSubs: uint32(subs),
		Uptime: uint32(cl.n.now().Sub(cl.n.started) / time.Second),
	}
}

func (cl *cluster) publishNodeInfo() {
	ctx, cancel := context.WithTimeout(context.Background(), nodeInfoInterval)
	defer cancel()
	if err := cl.publish(ctx, &controlpb.Command{Node: cl.localInfo()}, ""); err != nil {
		cl.n.log.Warn("publish node info", "error", err)
	}
}

func (cl *cluster) expireNodes() {
	now := cl.n.now()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for id, e := range cl.nodes {
		if now.Sub(e.seen) > nodeExpiry {
			delete(cl.nodes, id)
		}
	}
}

// otherNodes returns the ids of the live remote nodes.
func (cl *cluster) otherNodes() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]string, 0, len(cl.nodes))
	for id := range cl.nodes {
		out = append(out, id)
	}
	return out
}

// infos returns this node's info followed by the remote nodes'.
func (cl *cluster) infos() []NodeInfo {
	toInfo := func(n *controlpb.Node) NodeInfo {
		return NodeInfo{UID: n.Uid, Name: n.Name, Version: n.Version, NumClients: int(n.NumClients), NumUsers: int(n.NumUsers),
			NumChannels: int(n.NumChannels), NumSubs: int(n.NumSubs), Uptime: int64(n.Uptime)}
	}
	out := []NodeInfo{toInfo(cl.localInfo())}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, e := range cl.nodes {
		out = append(out, toInfo(e.info))
	}
	return out
}

// survey sends a request to toNode (all other nodes when empty) and waits
// for every answer or the timeout. It returns the answers received.
func (cl *cluster) survey(ctx context.Context, op string, data []byte, toNode string) ([]*controlpb.SurveyResponse, error) {
	expected := 1
	if toNode == "" {
		expected = len(cl.otherNodes())
	}
	if cl.controller == nil || expected == 0 {
		return nil, nil
	}
	id := cl.surveyID.Add(1)
	ch := make(chan *controlpb.SurveyResponse, expected)
	cl.surveyMu.Lock()
	cl.surveys[id] = ch
	cl.surveyMu.Unlock()
	defer func() {
		cl.surveyMu.Lock()
		delete(cl.surveys, id)
		cl.surveyMu.Unlock()
	}()
	if err := cl.publish(ctx, &controlpb.Command{SurveyRequest: &controlpb.SurveyRequest{Id: id, Op: op, Data: data}}, toNode); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, surveyTimeout)
	defer cancel()
	var out []*controlpb.SurveyResponse
	for len(out) < expected {
		select {
		case r := <-ch:
			out = append(out, r)
		case <-ctx.Done():
			if len(out) == 0 && toNode != "" {
				return nil, ctx.Err()
			}
			return out, nil
		}
	}
	return out, nil
}

type controlHandler struct{ cl *cluster }

// HandleControl applies a control message from another node. Messages this
// node sent itself are ignored: API commands are applied locally first.
func (h controlHandler) HandleControl(data []byte) error {
	cl, n := h.cl, h.cl.n
	var cmd controlpb.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		return err
	}
	if cmd.Uid == n.id {
		return nil
	}
	ctx := context.Background()
	switch {
	case cmd.Node != nil:
		cl.mu.Lock()
		cl.nodes[cmd.Uid] = nodeEntry{info: cmd.Node, seen: n.now()}
		cl.mu.Unlock()
	case cmd.Shutdown != nil:
		cl.mu.Lock()
		delete(cl.nodes, cmd.Uid)
		cl.mu.Unlock()
	case cmd.Subscribe != nil:
		s := cmd.Subscribe
		n.subscribeLocal(s.User, s.Channel, subscribeOptionsFromControl(s))
	case cmd.Unsubscribe != nil:
		u := cmd.Unsubscribe
		n.unsubscribeLocal(u.User, u.Channel, u.Client, u.Session)
	case cmd.Disconnect != nil:
		d := cmd.Disconnect
		n.disconnectLocal(d.User, protocol.Disconnect{Code: d.Code, Reason: d.Reason}, d.Client, d.Session, d.Whitelist)
	case cmd.Refresh != nil:
		r := cmd.Refresh
		n.refreshLocal(r.User, r.Client, r.Session, r.Expired, r.ExpireAt, r.Info)
	case cmd.SurveyRequest != nil:
		go cl.answerSurvey(ctx, cmd.Uid, cmd.SurveyRequest)
	case cmd.SurveyResponse != nil:
		cl.surveyMu.Lock()
		ch := cl.surveys[cmd.SurveyResponse.Id]
		cl.surveyMu.Unlock()
		if ch != nil {
			select {
			case ch <- cmd.SurveyResponse:
			default:
			}
		}
	}
	return nil
}

// emulationRequest is the survey payload routing an emulation frame.
type emulationRequest struct {
	Session string `json:"session"`
	Data    []byte `json:"data"`
}

func (cl *cluster) answerSurvey(ctx context.Context, from string, req *controlpb.SurveyRequest) {
	res := &controlpb.SurveyResponse{Id: req.Id}
	switch req.Op {
	case surveyChannels:
		data, err := json.Marshal(cl.n.hub.channels())
		if err != nil {
			res.Code = 1
		}
		res.Data = data
	case surveyEmulation:
		var er emulationRequest
		if err := json.Unmarshal(req.Data, &er); err != nil {
			res.Code = 2
		} else if err := cl.n.HandleEmulation(ctx, er.Session, er.Data); err != nil {
			res.Code = 3
		}
	default:
		res.Code = 4
	}
	if err := cl.publish(ctx, &controlpb.Command{SurveyResponse: res}, from); err != nil {
		cl.n.log.Warn("survey response", "op", req.Op, "error", err)
	}
}

func subscribeOptionsFromControl(s *controlpb.Subscribe) SubscribeOptions {
	o := SubscribeOptions{ExpireAt: s.ExpireAt, ChanInfo: s.ChannelInfo, Data: s.Data, Client: s.Client, Session: s.Session}
	if s.RecoverSince != nil {
		o.RecoverSince = &broker.StreamPosition{Offset: s.RecoverSince.Offset, Epoch: s.RecoverSince.Epoch}
	}
	b := func(bit uint32, v bool) *bool {
		if s.OverrideMask&bit == 0 {
			return nil
		}
		return &v
	}
	o.Override = SubscribeOverride{
		Presence: b(maskPresence, s.EmitPresence), JoinLeave: b(maskJoinLeave, s.EmitJoinLeave),
		ForcePushJoinLeave: b(maskPushJoinLeave, s.PushJoinLeave), ForcePositioning: b(maskPositioning, s.Position),
		ForceRecovery: b(maskRecovery, s.Recover),
	}
	return o
}

func subscribeToControl(user, ch string, o SubscribeOptions) *controlpb.Subscribe {
	s := &controlpb.Subscribe{User: user, Channel: ch, ExpireAt: o.ExpireAt, ChannelInfo: o.ChanInfo, Data: o.Data, Client: o.Client, Session: o.Session}
	if o.RecoverSince != nil {
		s.RecoverSince = &controlpb.StreamPosition{Offset: o.RecoverSince.Offset, Epoch: o.RecoverSince.Epoch}
	}
	set := func(bit uint32, v *bool, dst *bool) {
		if v != nil {
			s.OverrideMask |= bit
			*dst = *v
		}
	}
	set(maskPresence, o.Override.Presence, &s.EmitPresence)
	set(maskJoinLeave, o.Override.JoinLeave, &s.EmitJoinLeave)
	set(maskPushJoinLeave, o.Override.ForcePushJoinLeave, &s.PushJoinLeave)
	set(maskPositioning, o.Override.ForcePositioning, &s.Position)
	set(maskRecovery, o.Override.ForceRecovery, &s.Recover)
	return s
}

// ErrNodeNotFound is returned when an emulation request names a node that
// did not answer.
var ErrNodeNotFound = errors.New("node not found")

// HandleEmulationOn routes an emulation frame to the node owning session:
// this node when nodeID is empty or its own id, otherwise through a survey
// over the control channel.
func (n *Node) HandleEmulationOn(ctx context.Context, nodeID, session string, frame []byte) error {
	if nodeID == "" || nodeID == n.id {
		return n.HandleEmulation(ctx, session, frame)
	}
	data, err := json.Marshal(emulationRequest{Session: session, Data: frame})
	if err != nil {
		return err
	}
	res, err := n.cluster.survey(ctx, surveyEmulation, data, nodeID)
	if err != nil || len(res) == 0 {
		return ErrNodeNotFound
	}
	if res[0].Code == 3 {
		return ErrSessionNotFound
	}
	if res[0].Code != 0 {
		return errors.New("emulation: remote node failed")
	}
	return nil
}
