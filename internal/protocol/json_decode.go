package protocol

import (
	"bytes"
	"fmt"

	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// DecodeCommandsJSON decodes a JSON client frame: Command objects separated
// by single '\n' bytes, with at most one trailing '\n'. Keys are the proto
// field names; unknown keys are skipped, null means "not set", 64-bit (and
// other) integers may be numbers or quoted numbers, and bytes fields (data)
// take any JSON value, whose raw text is copied so that the result does not
// alias frame.
//
// An empty frame returns ErrEmptyFrame, more than MaxCommandsPerFrame
// commands ErrTooManyCommands; anything else that is not a valid frame
// (including invalid UTF-8 and empty lines) returns an error wrapping
// ErrMalformed.
func DecodeCommandsJSON(frame []byte) ([]*protocolpb.Command, error) {
	if n := len(frame); n > 0 && frame[n-1] == '\n' {
		frame = frame[:n-1]
	}
	if len(frame) == 0 {
		return nil, ErrEmptyFrame
	}
	count := bytes.Count(frame, []byte{'\n'}) + 1
	if count > MaxCommandsPerFrame {
		return nil, ErrTooManyCommands
	}
	cmds := make([]*protocolpb.Command, 0, count)
	var d jsonDecoder
	for i := range count {
		line := frame
		if j := bytes.IndexByte(frame, '\n'); j >= 0 {
			line, frame = frame[:j], frame[j+1:]
		} else {
			frame = nil
		}
		d.data, d.pos, d.depth = line, 0, 0
		cmd := new(protocolpb.Command)
		if err := d.command(cmd); err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		if err := d.end(); err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// DecodeConnectRequestJSON decodes one bare ConnectRequest object, as sent
// by unidirectional transports (cf_connect). Surrounding whitespace,
// including newlines, is allowed. Empty input returns ErrEmptyFrame; other
// errors wrap ErrMalformed. The result does not alias b.
func DecodeConnectRequestJSON(b []byte) (*protocolpb.ConnectRequest, error) {
	d := jsonDecoder{data: b}
	if d.peek() == 0 && d.pos == len(b) {
		return nil, ErrEmptyFrame
	}
	req := new(protocolpb.ConnectRequest)
	if err := d.connectRequest(req); err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return req, nil
}

// DecodeEmulationRequestJSON decodes the JSON body of an /emulation request:
// {"node":..,"session":..,"data":..} where data is a JSON string holding the
// command frame to pass on to the session. Empty input returns ErrEmptyFrame;
// other errors wrap ErrMalformed. The result does not alias b.
func DecodeEmulationRequestJSON(b []byte) (*protocolpb.EmulationRequest, error) {
	d := jsonDecoder{data: b}
	if d.peek() == 0 && d.pos == len(b) {
		return nil, ErrEmptyFrame
	}
	req := new(protocolpb.EmulationRequest)
	if err := d.beginObject(); err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		key, ok, err := d.nextKey(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "node":
			req.Node, err = d.string()
		case "session":
			req.Session, err = d.string()
		case "data":
			req.Data, err = d.stringAsBytes()
		default:
			err = d.skipValue()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return req, nil
}

// object calls field for each member of the object at the current position;
// field must consume the value. A null value leaves everything unset.
func (d *jsonDecoder) object(field func(key []byte) error) error {
	if err := d.beginObject(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		key, ok, err := d.nextKey(n)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := field(key); err != nil {
			return err
		}
	}
}

// message decodes a nullable message field with fill.
func message[T any](d *jsonDecoder, fill func(*jsonDecoder, *T) error) (*T, error) {
	if d.null() {
		return nil, nil
	}
	m := new(T)
	if err := fill(d, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *jsonDecoder) string() (string, error) {
	if d.null() {
		return "", nil
	}
	d.skipWS()
	b, err := d.stringBytes()
	return string(b), err
}

func (d *jsonDecoder) stringAsBytes() ([]byte, error) {
	if d.null() {
		return nil, nil
	}
	d.skipWS()
	b, err := d.stringBytes()
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return bytes.Clone(b), nil
}

func (d *jsonDecoder) bool() (bool, error) {
	switch d.peek() {
	case 't':
		if d.literal("true") {
			return true, nil
		}
	case 'f':
		if d.literal("false") {
			return false, nil
		}
	case 'n':
		if d.literal("null") {
			return false, nil
		}
	}
	return false, d.syntax("expected boolean")
}

// integer returns the text of an integer given as a number or as a quoted
// number; empty text means null.
func (d *jsonDecoder) integer() ([]byte, error) {
	switch c := d.peek(); {
	case c == 'n':
		if d.literal("null") {
			return nil, nil
		}
	case c == '"':
		b, err := d.stringBytes()
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, d.syntax("expected integer")
		}
		return b, nil
	case c == '-' || isDigit(c):
		return d.number()
	}
	return nil, d.syntax("expected integer")
}

// uint decodes an unsigned integer that must fit in bits bits.
func (d *jsonDecoder) uint(bits uint) (uint64, error) {
	lit, err := d.integer()
	if err != nil || lit == nil {
		return 0, err
	}
	limit := uint64(1)<<bits - 1
	var v uint64
	for _, c := range lit {
		if !isDigit(c) {
			return 0, d.syntax("expected unsigned integer")
		}
		digit := uint64(c - '0')
		if v > (limit-digit)/10 {
			return 0, d.syntax("integer overflow")
		}
		v = v*10 + digit
	}
	return v, nil
}

// int decodes a signed integer that must fit in bits bits.
func (d *jsonDecoder) int(bits uint) (int64, error) {
	lit, err := d.integer()
	if err != nil || lit == nil {
		return 0, err
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) == 0 {
		return 0, d.syntax("expected integer")
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	var v uint64
	for _, c := range lit {
		if !isDigit(c) {
			return 0, d.syntax("expected integer")
		}
		digit := uint64(c - '0')
		if v > (limit-digit)/10 {
			return 0, d.syntax("integer overflow")
		}
		v = v*10 + digit
	}
	if neg {
		return -int64(v), nil //nolint:gosec // v <= 1<<63 by the limit check.
	}
	return int64(v), nil //nolint:gosec // v < 1<<63 by the limit check.
}

func (d *jsonDecoder) uint32() (uint32, error) {
	v, err := d.uint(32)
	return uint32(v), err //nolint:gosec // bounded by uint(32).
}

// raw decodes a bytes field: the raw JSON text of any value (null
// included), copied.
func (d *jsonDecoder) raw() ([]byte, error) {
	return d.rawValue()
}

func (d *jsonDecoder) command(c *protocolpb.Command) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "id":
			c.Id, err = d.uint32()
		case "connect":
			c.Connect, err = message(d, (*jsonDecoder).connectRequest)
		case "subscribe":
			c.Subscribe, err = message(d, (*jsonDecoder).subscribeRequest)
		case "unsubscribe":
			c.Unsubscribe, err = message(d, func(d *jsonDecoder, m *protocolpb.UnsubscribeRequest) error {
				return d.channelOnly(&m.Channel)
			})
		case "publish":
			c.Publish, err = message(d, (*jsonDecoder).publishRequest)
		case "presence":
			c.Presence, err = message(d, func(d *jsonDecoder, m *protocolpb.PresenceRequest) error {
				return d.channelOnly(&m.Channel)
			})
		case "presence_stats":
			c.PresenceStats, err = message(d, func(d *jsonDecoder, m *protocolpb.PresenceStatsRequest) error {
				return d.channelOnly(&m.Channel)
			})
		case "history":
			c.History, err = message(d, (*jsonDecoder).historyRequest)
		case "ping":
			c.Ping, err = message(d, func(d *jsonDecoder, _ *protocolpb.PingRequest) error {
				return d.object(func([]byte) error { return d.skipValue() })
			})
		case "send":
			c.Send, err = message(d, func(d *jsonDecoder, m *protocolpb.SendRequest) error {
				return d.object(func(key []byte) (err error) {
					if string(key) == "data" {
						m.Data, err = d.raw()
						return err
					}
					return d.skipValue()
				})
			})
		case "rpc":
			c.Rpc, err = message(d, (*jsonDecoder).rpcRequest)
		case "refresh":
			c.Refresh, err = message(d, func(d *jsonDecoder, m *protocolpb.RefreshRequest) error {
				return d.object(func(key []byte) (err error) {
					if string(key) == "token" {
						m.Token, err = d.string()
						return err
					}
					return d.skipValue()
				})
			})
		case "sub_refresh":
			c.SubRefresh, err = message(d, (*jsonDecoder).subRefreshRequest)
		default:
			err = d.skipValue()
		}
		return err
	})
}

// channelOnly decodes the request messages whose only field is channel.
func (d *jsonDecoder) channelOnly(channel *string) error {
	return d.object(func(key []byte) (err error) {
		if string(key) == "channel" {
			*channel, err = d.string()
			return err
		}
		return d.skipValue()
	})
}

func (d *jsonDecoder) connectRequest(m *protocolpb.ConnectRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "token":
			m.Token, err = d.string()
		case "data":
			m.Data, err = d.raw()
		case "subs":
			m.Subs, err = mapOf(d, func(d *jsonDecoder) (*protocolpb.SubscribeRequest, error) {
				return message(d, (*jsonDecoder).subscribeRequest)
			})
		case "name":
			m.Name, err = d.string()
		case "version":
			m.Version, err = d.string()
		case "headers":
			m.Headers, err = mapOf(d, (*jsonDecoder).string)
		case "flag":
			m.Flag, err = d.int(64)
		default:
			err = d.skipValue()
		}
		return err
	})
}

