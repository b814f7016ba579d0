package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ChurnConfig sets the churn scenario's load.
type ChurnConfig struct {
	// Rounds is the number of rounds (R). Zero value means 5.
	Rounds int
	// Cycles is the number of connect–subscribe–close cycles per round.
	// Zero value means 1000.
	Cycles int
	// Concurrency is the number of cycles in flight. Zero value means 32.
	Concurrency int
	// Channels is the number of channels cycles subscribe to, round-robin.
	// Zero value means 10.
	Channels int
	// Settle is the pause after each round before the server is sampled,
	// so that it can finish closing. Zero value means 1s.
	Settle time.Duration
	// CloseWait ends each cycle as browsers end a WebSocket: the client
	// sends its close frame and waits for the server to answer and close
	// the connection (RFC 6455 7.1.1) before closing its socket. By
	// default it closes its socket right after its close frame, as many
	// SDKs do, and the server's answer draws a TCP reset.
	CloseWait bool
}

func (c ChurnConfig) withDefaults() ChurnConfig {
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if c.Cycles <= 0 {
		c.Cycles = 1000
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Channels <= 0 {
		c.Channels = 10
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	return c
}

// ChurnRound is the result of one churn round.
type ChurnRound struct {
	// Cycles counts the completed cycles, Failures the failed ones.
	Cycles   int64 `json:"cycles"`
	Failures int64 `json:"failures"`
	// Seconds is the time the cycles took (without the settle pause).
	Seconds float64 `json:"seconds"`
	// CyclesPerSec is Cycles / Seconds.
	CyclesPerSec float64 `json:"cycles_per_sec"`
	// CPUSeconds is the server CPU used by the round and its settle pause.
	CPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	// Server is the server sample after the settle pause.
	Server *ProcSample `json:"server,omitempty"`
}

// Churn runs the churn scenario: cfg.Rounds rounds of cfg.Cycles
// connect–subscribe–close cycles, each round also bounded by o.Duration.
// After each round and a settle pause the server is sampled, so the report
// shows RSS and descriptor growth across rounds and the server CPU per
// cycle. The error is non-nil only when the run could not start.
func Churn(ctx context.Context, o Options, cfg ChurnConfig) (*Report, error) {
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
	rep := newReport("churn", o)
	rep.Params = map[string]any{"rounds": cfg.Rounds, "cycles": cfg.Cycles, "concurrency": cfg.Concurrency,
		"channels": cfg.Channels, "round_timeout": o.Duration.String(), "settle": cfg.Settle.String()}
	if cfg.CloseWait {
		rep.Params["close_wait"] = true
	}
	var (
		errs           errorLog
		cycles, failed counter
		hist           = &Histogram{}
	)
	probe := procProbe{o.ServerPID}
	prev, havePrev, perr := probe.sample()
	errs.add(perr)
	first := prev
	m := newMeter(o, "churn", []string{"cycles", "failed"}, []*counter{&cycles, &failed}, nil)
	m.begin(ctx)
	var totalSecs float64
	n := 0
	for r := 0; r < cfg.Rounds && ctx.Err() == nil; r++ {
		c0, f0 := cycles.Load(), failed.Load()
		t0 := time.Now()
		churnRound(ctx, d, o, cfg, &n, &cycles, &failed, hist, &errs)
		secs := time.Since(t0).Seconds()
		totalSecs += secs
		rd := ChurnRound{Cycles: cycles.Load() - c0, Failures: failed.Load() - f0, Seconds: secs}
		rd.CyclesPerSec = per(float64(rd.Cycles), secs)
		sleepCtx(ctx, cfg.Settle)
		if s, ok, perr := probe.sample(); ok && havePrev {
			rd.CPUSeconds = s.CPUSeconds - prev.CPUSeconds
			rd.Server = &s
			prev = s
		} else {
			errs.add(perr)
		}
		rep.Rounds = append(rep.Rounds, rd)
	}
	series := m.end()
	rep.Latency = hist.Summary()
	rep.hist = hist
	rep.Throughput = &series
	rep.set("cycles", float64(cycles.Load()))
	rep.set("failures", float64(failed.Load()))
	rep.set("cycles_per_sec", per(float64(cycles.Load()), totalSecs))
	if last := len(rep.Rounds) - 1; havePrev && last >= 0 && rep.Rounds[last].Server != nil {
		rep.setServer(usage(o.ServerPID, first, prev))
		firstRound := rep.Rounds[0].Server
		rep.set("server_cpu_us_per_cycle", per(rep.Server.CPUSeconds*1e6, float64(cycles.Load())))
		rep.set("server_rss_growth_bytes", float64(prev.RSSBytes-firstRound.RSSBytes))
		rep.set("server_fd_growth", float64(prev.FDs-firstRound.FDs))
		rep.set("server_thread_growth", float64(prev.Threads-firstRound.Threads))
	}
	rep.Errors = errs.snapshot()
	rep.Interrupted = ctx.Err() != nil
	rep.ElapsedSeconds = time.Since(start).Seconds()
	return rep, nil
}

// churnRound runs up to cfg.Cycles cycles with cfg.Concurrency workers and
// stops issuing new ones after o.Duration. *n numbers connections across
// rounds (it picks the source address and the token's user).
func churnRound(ctx context.Context, d *dialer, o Options, cfg ChurnConfig, n *int,
	cycles, failed *counter, hist *Histogram, errs *errorLog) {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t0 := time.Now()
				c, err := d.dial(ctx, i, nil)
				if err == nil {
					err = c.Subscribe(ctx, fmt.Sprintf("%s_churn_%d", o.ChannelPrefix, i%cfg.Channels))
					if cfg.CloseWait {
						c.CloseAfterServer()
					} else {
						c.Close()
					}
				}
				if err != nil {
					failed.Add(1)
					if ctx.Err() == nil {
						errs.add(err)
					}
					continue
				}
				hist.Record(int64(time.Since(t0)))
				cycles.Add(1)
			}
		}()
	}
	for range cfg.Cycles {
		select {
		case jobs <- *n:
			*n++
			continue
		case <-ctx.Done():
		}
		break
	}
	close(jobs)
	wg.Wait()
}
