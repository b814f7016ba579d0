package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald/internal/broker"
)

// ErrNotStarted is returned by methods called before Start.
var ErrNotStarted = errors.New("redis: broker not started")

// dispatchQueueSize is the capacity of each dispatch worker's queue.
const dispatchQueueSize = 1024

// Broker is a broker.Broker, broker.Closer and broker.Controller backed by
// Redis: PUB/SUB between nodes, history in Redis Streams written atomically
// with the publish by a Lua script, and control messages on the control
// channels. Create it with New, call Start (and StartControl on a node that
// needs control messages), and Close it when done. All methods are safe for
// concurrent use.
type Broker struct {
	opts   Options
	shards []*shard
	keys   []keys       // per shard
	subs   [][]*subConn // per shard, Options.SubscribeConns each
	queues []chan event // per dispatch worker
	seed   maphash.Seed

	handler atomic.Pointer[handlerBox]
	control atomic.Pointer[controlBox]

	lifecycle sync.Mutex // serialises Start, StartControl and Close
	running   bool       // goroutines started; guarded by lifecycle
	closed    atomic.Bool
	stop      chan struct{}
	wg        sync.WaitGroup
}

var (
	_ broker.Broker     = (*Broker)(nil)
	_ broker.Closer     = (*Broker)(nil)
	_ broker.Controller = (*Broker)(nil)
)

type handlerBox struct{ h broker.EventHandler }

type controlBox struct {
	broadcast string // P.control
	direct    string // P.node.<nodeID>
	h         broker.ControlHandler
}

// New connects to the Redis deployment described by opts (defaults applied
// to zero values) and returns an unstarted Broker. It fails if a Redis
// server cannot be reached within the connect timeout.
func New(opts Options) (*Broker, error) {
	opts = opts.withDefaults()
	shards, err := connect(opts)
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts:   opts,
		shards: shards,
		seed:   maphash.MakeSeed(),
		stop:   make(chan struct{}),
	}
	for _, s := range shards {
		b.keys = append(b.keys, keys{prefix: opts.Prefix, cluster: s.cluster})
		conns := make([]*subConn, opts.SubscribeConns)
		for i := range conns {
			conns[i] = newSubConn(b, s)
		}
		b.subs = append(b.subs, conns)
	}
	b.queues = make([]chan event, opts.DispatchWorkers)
	for i := range b.queues {
		b.queues[i] = make(chan event, dispatchQueueSize)
	}
	return b, nil
}

// runLocked starts the PUB/SUB connections and dispatch workers once.
// b.lifecycle must be held.
func (b *Broker) runLocked() {
	if b.running {
		return
	}
	b.running = true
	for _, q := range b.queues {
		b.wg.Add(1)
		go b.worker(q)
	}
	for _, conns := range b.subs {
		for _, c := range conns {
			b.wg.Add(1)
			go c.run()
		}
	}
}

// Start binds the broker to h and starts its PUB/SUB connections and
// dispatch workers. It returns an error if called twice or after Close.
func (b *Broker) Start(_ context.Context, h broker.EventHandler) error {
	if h == nil {
		return errors.New("redis: nil event handler")
	}
	b.lifecycle.Lock()
	defer b.lifecycle.Unlock()
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if !b.handler.CompareAndSwap(nil, &handlerBox{h: h}) {
		return errors.New("redis: broker already started")
	}
	b.runLocked()
	return nil
}

// Close stops the PUB/SUB connections and dispatch workers, waits for them
// (or for ctx) and closes the Redis clients. Every later call fails with
// broker.ErrClosed. Close is idempotent.
func (b *Broker) Close(ctx context.Context) error {
	b.lifecycle.Lock()
	first := b.closed.CompareAndSwap(false, true)
	if first {
		close(b.stop)
	}
	b.lifecycle.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if first {
		for _, s := range b.shards {
			s.client.Close()
		}
	}
	return nil
}