// mapOf decodes a JSON object into a map (nil for null), decoding values
// with value.
func mapOf[V any](d *jsonDecoder, value func(*jsonDecoder) (V, error)) (map[string]V, error) {
	if d.null() {
		return nil, nil
	}
	m := make(map[string]V)
	err := d.object(func(key []byte) error {
		k := string(key) // copy before value reuses scratch
		v, err := value(d)
		if err != nil {
			return err
		}
		m[k] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (d *jsonDecoder) subscribeRequest(m *protocolpb.SubscribeRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "channel":
			m.Channel, err = d.string()
		case "token":
			m.Token, err = d.string()
		case "recover":
			m.Recover, err = d.bool()
		case "epoch":
			m.Epoch, err = d.string()
		case "offset":
			m.Offset, err = d.uint(64)
		case "data":
			m.Data, err = d.raw()
		case "positioned":
			m.Positioned, err = d.bool()
		case "recoverable":
			m.Recoverable, err = d.bool()
		case "join_leave":
			m.JoinLeave, err = d.bool()
		case "delta":
			m.Delta, err = d.string()
		case "tf":
			m.Tf, err = message(d, (*jsonDecoder).filterNode)
		case "flag":
			m.Flag, err = d.int(64)
		default:
			err = d.skipValue()
		}
		return err
	})
}

