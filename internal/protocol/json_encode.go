package protocol

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// AppendReplyJSON appends the JSON encoding of r to dst and returns the
// extended buffer. The encoding follows COMPAT.md §1.5: keys are the proto
// field names in field-number order, zero fields are omitted (except the few
// always-present ones), 64-bit integers are plain numbers, map keys are
// sorted, and bytes fields are embedded as raw JSON with '\n' bytes removed.
// No trailing newline is written. A nil or empty r encodes as {} (a ping).
//
// If a bytes field is not valid UTF-8 JSON the error wraps
// ErrInvalidJSONPayload and dst is returned with its original length.
// r is only read, so one Reply may be encoded from several goroutines.
func AppendReplyJSON(dst []byte, r *protocolpb.Reply) ([]byte, error) {
	e := jsonEncoder{buf: dst}
	e.reply(r)
	if e.err != nil {
		return dst, e.err
	}
	return e.buf, nil
}

// AppendPushJSON appends the JSON encoding of a bare Push, as written by
// unidirectional transports, to dst. The rules and errors are those of
// AppendReplyJSON; a nil or empty p encodes as {} (a ping).
func AppendPushJSON(dst []byte, p *protocolpb.Push) ([]byte, error) {
	e := jsonEncoder{buf: dst}
	e.push(p)
	if e.err != nil {
		return dst, e.err
	}
	return e.buf, nil
}

// jsonEncoder appends JSON to buf. The first error sticks in err; later
// writes still happen but the caller discards buf.
type jsonEncoder struct {
	buf []byte
	err error
}

// key appends a comma when the object already has a member, then k, which
// holds the quoted key and the colon. A member value never ends in '{', so
// the last byte tells whether the object is still empty.
func (e *jsonEncoder) key(k string) {
	if e.buf[len(e.buf)-1] != '{' {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, k...)
}

func (e *jsonEncoder) str(k, v string) {
	if v != "" {
		e.key(k)
		e.buf = appendString(e.buf, v)
	}
}

func (e *jsonEncoder) strAlways(k, v string) {
	e.key(k)
	e.buf = appendString(e.buf, v)
}

func (e *jsonEncoder) uint(k string, v uint64) {
	if v != 0 {
		e.key(k)
		e.buf = strconv.AppendUint(e.buf, v, 10)
	}
}

func (e *jsonEncoder) uintAlways(k string, v uint64) {
	e.key(k)
	e.buf = strconv.AppendUint(e.buf, v, 10)
}

func (e *jsonEncoder) int(k string, v int64) {
	if v != 0 {
		e.key(k)
		e.buf = strconv.AppendInt(e.buf, v, 10)
	}
}

func (e *jsonEncoder) bool(k string, v bool) {
	if v {
		e.key(k)
		e.buf = append(e.buf, "true"...)
	}
}

// raw embeds v as a raw JSON value after validating it; '\n' bytes (which
// valid JSON only has as whitespace) are dropped.
func (e *jsonEncoder) raw(k string, v []byte) {
	if len(v) == 0 || e.err != nil {
		return
	}
	if !validJSON(v) {
		e.err = &payloadError{field: k}
		return
	}
	e.key(k)
	for {
		i := bytes.IndexByte(v, '\n')
		if i < 0 {
			e.buf = append(e.buf, v...)
			return
		}
		e.buf = append(e.buf, v[:i]...)
		v = v[i+1:]
	}
}

// payloadError reports which field held an invalid JSON payload.
type payloadError struct{ field string }

func (p *payloadError) Error() string {
	return ErrInvalidJSONPayload.Error() + " (field " + p.field[:len(p.field)-1] + ")"
}

func (p *payloadError) Unwrap() error { return ErrInvalidJSONPayload }

