package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// FanoutConfig sets the fanout scenario's load.
type FanoutConfig struct {
	// Subscribers is the number of subscriber connections (C). Zero value
	// means 100.
	Subscribers int
	// Channels is the number of channels (K); subscriber i joins channel
	// i mod K. Zero value means 1.
	Channels int
	// Rate is the total API publish rate per second (R), spread round-robin
	// over the channels. Zero value means 100.
	Rate float64
	// Publishers is the number of API publishing workers, each with one
	// pipelined keep-alive connection. Each channel is owned by one worker,
	// which sends its publishes in order on its connection so that
	// sequence numbers reach the server in order. Zero value means 16.
	Publishers int
	// PayloadPad adds this many bytes of padding to every payload.
	PayloadPad int
}

func (c FanoutConfig) withDefaults() FanoutConfig {
	if c.Subscribers <= 0 {
		c.Subscribers = 100
	}
	if c.Channels <= 0 {
		c.Channels = 1
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.Publishers <= 0 {
		c.Publishers = 16
	}
	c.Publishers = min(c.Publishers, c.Channels)
	return c
}

// fanoutSub is the state of one subscriber, touched only by its reading
// goroutine until the connections are closed.
type fanoutSub struct {
	ch int
	t  seqTracker
}

// Fanout runs the fanout scenario: cfg.Subscribers connections on
// cfg.Channels channels receive publications sent through the server API at
// cfg.Rate per second for o.Duration. Each payload carries its channel, a
// per-channel sequence number and its send time, so the report counts
// loss, duplicates and order violations per connection (summed) and the
// publish-to-receipt latency. The error is non-nil only when the run could
// not start (bad options); failures during the run are counted in the
// report.
func Fanout(ctx context.Context, o Options, cfg FanoutConfig) (*Report, error) {
	o = o.withDefaults()
	cfg = cfg.withDefaults()
	if err := o.Validate(ctx); err != nil {
		return nil, err
	}
	d, err := newDialer(o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := newReport("fanout", o)
	rep.Params = map[string]any{"subscribers": cfg.Subscribers, "channels": cfg.Channels, "rate": cfg.Rate,
		"duration": o.Duration.String(), "publishers": cfg.Publishers, "payload_pad": cfg.PayloadPad}
	var (
		errs                 errorLog
		connected, failed    counter
		published, pubErrors counter
		received, unique     counter
		hist                 = &Histogram{}
	)
	chName := func(k int) string { return fmt.Sprintf("%s_fanout_%d", o.ChannelPrefix, k) }
	subs := make([]fanoutSub, cfg.Subscribers)
	handler := func(i int) pubHandler {
		s := &subs[i]
		s.ch = i % cfg.Channels
		return func(_ string, data []byte) {
			now := time.Now().UnixNano()
			received.Add(1)
			p, ok := parsePayload(data)
			if !ok || p.ch != int64(s.ch) {
				s.t.bad++
				return
			}
			if s.t.observe(p.seq) {
				unique.Add(1)
				hist.Record(now - p.sentNS)
			}
		}
	}

	cm := newMeter(o, "connect", []string{"connected", "failed"}, []*counter{&connected, &failed}, nil)
	cm.begin(ctx)
	set := openConns(ctx, d, o, openSpec{
		n: cfg.Subscribers, channel: func(i int) string { return chName(i % cfg.Channels) },
		handler: handler, connected: &connected, failed: &failed,
	}, &errs)
	cm.end()
	defer set.closeAll()
	liveSubs := make([]int64, cfg.Channels)
	for i, c := range set.conns {
		if c != nil {
			liveSubs[i%cfg.Channels]++
		}
	}

	probe := procProbe{o.ServerPID}
	before, haveBefore, perr := probe.sample()
	errs.add(perr)
	m := newMeter(o, "fanout", []string{"published", "delivered"}, []*counter{&published, &received},
		func() string { return fmt.Sprintf("errors=%d lost_conns=%d", errs.total.Load(), set.lost.Load()) })
	m.begin(ctx)
	pubStart := time.Now()
	selfBefore := selfCPU()
	pubs, err := publishPaced(ctx, o, cfg, chName, &published, &pubErrors, &errs)
	if err != nil {
		set.closeAll()
		return nil, err
	}
	pubSecs := time.Since(pubStart).Seconds()

	var expected int64
	for k, n := range pubs {
		expected += n.ok() * liveSubs[k]
	}
	drainEnd := time.Now().Add(o.Drain)
	for unique.Load() < expected && time.Now().Before(drainEnd) && sleepCtx(ctx, 5*time.Millisecond) {
	}
	windowSecs := time.Since(pubStart).Seconds()
	selfSecs := selfCPU() - selfBefore
	after, haveAfter, perr := probe.sample()
	errs.add(perr)
	series := m.end()
	set.closeAll()

	var dc DeliveryCounts
	for i, c := range set.conns {
		if c != nil {
			n := pubs[subs[i].ch]
			dc.add(&subs[i].t, n.ok(), n.failed == 0)
		}
	}
	rep.Delivery = &dc
	rep.Latency = hist.Summary()
	rep.hist = hist
	rep.Throughput = &series
	rep.set("subscribers_connected", float64(connected.Load()))
	rep.set("connect_failures", float64(failed.Load()))
	rep.set("publishes_requested", float64(int64(cfg.Rate*o.Duration.Seconds())))
	rep.set("publishes_ok", float64(published.Load()))
	rep.set("publish_errors", float64(pubErrors.Load()))
	rep.set("publish_rate_per_sec", per(float64(published.Load()), pubSecs))
	rep.set("delivered_per_sec", per(float64(dc.Delivered), windowSecs))
	rep.set("connections_lost", float64(set.lost.Load()))
	rep.set("pings_answered", float64(set.pings()))
	rep.set("bench_cpu_us_per_delivered", per(selfSecs*1e6, float64(dc.Delivered)))
	if haveBefore && haveAfter {
		rep.setServer(usage(o.ServerPID, before, after))
		rep.set("server_cpu_us_per_delivered", per(rep.Server.CPUSeconds*1e6, float64(dc.Delivered)))
		rep.set("server_cpu_us_per_publish", per(rep.Server.CPUSeconds*1e6, float64(published.Load())))
	}
	if req := cfg.Rate * o.Duration.Seconds(); float64(published.Load()) < 0.9*req && ctx.Err() == nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only %d of %.0f publishes succeeded: the server fell behind the offered rate "+
			"(more than %d publishes per connection waiting for an answer) or failed them; see the errors", published.Load(), req, pipelineWindow))
	}
	if connected.Load() < int64(cfg.Subscribers) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of %d subscribers failed to connect", failed.Load(), cfg.Subscribers))
	}
	rep.Errors = errs.snapshot()
	rep.Interrupted = ctx.Err() != nil
	rep.ElapsedSeconds = time.Since(start).Seconds()
	return rep, nil
}

