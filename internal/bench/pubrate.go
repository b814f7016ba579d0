package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// PubrateConfig sets the pubrate scenario's load.
type PubrateConfig struct {
	// Workers is the number of keep-alive publishing workers (P). Zero value
	// means 32.
	Workers int
	// Channels is the number of channels published to (M). Zero value means
	// 100.
	Channels int
	// Subscribers is the number of subscriber connections, subscriber i on
	// channel i mod Channels; zero means none.
	Subscribers int
	// PayloadPad adds this many bytes of padding to every payload.
	PayloadPad int
}

// Pubrate runs the pubrate scenario: cfg.Workers workers publish through
// the server API as fast as they can for o.Duration, cycling over
// cfg.Channels channels, optionally with subscribers. It reports
// requests/s, errors, request latency and, with o.ServerPID, server CPU per
// request; with subscribers also deliveries, loss and duplicates (order is
// not judged, as several workers publish to one channel). The error is
// non-nil only when the run could not start.
func Pubrate(ctx context.Context, o Options, cfg PubrateConfig) (*Report, error) {
	o = o.withDefaults()
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.Channels <= 0 {
		cfg.Channels = 100
	}
	if err := o.Validate(ctx); err != nil {
		return nil, err
	}
	d, err := newDialer(o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := newReport("pubrate", o)
	rep.Params = map[string]any{"workers": cfg.Workers, "channels": cfg.Channels, "subscribers": cfg.Subscribers,
		"duration": o.Duration.String(), "payload_pad": cfg.PayloadPad}
	var (
		errs                        errorLog
		requests, reqErrors         counter
		connected, failed, received counter
		unique                      counter
		hist                        = &Histogram{}
	)
	chName := func(k int) string { return fmt.Sprintf("%s_pubrate_%d", o.ChannelPrefix, k) }
	subs := make([]fanoutSub, cfg.Subscribers)
	set := openConns(ctx, d, o, openSpec{
		n: cfg.Subscribers, channel: func(i int) string { return chName(i % cfg.Channels) },
		handler: func(i int) pubHandler {
			s := &subs[i]
			s.ch = i % cfg.Channels
			return func(_ string, data []byte) {
				received.Add(1)
				p, ok := parsePayload(data)
				if !ok || p.ch != int64(s.ch) {
					s.t.bad++
					return
				}
				if s.t.observe(p.seq) {
					unique.Add(1)
				}
			}
		},
		connected: &connected, failed: &failed,
	}, &errs)
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
	api := newAPIClient(o, cfg.Workers)
	defer api.close()
	seqs := make([]atomic.Int64, cfg.Channels)
	okCounts := make([]atomic.Int64, cfg.Channels)
	m := newMeter(o, "pubrate", []string{"requests", "delivered"}, []*counter{&requests, &received},
		func() string { return fmt.Sprintf("errors=%d", reqErrors.Load()) })
	m.begin(ctx)
	pubStart := time.Now()
	selfBefore := selfCPU()
	deadline := pubStart.Add(o.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline.Add(o.Timeout))
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body, data []byte
			for i := 0; time.Now().Before(deadline) && runCtx.Err() == nil; i++ {
				k := (w + i*cfg.Workers) % cfg.Channels
				seq := seqs[k].Add(1)
				t0 := time.Now()
				data = appendPayload(data[:0], payload{ch: int64(k), seq: seq, sentNS: t0.UnixNano()}, cfg.PayloadPad)
				body = appendPublishBody(body[:0], chName(k), data)
				err := api.publish(runCtx, body)
				hist.Record(int64(time.Since(t0)))
				requests.Add(1)
				if err != nil {
					reqErrors.Add(1)
					if runCtx.Err() == nil {
						errs.add(fmt.Errorf("publish: %w", err))
					}
					continue
				}
				okCounts[k].Add(1)
			}
		}()
	}
	wg.Wait()
	cancel()
	pubSecs := time.Since(pubStart).Seconds()
	selfSecs := selfCPU() - selfBefore
	var expected int64
	for k := range okCounts {
		expected += okCounts[k].Load() * liveSubs[k]
	}
	drainEnd := time.Now().Add(o.Drain)
	for cfg.Subscribers > 0 && unique.Load() < expected && time.Now().Before(drainEnd) && sleepCtx(ctx, 5*time.Millisecond) {
	}
	after, haveAfter, perr := probe.sample()
	errs.add(perr)
	series := m.end()
	set.closeAll()

	if cfg.Subscribers > 0 {
		var dc DeliveryCounts
		for i, c := range set.conns {
			if c != nil {
				dc.add(&subs[i].t, okCounts[subs[i].ch].Load(), false)
			}
		}
		rep.Delivery = &dc
		rep.set("subscribers_connected", float64(connected.Load()))
		rep.set("connect_failures", float64(failed.Load()))
		rep.set("delivered_per_sec", per(float64(dc.Delivered), pubSecs))
	}
	rep.Latency = hist.Summary()
	rep.hist = hist
	rep.Throughput = &series
	ok := float64(requests.Load() - reqErrors.Load())
	rep.set("requests", float64(requests.Load()))
	rep.set("request_errors", float64(reqErrors.Load()))
	rep.set("requests_per_sec", per(ok, pubSecs))
	rep.set("bench_cpu_us_per_request", per(selfSecs*1e6, ok))
	if haveBefore && haveAfter {
		rep.setServer(usage(o.ServerPID, before, after))
		rep.set("server_cpu_us_per_request", per(rep.Server.CPUSeconds*1e6, ok))
	}
	rep.Errors = errs.snapshot()
	rep.Interrupted = ctx.Err() != nil
	rep.ElapsedSeconds = time.Since(start).Seconds()
	return rep, nil
}