// sortedKeys returns the keys of m in ascending order, using buf's storage
// when it is large enough.
func sortedKeys[V any](m map[string]V, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

func (e *jsonEncoder) reply(r *protocolpb.Reply) {
	e.buf = append(e.buf, '{')
	if r == nil {
		e.buf = append(e.buf, '}')
		return
	}
	e.uint(`"id":`, uint64(r.Id))
	if r.Error != nil {
		e.key(`"error":`)
		e.buf = append(e.buf, '{')
		e.uint(`"code":`, uint64(r.Error.Code))
		e.str(`"message":`, r.Error.Message)
		e.bool(`"temporary":`, r.Error.Temporary)
		e.buf = append(e.buf, '}')
	}
	if r.Push != nil {
		e.key(`"push":`)
		e.push(r.Push)
	}
	if r.Connect != nil {
		e.key(`"connect":`)
		e.connectResult(r.Connect)
	}
	if r.Subscribe != nil {
		e.key(`"subscribe":`)
		e.subscribeResult(r.Subscribe)
	}
	if r.Unsubscribe != nil {
		e.key(`"unsubscribe":{}`)
	}
	if r.Publish != nil {
		e.key(`"publish":{}`)
	}
	if r.Presence != nil {
		e.key(`"presence":`)
		e.presenceResult(r.Presence)
	}
	if r.PresenceStats != nil {
		e.key(`"presence_stats":`)
		e.buf = append(e.buf, '{')
		e.uintAlways(`"num_clients":`, uint64(r.PresenceStats.NumClients))
		e.uintAlways(`"num_users":`, uint64(r.PresenceStats.NumUsers))
		e.buf = append(e.buf, '}')
	}
	if r.History != nil {
		e.key(`"history":`)
		e.historyResult(r.History)
	}
	if r.Ping != nil {
		e.key(`"ping":{}`)
	}
	if r.Rpc != nil {
		e.key(`"rpc":`)
		e.buf = append(e.buf, '{')
		e.raw(`"data":`, r.Rpc.Data)
		e.buf = append(e.buf, '}')
	}
	if r.Refresh != nil {
		e.key(`"refresh":`)
		e.buf = append(e.buf, '{')
		e.str(`"client":`, r.Refresh.Client)
		e.str(`"version":`, r.Refresh.Version)
		e.bool(`"expires":`, r.Refresh.Expires)
		e.uint(`"ttl":`, uint64(r.Refresh.Ttl))
		e.buf = append(e.buf, '}')
	}
	if r.SubRefresh != nil {
		e.key(`"sub_refresh":`)
		e.buf = append(e.buf, '{')
		e.bool(`"expires":`, r.SubRefresh.Expires)
		e.uint(`"ttl":`, uint64(r.SubRefresh.Ttl))
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) push(p *protocolpb.Push) {
	e.buf = append(e.buf, '{')
	if p == nil {
		e.buf = append(e.buf, '}')
		return
	}
	e.int(`"id":`, p.Id)
	e.str(`"channel":`, p.Channel)
	if p.Pub != nil {
		e.key(`"pub":`)
		e.publication(p.Pub)
	}
	if p.Join != nil {
		e.key(`"join":`)
		e.infoWrapper(p.Join.Info)
	}
	if p.Leave != nil {
		e.key(`"leave":`)
		e.infoWrapper(p.Leave.Info)
	}
	if p.Unsubscribe != nil {
		e.key(`"unsubscribe":`)
		e.buf = append(e.buf, '{')
		e.uint(`"code":`, uint64(p.Unsubscribe.Code))
		e.str(`"reason":`, p.Unsubscribe.Reason)
		e.buf = append(e.buf, '}')
	}
	if p.Message != nil {
		e.key(`"message":`)
		e.buf = append(e.buf, '{')
		e.raw(`"data":`, p.Message.Data)
		e.buf = append(e.buf, '}')
	}
	if p.Subscribe != nil {
		s := p.Subscribe
		e.key(`"subscribe":`)
		e.buf = append(e.buf, '{')
		e.bool(`"recoverable":`, s.Recoverable)
		e.str(`"epoch":`, s.Epoch)
		e.uint(`"offset":`, s.Offset)
		e.bool(`"positioned":`, s.Positioned)
		e.raw(`"data":`, s.Data)
		e.buf = append(e.buf, '}')
	}
	if p.Connect != nil {
		e.key(`"connect":`)
		e.connectPush(p.Connect)
	}
	if p.Disconnect != nil {
		e.key(`"disconnect":`)
		e.buf = append(e.buf, '{')
		e.uint(`"code":`, uint64(p.Disconnect.Code))
		e.str(`"reason":`, p.Disconnect.Reason)
		e.bool(`"reconnect":`, p.Disconnect.Reconnect)
		e.buf = append(e.buf, '}')
	}
	if p.Refresh != nil {
		e.key(`"refresh":`)
		e.buf = append(e.buf, '{')
		e.bool(`"expires":`, p.Refresh.Expires)
		e.uint(`"ttl":`, uint64(p.Refresh.Ttl))
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, '}')
}

// infoWrapper encodes Join and Leave, whose only field is info.
func (e *jsonEncoder) infoWrapper(info *protocolpb.ClientInfo) {
	e.buf = append(e.buf, '{')
	if info != nil {
		e.key(`"info":`)
		e.clientInfo(info)
	}
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) clientInfo(c *protocolpb.ClientInfo) {
	e.buf = append(e.buf, '{')
	e.strAlways(`"user":`, c.User)
	e.strAlways(`"client":`, c.Client)
	e.raw(`"conn_info":`, c.ConnInfo)
	e.raw(`"chan_info":`, c.ChanInfo)
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) publication(p *protocolpb.Publication) {
	e.buf = append(e.buf, '{')
	e.raw(`"data":`, p.Data)
	if p.Info != nil {
		e.key(`"info":`)
		e.clientInfo(p.Info)
	}
	e.uint(`"offset":`, p.Offset)
	if len(p.Tags) > 0 {
		e.key(`"tags":`)
		e.stringMap(p.Tags)
	}
	e.bool(`"delta":`, p.Delta)
	e.int(`"time":`, p.Time)
	e.str(`"channel":`, p.Channel)
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) publications(k string, pubs []*protocolpb.Publication, always bool) {
	if len(pubs) == 0 && !always {
		return
	}
	e.key(k)
	e.buf = append(e.buf, '[')
	for i, p := range pubs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if p == nil {
			e.buf = append(e.buf, '{', '}')
			continue
		}
		e.publication(p)
	}
	e.buf = append(e.buf, ']')
}

func (e *jsonEncoder) stringMap(m map[string]string) {
	var arr [16]string
	e.buf = append(e.buf, '{')
	for i, k := range sortedKeys(m, arr[:0]) {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ':')
		e.buf = appendString(e.buf, m[k])
	}
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) subscribeResultMap(m map[string]*protocolpb.SubscribeResult) {
	var arr [16]string
	e.buf = append(e.buf, '{')
	for i, k := range sortedKeys(m, arr[:0]) {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ':')
		e.subscribeResult(m[k])
	}
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) connectResult(c *protocolpb.ConnectResult) {
	e.buf = append(e.buf, '{')
	e.str(`"client":`, c.Client)
	e.str(`"version":`, c.Version)
	e.bool(`"expires":`, c.Expires)
	e.uint(`"ttl":`, uint64(c.Ttl))
	e.raw(`"data":`, c.Data)
	if len(c.Subs) > 0 {
		e.key(`"subs":`)
		e.subscribeResultMap(c.Subs)
	}
	e.uint(`"ping":`, uint64(c.Ping))
	e.bool(`"pong":`, c.Pong)
	e.str(`"session":`, c.Session)
	e.str(`"node":`, c.Node)
	e.int(`"time":`, c.Time)
	e.buf = append(e.buf, '}')
}

