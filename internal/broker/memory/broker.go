package memory

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

// Defaults applied by New and by Publish/History for zero option values.
const (
	// DefaultHistoryMetaTTL is the stream meta lifetime used when
	// PublishOptions.HistoryMetaTTL or HistoryOptions.MetaTTL is zero.
	DefaultHistoryMetaTTL = 30 * 24 * time.Hour
	// DefaultIdempotentResultTTL is the idempotency key lifetime used when
	// PublishOptions.IdempotentResultTTL is zero.
	DefaultIdempotentResultTTL = 5 * time.Minute
	// DefaultSweepInterval is the sweeper period used when
	// Options.SweepInterval is zero.
	DefaultSweepInterval = time.Second
)

const (
	numShards    = 64   // data shards, each with its own mutex
	numPubLocks  = 1024 // publish-ordering lock stripes
	sweepBatch   = 256  // expiry entries handled per shard-lock hold
	pubLockShift = 6    // hash bits used by the shard index
)

// ErrNotStarted is returned by methods called before Start (or, for
// PublishControl, before StartControl).
var ErrNotStarted = errors.New("memory: broker not started")

// Options configure a Broker. The zero value is ready to use.
type Options struct {
	// Now returns the current time; expiry of history, stream meta and
	// idempotency results is computed from it. Nil means time.Now. Tests
	// inject a fake clock here.
	Now func() time.Time
	// SweepInterval is how often the background sweeper frees expired state.
	// Expiry is also checked on every access, so this bounds memory, not
	// correctness. Zero means DefaultSweepInterval.
	SweepInterval time.Duration
}

// Broker is an in-process broker.Broker for a single node. It also
// implements broker.Closer and broker.Controller (a loopback that delivers
// control messages to this node's own ControlHandler). Create it with New;
// it must be started with Start before use and stopped with Close. See the
// package documentation for the locking rules EventHandler implementations
// must respect.
type Broker struct {
	now           func() time.Time
	sweepInterval time.Duration
	seed          maphash.Seed

	shards   [numShards]shard
	pubLocks [numPubLocks]sync.Mutex

	handler atomic.Pointer[handlerBox] // set once by Start
	control atomic.Pointer[controlBox] // set once by StartControl
	closed  atomic.Bool

	lifecycle sync.Mutex // serialises Start and Close
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
	nodeID string
	h      broker.ControlHandler
}

// shard holds the channels whose hash maps to it.
type shard struct {
	mu       sync.Mutex
	channels map[string]*channel
	queue    expiryQueue
}

// New returns a Broker configured by opts with defaults applied.
func New(opts Options) *Broker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	b := &Broker{
		now:           opts.Now,
		sweepInterval: opts.SweepInterval,
		seed:          maphash.MakeSeed(),
		stop:          make(chan struct{}),
	}
	for i := range b.shards {
		b.shards[i].channels = make(map[string]*channel)
	}
	return b
}

// Start binds the broker to h and starts the expiry sweeper. It returns an
// error if called twice or after Close.
func (b *Broker) Start(_ context.Context, h broker.EventHandler) error {
	if h == nil {
		return errors.New("memory: nil event handler")
	}
	b.lifecycle.Lock()
	defer b.lifecycle.Unlock()
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if b.handler.Load() != nil {
		return errors.New("memory: broker already started")
	}
	b.handler.Store(&handlerBox{h: h})
	b.wg.Add(1)
	go b.sweepLoop()
	return nil
}