func (b *Broker) isStopping() bool { return b.closed.Load() }

func errClosed() error { return broker.ErrClosed }

// started returns nil when the broker may serve calls.
func (b *Broker) started() error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if b.handler.Load() == nil {
		return ErrNotStarted
	}
	return nil
}

// ioContext bounds ctx by the IO timeout.
func (b *Broker) ioContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.opts.IOTimeout)
}

// shardOf returns the shard holding ch and its key builder.
func (b *Broker) shardOf(ch string) (*shard, keys) {
	i := shardIndex(ch, len(b.shards))
	return b.shards[i], b.keys[i]
}

// subConnOf returns the PUB/SUB connection ch is subscribed on.
func (b *Broker) subConnOf(ch string) *subConn {
	i := shardIndex(ch, len(b.shards))
	conns := b.subs[i]
	return conns[maphash.String(b.seed, ch)%uint64(len(conns))]
}

func (b *Broker) workerIndex(pubsubChannel string) int {
	return int(maphash.String(b.seed, pubsubChannel) % uint64(len(b.queues)))
}

// Subscribe subscribes this node to the PUB/SUB channel of ch. It returns
// once Redis has confirmed the subscription, so a publication made after it
// returns is delivered. It fails while the PUB/SUB connection of ch is down
// (ErrUnavailable); the channel is then not subscribed.
func (b *Broker) Subscribe(ctx context.Context, ch string) error {
	if err := b.started(); err != nil {
		return err
	}
	_, k := b.shardOf(ch)
	return b.subConnOf(ch).request(ctx, k.clientChannel(ch), true)
}

// Unsubscribe unsubscribes this node from the PUB/SUB channel of ch. The
// channel is forgotten even if Redis cannot be told (the connection is then
// broken and the channel will not be subscribed again).
func (b *Broker) Unsubscribe(ctx context.Context, ch string) error {
	if err := b.started(); err != nil {
		return err
	}
	_, k := b.shardOf(ch)
	return b.subConnOf(ch).request(ctx, k.clientChannel(ch), false)
}

// Publish publishes data into ch. Without history (HistorySize or
// HistoryTTL zero) and without an idempotency key it is one PUBLISH of the
// protobuf Publication. Otherwise one Lua script checks the idempotency key,
// creates the stream meta (new epoch) if needed, checks the version,
// increments the offset, appends to the stream (MAXLEN HistorySize, expiry
// HistoryTTL), picks the previous publication for UseDelta, publishes with
// the position header and stores the idempotency result, atomically. The
// semantics of suppression are those of the memory broker. Delivery to this
// node's EventHandler is asynchronous (through PUB/SUB). Errors reaching
// Redis wrap ErrUnavailable and happen within Options.IOTimeout.
func (b *Broker) Publish(ctx context.Context, ch string, data []byte, opts broker.PublishOptions) (broker.PublishResult, error) {
	if err := b.started(); err != nil {
		return broker.PublishResult{}, err
	}
	s, k := b.shardOf(ch)
	payload, err := encodePublication(data, &opts, b.opts.Now().UnixMilli())
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("redis: encode publication: %w", err)
	}
	ctx, cancel := b.ioContext(ctx)
	defer cancel()
	withHistory := opts.HistorySize > 0 && opts.HistoryTTL > 0
	if !withHistory && opts.IdempotencyKey == "" {
		return broker.PublishResult{}, wrapErr("publish", s.addr, s.client.Do(ctx, channelPublish(s, k, ch, payload)).Error())
	}
	histSize, histTTL := "0", "0"
	if withHistory {
		histSize = strconv.Itoa(opts.HistorySize)
		histTTL = millis(int64(opts.HistoryTTL))
	}
	resultTTL := "0"
	if opts.IdempotencyKey != "" {
		resultTTL = millis(int64(orDefault(opts.IdempotentResultTTL, DefaultIdempotentResultTTL)))
	}
	useDelta := "0"
	if opts.UseDelta {
		useDelta = "1"
	}
	res := publishScript.Exec(ctx, s.client,
		[]string{k.stream(ch), k.streamMeta(ch), k.result(ch, opts.IdempotencyKey)},
		[]string{
			rueidis.BinaryString(payload),
			histSize,
			histTTL,
			k.clientChannel(ch),
			millis(int64(orDefault(opts.HistoryMetaTTL, DefaultHistoryMetaTTL))),
			newEpoch(),
			resultTTL,
			useDelta,
			strconv.FormatUint(opts.Version, 10),
			opts.VersionEpoch,
		})
	arr, err := res.ToArray()
	if err != nil {
		return broker.PublishResult{}, wrapErr("publish script", s.addr, err)
	}
	if len(arr) != 3 {
		return broker.PublishResult{}, fmt.Errorf("redis: publish script returned %d values", len(arr))
	}
	offset, err := asUint(arr[0])
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("redis: publish script offset: %w", err)
	}
	epoch, _ := arr[1].ToString()
	suppressed, _ := arr[2].AsInt64()
	return broker.PublishResult{
		Position:   broker.StreamPosition{Offset: offset, Epoch: epoch},
		Suppressed: suppressed == 1,
	}, nil
}

