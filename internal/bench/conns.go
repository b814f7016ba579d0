package bench

import (
	"context"
	"fmt"
	"time"
)

// ConnsConfig sets the conns scenario's load.
type ConnsConfig struct {
	// Connections is the number of idle connections (N). Zero value means
	// 1000.
	Connections int
	// Channels is the number of distinct channels; connection i subscribes
	// to channel i mod Channels. Zero value means one channel per
	// connection.
	Channels int
}

// Conns runs the conns scenario: cfg.Connections connections are set up
// (each connected and subscribed to one channel), held idle for o.Duration
// while answering server pings, then closed. It reports the connect rate
// and failures and, with o.ServerPID, the server's RSS, descriptors and
// threads per connection and its idle CPU per connection per second. The
// error is non-nil only when the run could not start.
func Conns(ctx context.Context, o Options, cfg ConnsConfig) (*Report, error) {
	o = o.withDefaults()
	if cfg.Connections <= 0 {
		cfg.Connections = 1000
	}
	if cfg.Channels <= 0 || cfg.Channels > cfg.Connections {
		cfg.Channels = cfg.Connections
	}
	if err := o.Validate(ctx); err != nil {
		return nil, err
	}
	d, err := newDialer(o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := newReport("conns", o)
	rep.Params = map[string]any{"connections": cfg.Connections, "channels": cfg.Channels,
		"duration": o.Duration.String(), "source_addrs": len(d.nds)}
	var (
		errs              errorLog
		connected, failed counter
		hist              = &Histogram{}
	)
	probe := procProbe{o.ServerPID}
	baseline, haveBase, perr := probe.sample()
	errs.add(perr)

	cm := newMeter(o, "connect", []string{"connected", "failed"}, []*counter{&connected, &failed}, nil)
	cm.begin(ctx)
	t0 := time.Now()
	set := openConns(ctx, d, o, openSpec{
		n:         cfg.Connections,
		channel:   func(i int) string { return fmt.Sprintf("%s_conns_%d", o.ChannelPrefix, i%cfg.Channels) },
		connected: &connected, failed: &failed, latency: hist,
	}, &errs)
	connectSecs := time.Since(t0).Seconds()
	connectSeries := cm.end()
	defer set.closeAll()
	ok := float64(set.live())

	held, haveHeld, perr := probe.sample()
	errs.add(perr)
	var pings counter
	hm := newMeter(o, "hold", []string{"pings"}, []*counter{&pings}, func() string {
		return fmt.Sprintf("alive=%d lost=%d", int64(ok)-set.lost.Load(), set.lost.Load())
	})
	hm.begin(ctx)
	holdStart := time.Now()
	for time.Since(holdStart) < o.Duration && sleepCtx(ctx, min(o.ProgressInterval/2, o.Duration-time.Since(holdStart))) {
		pings.Store(set.pings())
	}
	pings.Store(set.pings())
	holdSecs := time.Since(holdStart).Seconds()
	end, haveEnd, perr := probe.sample()
	errs.add(perr)
	hm.end()
	set.closeAll()

	rep.Latency = hist.Summary()
	rep.hist = hist
	rep.Throughput = &connectSeries
	rep.set("connections", ok)
	rep.set("connect_failures", float64(failed.Load()))
	rep.set("connect_seconds", connectSecs)
	rep.set("connect_rate_per_sec", per(ok, connectSecs))
	rep.set("hold_seconds", holdSecs)
	rep.set("pings_answered", float64(pings.Load()))
	rep.set("connections_lost_during_hold", float64(set.lost.Load()))
	if haveBase && haveHeld && haveEnd {
		rep.setServer(usage(o.ServerPID, baseline, end))
		rep.set("server_rss_per_conn_bytes", per(float64(held.RSSBytes-baseline.RSSBytes), ok))
		rep.set("server_rss_per_conn_after_hold_bytes", per(float64(end.RSSBytes-baseline.RSSBytes), ok))
		rep.set("server_fds_per_conn", per(float64(held.FDs-baseline.FDs), ok))
		rep.set("server_threads", float64(end.Threads))
		rep.set("server_fds", float64(end.FDs))
		rep.set("server_cpu_us_per_connect", per((held.CPUSeconds-baseline.CPUSeconds)*1e6, ok))
		rep.set("server_idle_cpu_us_per_conn_per_sec", per((end.CPUSeconds-held.CPUSeconds)*1e6, ok*holdSecs))
	}
	rep.Errors = errs.snapshot()
	rep.Interrupted = ctx.Err() != nil
	rep.ElapsedSeconds = time.Since(start).Seconds()
	return rep, nil
}
