package engine

import (
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// preparedPush encodes a push lazily, once per (protocol, unidirectional)
// variant, and shares the bytes among all subscribers. It is used by one
// goroutine at a time (the broker delivery of one event).
type preparedPush struct {
	push *pb.Push
	enc  [4][]byte
	err  [4]error
	done [4]bool
}

func (p *preparedPush) get(t protocol.Type, uni bool) ([]byte, error) {
	i := int(t) * 2
	if uni {
		i++
	}
	if !p.done[i] {
		p.done[i] = true
		p.enc[i], p.err[i] = encodePush(t, uni, p.push)
	}
	return p.enc[i], p.err[i]
}

// encodePush encodes a push as a Reply (bidirectional) or as a bare Push
// (unidirectional transports).
func encodePush(t protocol.Type, uni bool, push *pb.Push) ([]byte, error) {
	if uni {
		if t == protocol.TypeProtobuf {
			return protocol.AppendPushProtobuf(nil, push)
		}
		return protocol.AppendPushJSON(nil, push)
	}
	return protocol.EncodeReply(t, &pb.Reply{Push: push})
}

func toProtoClientInfo(info *broker.ClientInfo) *pb.ClientInfo {
	if info == nil {
		return nil
	}
	return &pb.ClientInfo{User: info.User, Client: info.Client, ConnInfo: info.ConnInfo, ChanInfo: info.ChanInfo}
}

func toProtoPublication(pub *broker.Publication) *pb.Publication {
	return &pb.Publication{
		Data:    pub.Data,
		Info:    toProtoClientInfo(pub.Info),
		Offset:  pub.Offset,
		Tags:    pub.Tags,
		Channel: pub.Channel,
	}
}

// fanoutPublication delivers pub to every local subscriber of ch.
func (n *Node) fanoutPublication(ch string, pub *broker.Publication, sp broker.StreamPosition) {
	pp := &preparedPush{push: &pb.Push{Channel: ch, Pub: toProtoPublication(pub)}}
	n.hub.eachSub(ch, func(c *Client, sub *subscription) {
		c.deliverPublication(ch, sub, pub, sp, pp)
	})
}

// fanoutJoinLeave delivers a join or leave push to subscribers of ch that
// asked for join/leave pushes.
func (n *Node) fanoutJoinLeave(ch string, info *broker.ClientInfo, join bool) {
	push := &pb.Push{Channel: ch}
	if join {
		push.Join = &pb.Join{Info: toProtoClientInfo(info)}
	} else {
		push.Leave = &pb.Leave{Info: toProtoClientInfo(info)}
	}
	pp := &preparedPush{push: push}
	n.hub.eachSub(ch, func(c *Client, sub *subscription) {
		if sub.pushJoinLeave {
			c.deliverJoinLeave(ch, sub, pp)
		}
	})
}