func (d *jsonDecoder) filterNode(m *protocolpb.FilterNode) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "op":
			m.Op, err = d.string()
		case "key":
			m.Key, err = d.string()
		case "cmp":
			m.Cmp, err = d.string()
		case "val":
			m.Val, err = d.string()
		case "vals":
			m.Vals, err = listOf(d, (*jsonDecoder).string)
		case "nodes":
			m.Nodes, err = listOf(d, func(d *jsonDecoder) (*protocolpb.FilterNode, error) {
				n, err := message(d, (*jsonDecoder).filterNode)
				if n == nil && err == nil {
					n = new(protocolpb.FilterNode)
				}
				return n, err
			})
		default:
			err = d.skipValue()
		}
		return err
	})
}

// listOf decodes a JSON array (nil for null), decoding elements with elem.
func listOf[V any](d *jsonDecoder, elem func(*jsonDecoder) (V, error)) ([]V, error) {
	if d.null() {
		return nil, nil
	}
	if err := d.beginArray(); err != nil {
		return nil, err
	}
	var list []V
	for n := 0; ; n++ {
		ok, err := d.nextElem(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			return list, nil
		}
		v, err := elem(d)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
}

func (d *jsonDecoder) publishRequest(m *protocolpb.PublishRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "channel":
			m.Channel, err = d.string()
		case "data":
			m.Data, err = d.raw()
		default:
			err = d.skipValue()
		}
		return err
	})
}

func (d *jsonDecoder) historyRequest(m *protocolpb.HistoryRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "channel":
			m.Channel, err = d.string()
		case "limit":
			var v int64
			v, err = d.int(32)
			m.Limit = int32(v) //nolint:gosec // bounded by int(32).
		case "since":
			m.Since, err = message(d, (*jsonDecoder).streamPosition)
		case "reverse":
			m.Reverse, err = d.bool()
		default:
			err = d.skipValue()
		}
		return err
	})
}

func (d *jsonDecoder) streamPosition(m *protocolpb.StreamPosition) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "offset":
			m.Offset, err = d.uint(64)
		case "epoch":
			m.Epoch, err = d.string()
		default:
			err = d.skipValue()
		}
		return err
	})
}

func (d *jsonDecoder) rpcRequest(m *protocolpb.RPCRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "data":
			m.Data, err = d.raw()
		case "method":
			m.Method, err = d.string()
		default:
			err = d.skipValue()
		}
		return err
	})
}

func (d *jsonDecoder) subRefreshRequest(m *protocolpb.SubRefreshRequest) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "channel":
			m.Channel, err = d.string()
		case "token":
			m.Token, err = d.string()
		default:
			err = d.skipValue()
		}
		return err
	})
}