// PublishJoin publishes a join event into ch (never stored).
func (b *Broker) PublishJoin(ctx context.Context, ch string, info *broker.ClientInfo) error {
	return b.publishInfo(ctx, ch, prefixJoin, info)
}

// PublishLeave publishes a leave event into ch (never stored).
func (b *Broker) PublishLeave(ctx context.Context, ch string, info *broker.ClientInfo) error {
	return b.publishInfo(ctx, ch, prefixLeave, info)
}

func (b *Broker) publishInfo(ctx context.Context, ch, prefix string, info *broker.ClientInfo) error {
	if err := b.started(); err != nil {
		return err
	}
	payload, err := encodeInfo(prefix, info)
	if err != nil {
		return fmt.Errorf("redis: encode client info: %w", err)
	}
	s, k := b.shardOf(ch)
	ctx, cancel := b.ioContext(ctx)
	defer cancel()
	return wrapErr("publish", s.addr, s.client.Do(ctx, channelPublish(s, k, ch, payload)).Error())
}

// channelPublish builds the PUBLISH of payload into ch. In a Redis Cluster
// a PUBLISH may run on any node and reaches subscribers on other nodes
// through the cluster bus, so two PUBLISHes of one channel sent to
// different nodes can arrive out of order; every PUBLISH of ch therefore
// goes to the node owning ch's stream slot, where the history script also
// publishes. Elsewhere the slot is ignored.
func channelPublish(s *shard, k keys, ch string, payload []byte) rueidis.Completed {
	return s.client.B().Publish().Channel(k.clientChannel(ch)).Message(rueidis.BinaryString(payload)).Build().SetSlot(k.stream(ch))
}