// channelPubs counts the publishes of one channel: sequence numbers
// 1..sent were sent, failed of them were not accepted by the server.
type channelPubs struct {
	sent, failed int64
}

// ok returns the number of publishes the server accepted.
func (c channelPubs) ok() int64 { return c.sent - c.failed }

// publishPaced publishes at cfg.Rate per second for o.Duration, channel k
// owned by worker k mod cfg.Publishers, and returns the publishes of each
// channel. Each worker sends its requests in order on one pipelined
// connection (see pipeline), so the offered rate does not depend on the
// server's latency and every server measured gets the same load.
func publishPaced(ctx context.Context, o Options, cfg FanoutConfig,
	chName func(int) string, published, pubErrors *counter, errs *errorLog) ([]channelPubs, error) {
	pubs := make([]channelPubs, cfg.Channels)
	done := func(k int, err error) { // on a worker's reading goroutine
		if err != nil {
			pubs[k].failed++
			pubErrors.Add(1)
			if ctx.Err() == nil {
				errs.add(fmt.Errorf("publish: %w", err))
			}
			return
		}
		published.Add(1)
	}
	pipes := make([]*pipeline, cfg.Publishers)
	for w := range pipes {
		p, err := newPipeline(o, done)
		if err != nil {
			return nil, err
		}
		pipes[w] = p
	}
	queues := make([]chan int, cfg.Publishers)
	start := time.Now()
	hardStop := start.Add(o.Duration + o.Timeout) // a backlog is dropped past this
	var wg sync.WaitGroup
	for w := range queues {
		queues[w] = make(chan int, 64)
		wg.Add(1)
		go func(q <-chan int, p *pipeline) {
			defer wg.Done()
			defer p.close()
			var body, data []byte
			for k := range q {
				if ctx.Err() != nil || time.Now().After(hardStop) {
					continue // drain the queue without publishing
				}
				pubs[k].sent++
				data = appendPayload(data[:0], payload{ch: int64(k), seq: pubs[k].sent, sentNS: time.Now().UnixNano()}, cfg.PayloadPad)
				body = appendPublishBody(body[:0], chName(k), data)
				p.send(ctx, k, body)
			}
		}(queues[w], pipes[w])
	}
	total := int64(cfg.Rate * o.Duration.Seconds())
	tick := time.NewTicker(time.Millisecond)
	var sent int64
loop:
	for sent < total {
		due := min(total, int64(cfg.Rate*time.Since(start).Seconds())+1)
		for ; sent < due; sent++ {
			k := int(sent % int64(cfg.Channels))
			select {
			case queues[k%cfg.Publishers] <- k:
			case <-ctx.Done():
				break loop
			}
		}
		if time.Now().After(hardStop) { // far behind: stop
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return pubs, nil
}
