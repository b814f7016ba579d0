package bench

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// replyKind classifies a decoded server reply.
type replyKind uint8

const (
	// kindPing is an empty reply: a server ping to answer with a pong.
	kindPing replyKind = iota
	// kindResult answers a command (id > 0), successfully or with err.
	kindResult
	// kindPub is a publication push.
	kindPub
	// kindPushOther is any other push (join, leave, unsubscribe, ...).
	kindPushOther
)

// replyError is an error reply from the server, or a disconnect or
// unsubscribe push turned into an error.
type replyError struct {
	Code    uint32 `json:"code"`    // error, disconnect or unsubscribe code
	Message string `json:"message"` // message or reason
}

// Error returns "code N: message".
func (e *replyError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Message) }

// reply is the part of a server Reply the tool looks at.
type reply struct {
	kind    replyKind
	id      uint32
	err     *replyError
	channel string
	data    []byte // publication data; may alias the frame
	// connect result
	client string
	ping   uint32
	pong   bool
	// unsub or disconnect push
	pushErr *replyError
}

// jsonReply mirrors the Reply fields the tool reads, in the JSON protocol.
type jsonReply struct {
	ID      uint32      `json:"id"`
	Error   *replyError `json:"error"`
	Push    *jsonPush   `json:"push"`
	Connect *struct {
		Client string `json:"client"`
		Ping   uint32 `json:"ping"`
		Pong   bool   `json:"pong"`
	} `json:"connect"`
}

// jsonPush mirrors the Push fields the tool reads.
type jsonPush struct {
	Channel string `json:"channel"`
	Pub     *struct {
		Data json.RawMessage `json:"data"`
	} `json:"pub"`
	Unsubscribe *jsonCodeReason `json:"unsubscribe"`
	Disconnect  *jsonCodeReason `json:"disconnect"`
}

// jsonCodeReason is the body of an unsubscribe or disconnect push.
type jsonCodeReason struct {
	Code   uint32 `json:"code"`
	Reason string `json:"reason"`
}

// decodeJSONReply decodes one JSON-encoded Reply.
func decodeJSONReply(msg []byte, out *reply) error {
	var r jsonReply
	if err := json.Unmarshal(msg, &r); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	*out = reply{id: r.ID, err: r.Error}
	switch {
	case r.Push != nil:
		out.kind = kindPushOther
		out.channel = r.Push.Channel
		if r.Push.Pub != nil {
			out.kind = kindPub
			out.data = r.Push.Pub.Data
		}
		for _, cr := range []*jsonCodeReason{r.Push.Unsubscribe, r.Push.Disconnect} {
			if cr != nil {
				out.pushErr = &replyError{Code: cr.Code, Message: cr.Reason}
			}
		}
	case r.ID > 0:
		out.kind = kindResult
		if r.Connect != nil {
			out.client, out.ping, out.pong = r.Connect.Client, r.Connect.Ping, r.Connect.Pong
		}
	default:
		out.kind = kindPing
	}
	return nil
}

// decodeProtobufReply decodes one Protobuf-encoded Reply (without its
// length prefix). r is scratch space reused between calls.
func decodeProtobufReply(msg []byte, r *protocolpb.Reply, out *reply) error {
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(msg, r); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	*out = reply{id: r.GetId()}
	if e := r.GetError(); e != nil {
		out.err = &replyError{Code: e.GetCode(), Message: e.GetMessage()}
	}
	switch p := r.GetPush(); {
	case p != nil:
		out.kind = kindPushOther
		out.channel = p.GetChannel()
		if pub := p.GetPub(); pub != nil {
			out.kind = kindPub
			out.data = pub.GetData()
		}
		if u := p.GetUnsubscribe(); u != nil {
			out.pushErr = &replyError{Code: u.GetCode(), Message: u.GetReason()}
		}
		if d := p.GetDisconnect(); d != nil {
			out.pushErr = &replyError{Code: d.GetCode(), Message: d.GetReason()}
		}
	case out.id > 0:
		out.kind = kindResult
		if c := r.GetConnect(); c != nil {
			out.client, out.ping, out.pong = c.GetClient(), c.GetPing(), c.GetPong()
		}
	default:
		out.kind = kindPing
	}
	return nil
}

// encodeConnect returns one frame holding a connect command.
func encodeConnect(t protocol.Type, id uint32, token string) ([]byte, error) {
	if t == protocol.TypeProtobuf {
		return encodeProtobufCommand(&protocolpb.Command{Id: id, Connect: &protocolpb.ConnectRequest{Token: token, Name: "herald-bench"}})
	}
	type req struct {
		Token string `json:"token,omitempty"`
		Name  string `json:"name"`
	}
	return json.Marshal(struct {
		ID      uint32 `json:"id"`
		Connect req    `json:"connect"`
	}{id, req{token, "herald-bench"}})
}

// encodeSubscribe returns one frame holding a subscribe command.
func encodeSubscribe(t protocol.Type, id uint32, channel string) ([]byte, error) {
	if t == protocol.TypeProtobuf {
		return encodeProtobufCommand(&protocolpb.Command{Id: id, Subscribe: &protocolpb.SubscribeRequest{Channel: channel}})
	}
	type req struct {
		Channel string `json:"channel"`
	}
	return json.Marshal(struct {
		ID        uint32 `json:"id"`
		Subscribe req    `json:"subscribe"`
	}{id, req{channel}})
}

// encodeProtobufCommand returns one frame with c varint-length-prefixed.
func encodeProtobufCommand(c *protocolpb.Command) ([]byte, error) {
	b, err := proto.Marshal(c)
	if err != nil {
		return nil, err
	}
	return protocol.AppendFrame(protocol.TypeProtobuf, nil, [][]byte{b}), nil
}

// pongFrame returns the empty command that answers a server ping.
func pongFrame(t protocol.Type) []byte {
	if t == protocol.TypeProtobuf {
		return []byte{0}
	}
	return []byte("{}")
}