// Close stops the sweeper and makes every later call fail with
// broker.ErrClosed. It is idempotent and returns ctx.Err() if ctx ends before
// the sweeper has exited.
func (b *Broker) Close(ctx context.Context) error {
	b.lifecycle.Lock()
	if b.closed.CompareAndSwap(false, true) {
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
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventHandler returns the bound handler, or an error before Start or after
// Close.
func (b *Broker) eventHandler() (broker.EventHandler, error) {
	if b.closed.Load() {
		return nil, broker.ErrClosed
	}
	hb := b.handler.Load()
	if hb == nil {
		return nil, ErrNotStarted
	}
	return hb.h, nil
}

func (b *Broker) hash(ch string) uint64 { return maphash.String(b.seed, ch) }

func (b *Broker) shardOf(h uint64) *shard { return &b.shards[h%numShards] }

func (b *Broker) pubLockOf(h uint64) *sync.Mutex {
	return &b.pubLocks[(h>>pubLockShift)%numPubLocks]
}

// Subscribe is a no-op: a single-node broker delivers every channel to the
// node. It fails only before Start or after Close.
func (b *Broker) Subscribe(_ context.Context, _ string) error {
	_, err := b.eventHandler()
	return err
}

// Unsubscribe is a no-op; see Subscribe.
func (b *Broker) Unsubscribe(_ context.Context, _ string) error {
	_, err := b.eventHandler()
	return err
}

// Publish appends data to the history stream of ch (when opts.HistorySize
// and opts.HistoryTTL are both positive) and delivers it to the
// EventHandler before returning, as one step ordered per channel.
//
// A repeated IdempotencyKey within its TTL returns the first result with
// Suppressed set and delivers nothing. A positive Version not greater than
// the stored version of the same VersionEpoch (an empty VersionEpoch matches
// any) is suppressed: nothing is delivered and the result carries the
// current position. Versions are only checked for publishes with history.
// With UseDelta the previous retained publication (nil if none) is passed to
// HandlePublication as prev. The error of HandlePublication, if any, is
// returned together with the result; the publication is then already in
// history. ctx is not consulted: nothing here does I/O.
func (b *Broker) Publish(_ context.Context, ch string, data []byte, opts broker.PublishOptions) (broker.PublishResult, error) {
	h, err := b.eventHandler()
	if err != nil {
		return broker.PublishResult{}, err
	}
	hash := b.hash(ch)
	lk := b.pubLockOf(hash)
	lk.Lock()
	defer lk.Unlock()

	now := b.now()
	pub := &broker.Publication{
		Data: data,
		Info: opts.ClientInfo,
		Tags: opts.Tags,
		Time: now.UnixMilli(),
	}
	withHistory := opts.HistorySize > 0 && opts.HistoryTTL > 0
	if !withHistory && opts.IdempotencyKey == "" {
		return broker.PublishResult{}, h.HandlePublication(ch, pub, broker.StreamPosition{}, opts.UseDelta, nil)
	}
	res, prev, deliver := b.shardOf(hash).publish(ch, pub, &opts, now.UnixNano(), withHistory)
	if !deliver {
		return res, nil
	}
	return res, h.HandlePublication(ch, pub, res.Position, opts.UseDelta, prev)
}

// publish records pub in the state of ch. It reports whether pub must be
// delivered and, for UseDelta, the previous publication.
func (s *shard) publish(ch string, pub *broker.Publication, opts *broker.PublishOptions, now int64, withHistory bool) (res broker.PublishResult, prev *broker.Publication, deliver bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[ch]
	if c == nil {
		c = &channel{}
		s.channels[ch] = c
	} else {
		c.expire(now)
	}
	defer s.schedule(ch, c)

	if opts.IdempotencyKey != "" {
		if r, ok := c.idem[opts.IdempotencyKey]; ok && now < r.expireAt {
			res = r.result
			res.Suppressed = true
			return res, nil, false
		}
	}
	if withHistory {
		c.ensureMeta()
		c.metaExpireAt = now + int64(orDefault(opts.HistoryMetaTTL, DefaultHistoryMetaTTL))
		if opts.Version > 0 {
			if opts.Version <= c.version && (opts.VersionEpoch == "" || opts.VersionEpoch == c.versionEpoch) {
				return broker.PublishResult{Position: c.position(), Suppressed: true}, nil, false
			}
			c.version = opts.Version
			if opts.VersionEpoch != "" {
				c.versionEpoch = opts.VersionEpoch
			}
		}
		if opts.UseDelta {
			prev = c.last()
		}
		c.top++
		pub.Offset = c.top
		c.push(pub, opts.HistorySize)
		c.histExpireAt = now + int64(opts.HistoryTTL)
		res.Position = c.position()
	}
	if opts.IdempotencyKey != "" {
		c.putIdem(opts.IdempotencyKey, res, now+int64(orDefault(opts.IdempotentResultTTL, DefaultIdempotentResultTTL)))
	}
	return res, prev, true
}

// PublishJoin delivers a join event to the EventHandler, ordered with the
// other events of ch.
func (b *Broker) PublishJoin(_ context.Context, ch string, info *broker.ClientInfo) error {
	h, err := b.eventHandler()
	if err != nil {
		return err
	}
	lk := b.pubLockOf(b.hash(ch))
	lk.Lock()
	defer lk.Unlock()
	return h.HandleJoin(ch, info)
}

// PublishLeave delivers a leave event to the EventHandler, ordered with the
// other events of ch.
func (b *Broker) PublishLeave(_ context.Context, ch string, info *broker.ClientInfo) error {
	h, err := b.eventHandler()
	if err != nil {
		return err
	}
	lk := b.pubLockOf(b.hash(ch))
	lk.Lock()
	defer lk.Unlock()
	return h.HandleLeave(ch, info)
}

// History reads the stream of ch, creating its meta (new epoch, offset 0)
// if there is none, and refreshes the meta TTL (opts.MetaTTL, or
// DefaultHistoryMetaTTL when zero). A reverse read with a zero Since offset
// fails with broker.ErrBadRequest; a Since whose non-empty epoch differs
// from the stream epoch fails with broker.ErrUnrecoverablePosition (the
// current position is still returned). The returned publications are shared
// and must not be modified.
func (b *Broker) History(_ context.Context, ch string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if _, err := b.eventHandler(); err != nil {
		return nil, broker.StreamPosition{}, err
	}
	f := opts.Filter
	if f.Reverse && f.Since != nil && f.Since.Offset == 0 {
		return nil, broker.StreamPosition{}, broker.ErrBadRequest
	}
	now := b.now().UnixNano()
	s := b.shardOf(b.hash(ch))
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[ch]
	if c == nil {
		c = &channel{}
		s.channels[ch] = c
	} else {
		c.expire(now)
	}
	c.ensureMeta()
	c.metaExpireAt = now + int64(orDefault(opts.MetaTTL, DefaultHistoryMetaTTL))
	s.schedule(ch, c)
	sp := c.position()
	if f.Since != nil && f.Since.Epoch != "" && f.Since.Epoch != c.epoch {
		return nil, sp, broker.ErrUnrecoverablePosition
	}
	return c.read(f), sp, nil
}

// RemoveHistory drops the retained publications of ch and keeps its meta,
// so the next publish continues from the same epoch and offset.
func (b *Broker) RemoveHistory(_ context.Context, ch string) error {
	if _, err := b.eventHandler(); err != nil {
		return err
	}
	s := b.shardOf(b.hash(ch))
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[ch]
	if c == nil {
		return nil
	}
	c.clearPubs()
	if c.empty() {
		delete(s.channels, ch)
	}
	return nil
}

// StartControl binds the control loopback to nodeID and h. It returns an
// error if called twice or after Close.
func (b *Broker) StartControl(_ context.Context, nodeID string, h broker.ControlHandler) error {
	if h == nil {
		return errors.New("memory: nil control handler")
	}
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if !b.control.CompareAndSwap(nil, &controlBox{nodeID: nodeID, h: h}) {
		return errors.New("memory: control already started")
	}
	return nil
}

// PublishControl delivers data synchronously to this node's ControlHandler
// when toNode is empty or equals the node id given to StartControl; a
// message for any other node is dropped, as no other node exists.
func (b *Broker) PublishControl(_ context.Context, data []byte, toNode string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	cb := b.control.Load()
	if cb == nil {
		return ErrNotStarted
	}
	if toNode != "" && toNode != cb.nodeID {
		return nil
	}
	return cb.h.HandleControl(data)
}

// schedule makes sure the shard's expiry queue will look at c no later than
// its next deadline, and frees c when it holds nothing. s.mu must be held.
func (s *shard) schedule(ch string, c *channel) {
	if c.empty() {
		if s.channels[ch] == c {
			delete(s.channels, ch)
		}
		return
	}
	next := c.nextDeadline()
	if next == 0 {
		return
	}
	if c.scheduled == 0 || next < c.scheduled {
		c.scheduled = next
		s.queue.push(expiryEntry{at: next, ch: ch})
	}
}

// sweep handles at most sweepBatch due entries of the expiry queue and
// reports whether due entries may remain. s.mu must be held.
func (s *shard) sweep(now int64) (more bool) {
	for range sweepBatch {
		if len(s.queue) == 0 || s.queue[0].at > now {
			return false
		}
		e := s.queue.pop()
		c := s.channels[e.ch]
		if c == nil || c.scheduled != e.at {
			continue // stale entry
		}
		c.scheduled = 0
		c.expire(now)
		c.sweepIdem(now)
		s.schedule(e.ch, c)
	}
	return true
}

// sweepAll sweeps every shard once, releasing each shard lock between
// batches.
func (b *Broker) sweepAll() {
	now := b.now().UnixNano()
	for i := range b.shards {
		s := &b.shards[i]
		for more := true; more; {
			s.mu.Lock()
			more = s.sweep(now)
			s.mu.Unlock()
		}
	}
}

// sweepLoop runs sweepAll every sweep interval until Close.
func (b *Broker) sweepLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.sweepAll()
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
