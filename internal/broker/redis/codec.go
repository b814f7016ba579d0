package redis

import (
	"errors"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// PUB/SUB payload framing on P.client.<channel> (COMPAT.md §10.2).
const (
	prefixPosition = "__p1:" // __p1:<offset>:<epoch>__<Publication>
	prefixDelta    = "__d1:" // __d1:<offset>:<epoch>:<prevLen>:<prev>:<len>:<Publication>
	prefixJoin     = "__j__" // __j__<ClientInfo>
	prefixLeave    = "__l__" // __l__<ClientInfo>
)

var errBadPayload = errors.New("redis: malformed PUB/SUB payload")

func infoToProto(i *broker.ClientInfo) *protocolpb.ClientInfo {
	if i == nil {
		return nil
	}
	return &protocolpb.ClientInfo{User: i.User, Client: i.Client, ConnInfo: i.ConnInfo, ChanInfo: i.ChanInfo}
}

func infoFromProto(i *protocolpb.ClientInfo) *broker.ClientInfo {
	if i == nil {
		return nil
	}
	return &broker.ClientInfo{User: i.User, Client: i.Client, ConnInfo: i.ConnInfo, ChanInfo: i.ChanInfo}
}

// encodePublication returns the protobuf Publication stored in the stream
// and sent over PUB/SUB. The offset is not encoded: it travels in the stream
// entry id and in the payload header.
func encodePublication(data []byte, opts *broker.PublishOptions, timeMs int64) ([]byte, error) {
	return proto.Marshal(&protocolpb.Publication{
		Data:  data,
		Info:  infoToProto(opts.ClientInfo),
		Tags:  opts.Tags,
		Delta: opts.UseDelta,
		Time:  timeMs,
	})
}

func decodePublication(b []byte, offset uint64) (*broker.Publication, bool, error) {
	var p protocolpb.Publication
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, false, err
	}
	return &broker.Publication{
		Offset:  offset,
		Data:    p.Data,
		Info:    infoFromProto(p.Info),
		Tags:    p.Tags,
		Time:    p.Time,
		Channel: p.Channel,
	}, p.Delta, nil
}

func encodeInfo(prefix string, info *broker.ClientInfo) ([]byte, error) {
	b, err := proto.Marshal(infoToProto(info))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(prefix)+len(b))
	return append(append(out, prefix...), b...), nil
}

func decodeInfo(b []byte) (*broker.ClientInfo, error) {
	var i protocolpb.ClientInfo
	if err := proto.Unmarshal(b, &i); err != nil {
		return nil, err
	}
	return infoFromProto(&i), nil
}

// message is a decoded PUB/SUB payload.
type message struct {
	kind     byte // 'p' publication, 'j' join, 'l' leave
	pub      *broker.Publication
	sp       broker.StreamPosition
	useDelta bool
	prev     *broker.Publication
	info     *broker.ClientInfo
}

// decodeMessage parses a payload received on a channel's PUB/SUB channel.
func decodeMessage(s string) (message, error) {
	switch {
	case strings.HasPrefix(s, prefixJoin), strings.HasPrefix(s, prefixLeave):
		info, err := decodeInfo([]byte(s[len(prefixJoin):]))
		if err != nil {
			return message{}, err
		}
		return message{kind: s[2], info: info}, nil
	case strings.HasPrefix(s, prefixPosition):
		rest := s[len(prefixPosition):]
		offset, rest, ok := cutUint(rest, ':')
		if !ok {
			return message{}, errBadPayload
		}
		epoch, body, ok := strings.Cut(rest, "__")
		if !ok {
			return message{}, errBadPayload
		}
		pub, _, err := decodePublication([]byte(body), offset)
		if err != nil {
			return message{}, err
		}
		return message{kind: 'p', pub: pub, sp: broker.StreamPosition{Offset: offset, Epoch: epoch}}, nil
	case strings.HasPrefix(s, prefixDelta):
		rest := s[len(prefixDelta):]
		offset, rest, ok := cutUint(rest, ':')
		if !ok {
			return message{}, errBadPayload
		}
		epoch, rest, ok := strings.Cut(rest, ":")
		if !ok {
			return message{}, errBadPayload
		}
		prevBody, rest, ok := cutSized(rest)
		if !ok {
			return message{}, errBadPayload
		}
		body, _, ok := cutSized(rest)
		if !ok {
			return message{}, errBadPayload
		}
		pub, _, err := decodePublication([]byte(body), offset)
		if err != nil {
			return message{}, err
		}
		m := message{kind: 'p', pub: pub, sp: broker.StreamPosition{Offset: offset, Epoch: epoch}, useDelta: true}
		if len(prevBody) > 0 && offset > 1 {
			// Stream entries are contiguous, so the newest one before
			// this publication has the previous offset.
			if m.prev, _, err = decodePublication([]byte(prevBody), offset-1); err != nil {
				return message{}, err
			}
		}
		return m, nil
	default:
		pub, delta, err := decodePublication([]byte(s), 0)
		if err != nil {
			return message{}, err
		}
		return message{kind: 'p', pub: pub, useDelta: delta}, nil
	}
}

// cutUint parses a decimal number up to sep.
func cutUint(s string, sep byte) (uint64, string, bool) {
	i := strings.IndexByte(s, sep)
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, s[i+1:], true
}

// cutSized parses "<len>:<len bytes>" and an optional ':' after them.
func cutSized(s string) (body, rest string, ok bool) {
	n, rest, ok := cutUint(s, ':')
	if !ok || uint64(len(rest)) < n {
		return "", "", false
	}
	body, rest = rest[:n], rest[n:]
	rest = strings.TrimPrefix(rest, ":")
	return body, rest, true
}