// connectPush encodes the unidirectional Connect push, in its own field
// number order.
func (e *jsonEncoder) connectPush(c *protocolpb.Connect) {
	e.buf = append(e.buf, '{')
	e.str(`"client":`, c.Client)
	e.str(`"version":`, c.Version)
	e.raw(`"data":`, c.Data)
	if len(c.Subs) > 0 {
		e.key(`"subs":`)
		e.subscribeResultMap(c.Subs)
	}
	e.bool(`"expires":`, c.Expires)
	e.uint(`"ttl":`, uint64(c.Ttl))
	e.uint(`"ping":`, uint64(c.Ping))
	e.bool(`"pong":`, c.Pong)
	e.str(`"session":`, c.Session)
	e.str(`"node":`, c.Node)
	e.int(`"time":`, c.Time)
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) subscribeResult(s *protocolpb.SubscribeResult) {
	e.buf = append(e.buf, '{')
	if s == nil {
		e.buf = append(e.buf, '}')
		return
	}
	e.bool(`"expires":`, s.Expires)
	e.uint(`"ttl":`, uint64(s.Ttl))
	e.bool(`"recoverable":`, s.Recoverable)
	e.str(`"epoch":`, s.Epoch)
	e.publications(`"publications":`, s.Publications, false)
	e.bool(`"recovered":`, s.Recovered)
	e.uint(`"offset":`, s.Offset)
	e.bool(`"positioned":`, s.Positioned)
	e.raw(`"data":`, s.Data)
	e.bool(`"was_recovering":`, s.WasRecovering)
	e.bool(`"delta":`, s.Delta)
	e.int(`"id":`, s.Id)
	e.buf = append(e.buf, '}')
}

func (e *jsonEncoder) presenceResult(p *protocolpb.PresenceResult) {
	var arr [16]string
	e.buf = append(e.buf, `{"presence":{`...)
	for i, k := range sortedKeys(p.Presence, arr[:0]) {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ':')
		if info := p.Presence[k]; info != nil {
			e.clientInfo(info)
		} else {
			e.buf = append(e.buf, `{"user":"","client":""}`...)
		}
	}
	e.buf = append(e.buf, '}', '}')
}

func (e *jsonEncoder) historyResult(h *protocolpb.HistoryResult) {
	e.buf = append(e.buf, '{')
	e.publications(`"publications":`, h.Publications, true)
	e.strAlways(`"epoch":`, h.Epoch)
	e.uintAlways(`"offset":`, h.Offset)
	e.buf = append(e.buf, '}')
}
