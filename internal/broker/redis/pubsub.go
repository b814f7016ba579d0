package redis

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/redis/rueidis"
)

// errNotConnected is returned by Subscribe while the PUB/SUB connection of
// the channel is down.
var errNotConnected = errors.New("PUB/SUB connection is down")

// Reconnect backoff of a PUB/SUB connection.
const (
	minReconnectDelay = 50 * time.Millisecond
	maxReconnectDelay = 2 * time.Second
)

// subRequest asks a subConn to subscribe or unsubscribe a PUB/SUB channel.
type subRequest struct {
	name string // Redis PUB/SUB channel
	sub  bool
	done chan error // buffered, receives exactly one value
}

// subConn owns one dedicated PUB/SUB connection to a shard and the set of
// PUB/SUB channels it must be subscribed to. Its run goroutine is the only
// one that touches the set and sends (UN)SUBSCRIBE, so requests apply in
// the order they were queued; queued requests are batched, up to
// maxSubscribeBatch channels per command. After a reconnect every channel
// of the set is subscribed again before new requests are served.
type subConn struct {
	b     *Broker
	shard *shard
	reqs  chan subRequest
	chans map[string]struct{} // owned by run
	// sessions counts PUB/SUB sessions established; owned by run.
	sessions int
}

func newSubConn(b *Broker, s *shard) *subConn {
	return &subConn{b: b, shard: s, reqs: make(chan subRequest, maxSubscribeBatch), chans: make(map[string]struct{})}
}

// request queues r and waits for its result, for ctx, for the IO timeout or
// for Close.
func (c *subConn) request(ctx context.Context, name string, sub bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.b.opts.IOTimeout)
	defer cancel()
	r := subRequest{name: name, sub: sub, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return wrapErr("subscribe", c.shard.addr, ctx.Err())
	case <-c.b.stop:
		return errClosed()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return wrapErr("subscribe", c.shard.addr, ctx.Err())
	case <-c.b.stop:
		return errClosed()
	}
}

// run keeps the connection up until Close.
func (c *subConn) run() {
	defer c.b.wg.Done()
	delay := minReconnectDelay
	for {
		connected, err := c.session()
		if c.b.isStopping() {
			return
		}
		if connected {
			delay = minReconnectDelay
		}
		c.b.opts.Logger.Warn("redis PUB/SUB connection lost, reconnecting",
			"addr", c.shard.addr, "error", err, "retry_in", delay)
		if !c.idle(delay) {
			return
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// idle serves requests without a connection for d: subscribes fail,
// unsubscribes only update the set. It reports false on Close.
func (c *subConn) idle(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-c.b.stop:
			return false
		case <-t.C:
			return true
		case r := <-c.reqs:
			if r.sub {
				r.done <- wrapErr("subscribe", c.shard.addr, errNotConnected)
			} else {
				delete(c.chans, r.name)
				r.done <- nil
			}
		}
	}
}

// session connects, subscribes the whole set and serves requests until the
// connection breaks or Close. connected reports whether the resubscribe
// succeeded.
func (c *subConn) session() (connected bool, err error) {
	client := c.shard.client
	if c.shard.cluster {
		// PUB/SUB messages are broadcast to every Cluster node: listen on
		// any one of them.
		nodes := client.Nodes()
		addrs := make([]string, 0, len(nodes))
		for a := range nodes {
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 {
			return false, errors.New("no cluster node known")
		}
		sort.Strings(addrs)
		client = nodes[addrs[int(time.Now().UnixNano()%int64(len(addrs)))]]
	}
	dc, _ := client.Dedicate()
	// The connection holds subscriptions: close it rather than returning
	// it to the pool.
	defer dc.Close()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: c.b.onMessage})
	if wait == nil {
		return false, errors.New("cannot set PUB/SUB hooks")
	}

	names := make([]string, 0, len(c.chans))
	for n := range c.chans {
		names = append(names, n)
	}
	for batch := range slices.Chunk(names, maxSubscribeBatch) {
		if err := c.send(dc, true, batch); err != nil {
			return false, err
		}
	}
	if len(names) > 0 {
		c.b.opts.Logger.Info("redis PUB/SUB subscribed", "addr", c.shard.addr, "channels", len(names))
		if c.sessions > 0 {
			c.b.notifyResubscribe(names)
		}
	}
	c.sessions++
	for {
		select {
		case <-c.b.stop:
			return true, nil
		case err := <-wait:
			if err == nil {
				err = errors.New("PUB/SUB connection closed")
			}
			return true, err
		case r := <-c.reqs:
			if err := c.serve(dc, r); err != nil {
				return true, err
			}
		}
	}
}

// serve handles r and the requests queued behind it, up to a batch.
func (c *subConn) serve(dc rueidis.DedicatedClient, first subRequest) error {
	batch := []subRequest{first}
collect:
	for len(batch) < maxSubscribeBatch {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		default:
			break collect
		}
	}
	// Apply runs of the same kind in order.
	var firstErr error
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].sub == batch[i].sub {
			j++
		}
		if err := c.apply(dc, batch[i:j]); err != nil && firstErr == nil {
			firstErr = err
		}
		i = j
	}
	return firstErr
}

// apply runs requests of one kind as one command.
func (c *subConn) apply(dc rueidis.DedicatedClient, reqs []subRequest) error {
	sub := reqs[0].sub
	var names []string
	var waiting []subRequest
	added := make(map[string]bool)
	for _, r := range reqs {
		_, have := c.chans[r.name]
		switch {
		case sub && have && !added[r.name], !sub && !have:
			r.done <- nil // already in the wanted state
			continue
		case sub && !have:
			c.chans[r.name] = struct{}{}
			added[r.name] = true
			names = append(names, r.name)
		case !sub:
			delete(c.chans, r.name)
			names = append(names, r.name)
		}
		waiting = append(waiting, r)
	}
	var err error
	if len(names) > 0 {
		err = c.send(dc, sub, names)
	}
	if err != nil && sub {
		for _, n := range names {
			delete(c.chans, n)
		}
	}
	for _, r := range waiting {
		if sub {
			r.done <- err
		} else {
			// The set no longer holds the channel: it will not be
			// subscribed again, whatever the connection does.
			r.done <- nil
		}
	}
	return err
}

// send runs one SUBSCRIBE or UNSUBSCRIBE for names.
func (c *subConn) send(dc rueidis.DedicatedClient, sub bool, names []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.b.opts.IOTimeout)
	defer cancel()
	var cmd rueidis.Completed
	op := "subscribe"
	if sub {
		cmd = dc.B().Subscribe().Channel(names...).Build()
	} else {
		op = "unsubscribe"
		cmd = dc.B().Unsubscribe().Channel(names...).Build()
	}
	return wrapErr(op, c.shard.addr, dc.Do(ctx, cmd).Error())
}

// event is a PUB/SUB message waiting for dispatch.
type event struct {
	channel string // Redis PUB/SUB channel
	payload string
}

// onMessage is called by the connection's reader goroutine, in the order
// Redis sent the messages. A channel always maps to the same worker, so
// per-channel order is kept. When the worker queue is full it blocks the
// reader (back pressure onto Redis' output buffer).
func (b *Broker) onMessage(m rueidis.PubSubMessage) {
	q := b.queues[b.workerIndex(m.Channel)]
	select {
	case q <- event{channel: m.Channel, payload: m.Message}:
	case <-b.stop:
	}
}

// worker delivers events of its queue until Close.
func (b *Broker) worker(q chan event) {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case e := <-q:
			b.dispatch(e)
		}
	}
}