// History reads the stream of ch with one Lua script that also creates the
// stream meta (new epoch, offset 0) if there is none and refreshes its TTL
// (opts.MetaTTL, or DefaultHistoryMetaTTL when zero). Filter semantics are
// those of the memory broker: Limit 0 returns the position only, -1 all
// publications; Since is exclusive; a Since epoch other than the stream's
// gives broker.ErrUnrecoverablePosition with the current position; a
// reverse read with a zero Since offset gives broker.ErrBadRequest.
func (b *Broker) History(ctx context.Context, ch string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if err := b.started(); err != nil {
		return nil, broker.StreamPosition{}, err
	}
	f := opts.Filter
	if f.Reverse && f.Since != nil && f.Since.Offset == 0 {
		return nil, broker.StreamPosition{}, broker.ErrBadRequest
	}
	read := f.Limit != 0
	from, to := "-", "+"
	sinceEpoch := ""
	if f.Since != nil {
		sinceEpoch = f.Since.Epoch
		switch {
		case f.Reverse && f.Since.Offset == 1:
			read = false // nothing before the first offset
		case f.Reverse:
			to = strconv.FormatUint(f.Since.Offset-1, 10)
		case f.Since.Offset == math.MaxUint64:
			read = false
		default:
			from = strconv.FormatUint(f.Since.Offset+1, 10)
		}
	}
	count := "0"
	if f.Limit > 0 {
		count = strconv.Itoa(f.Limit)
	}
	s, k := b.shardOf(ch)
	ctx, cancel := b.ioContext(ctx)
	defer cancel()
	res := historyScript.Exec(ctx, s.client,
		[]string{k.stream(ch), k.streamMeta(ch)},
		[]string{
			newEpoch(),
			millis(int64(orDefault(opts.MetaTTL, DefaultHistoryMetaTTL))),
			sinceEpoch,
			boolArg(read),
			boolArg(f.Reverse),
			from,
			to,
			count,
		})
	arr, err := res.ToArray()
	if err != nil {
		return nil, broker.StreamPosition{}, wrapErr("history script", s.addr, err)
	}
	if len(arr) != 4 {
		return nil, broker.StreamPosition{}, fmt.Errorf("redis: history script returned %d values", len(arr))
	}
	top, err := asUint(arr[0])
	if err != nil {
		return nil, broker.StreamPosition{}, fmt.Errorf("redis: history script offset: %w", err)
	}
	epoch, _ := arr[1].ToString()
	sp := broker.StreamPosition{Offset: top, Epoch: epoch}
	if mismatch, _ := arr[2].AsInt64(); mismatch == 1 {
		return nil, sp, broker.ErrUnrecoverablePosition
	}
	entries, err := arr[3].ToArray()
	if err != nil {
		return nil, sp, fmt.Errorf("redis: history entries: %w", err)
	}
	if len(entries) == 0 {
		return nil, sp, nil
	}
	pubs := make([]*broker.Publication, 0, len(entries))
	for _, e := range entries {
		pub, err := decodeEntry(e)
		if err != nil {
			return nil, sp, err
		}
		pubs = append(pubs, pub)
	}
	return pubs, sp, nil
}

// decodeEntry decodes a stream entry [id, [field, value, ...]].
func decodeEntry(e rueidis.RedisMessage) (*broker.Publication, error) {
	parts, err := e.ToArray()
	if err != nil || len(parts) != 2 {
		return nil, fmt.Errorf("redis: malformed stream entry: %v", err)
	}
	id, err := parts[0].ToString()
	if err != nil {
		return nil, fmt.Errorf("redis: stream entry id: %w", err)
	}
	offStr, _, _ := strings.Cut(id, "-")
	offset, err := strconv.ParseUint(offStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redis: stream entry id %q: %w", id, err)
	}
	fields, err := parts[1].ToArray()
	if err != nil {
		return nil, fmt.Errorf("redis: stream entry fields: %w", err)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if name, _ := fields[i].ToString(); name == "d" {
			data, err := fields[i+1].ToString()
			if err != nil {
				return nil, fmt.Errorf("redis: stream entry data: %w", err)
			}
			pub, _, err := decodePublication([]byte(data), offset)
			if err != nil {
				return nil, fmt.Errorf("redis: stream entry %s: %w", id, err)
			}
			return pub, nil
		}
	}
	return nil, fmt.Errorf("redis: stream entry %s has no field d", id)
}

// RemoveHistory deletes the stream of ch; its meta (epoch, offset, version)
// is kept, so the next publish continues the same stream.
func (b *Broker) RemoveHistory(ctx context.Context, ch string) error {
	if err := b.started(); err != nil {
		return err
	}
	s, k := b.shardOf(ch)
	ctx, cancel := b.ioContext(ctx)
	defer cancel()
	return wrapErr("del", s.addr, s.client.Do(ctx, s.client.B().Del().Key(k.stream(ch)).Build()).Error())
}

// StartControl subscribes this node to the broadcast control channel
// (P.control) and to its own channel (P.node.<nodeID>) on the first shard;
// control messages are then delivered to h, in the order they were
// published by each node. It fails if called twice, after Close, or if
// Redis does not confirm the subscriptions.
func (b *Broker) StartControl(ctx context.Context, nodeID string, h broker.ControlHandler) error {
	if h == nil {
		return errors.New("redis: nil control handler")
	}
	b.lifecycle.Lock()
	if b.closed.Load() {
		b.lifecycle.Unlock()
		return broker.ErrClosed
	}
	box := &controlBox{
		broadcast: b.opts.Prefix + ".control",
		direct:    b.opts.Prefix + ".node." + nodeID,
		h:         h,
	}
	if !b.control.CompareAndSwap(nil, box) {
		b.lifecycle.Unlock()
		return errors.New("redis: control already started")
	}
	b.runLocked()
	b.lifecycle.Unlock()
	c := b.subs[0][0]
	if err := c.request(ctx, box.broadcast, true); err != nil {
		return err
	}
	return c.request(ctx, box.direct, true)
}

// PublishControl publishes data on P.control when toNode is empty, or on
// P.node.<toNode>.
func (b *Broker) PublishControl(ctx context.Context, data []byte, toNode string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	name := b.opts.Prefix + ".control"
	if toNode != "" {
		name = b.opts.Prefix + ".node." + toNode
	}
	s := b.shards[0]
	ctx, cancel := b.ioContext(ctx)
	defer cancel()
	cmd := s.client.B().Publish().Channel(name).Message(rueidis.BinaryString(data)).Build()
	return wrapErr("publish", s.addr, s.client.Do(ctx, cmd).Error())
}

// dispatch delivers one PUB/SUB message to the EventHandler or the
// ControlHandler. Handler errors and malformed payloads are logged: there
// is no caller to return them to.
func (b *Broker) dispatch(e event) {
	if cb := b.control.Load(); cb != nil && (e.channel == cb.broadcast || e.channel == cb.direct) {
		if err := cb.h.HandleControl([]byte(e.payload)); err != nil {
			b.opts.Logger.Debug("control handler error", "error", err)
		}
		return
	}
	hb := b.handler.Load()
	if hb == nil {
		return
	}
	ch, ok := strings.CutPrefix(e.channel, b.opts.Prefix+".client.")
	if !ok {
		return
	}
	m, err := decodeMessage(e.payload)
	if err != nil {
		b.opts.Logger.Warn("redis: dropping malformed PUB/SUB message", "channel", ch, "error", err)
		return
	}
	switch m.kind {
	case 'p':
		err = hb.h.HandlePublication(ch, m.pub, m.sp, m.useDelta, m.prev)
	case 'j':
		err = hb.h.HandleJoin(ch, m.info)
	case 'l':
		err = hb.h.HandleLeave(ch, m.info)
	}
	if err != nil {
		b.opts.Logger.Debug("event handler error", "channel", ch, "error", err)
	}
}

// asUint reads an integer or decimal-string reply.
func asUint(m rueidis.RedisMessage) (uint64, error) {
	if v, err := m.ToInt64(); err == nil {
		return uint64(v), nil
	}
	s, err := m.ToString()
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}

func boolArg(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

func orDefault[T ~int64](d, def T) T {
	if d <= 0 {
		return def
	}
	return d
}

// notifyResubscribe tells the event handler, when it wants to know, that
// channels were subscribed again after a broken PUB/SUB connection: events
// published meanwhile may have been lost.
func (b *Broker) notifyResubscribe(channels []string) {
	hb := b.handler.Load()
	if hb == nil {
		return
	}
	if rh, ok := hb.h.(broker.ResubscribeHandler); ok {
		go rh.HandleResubscribe(channels)
	}
}
