package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
)

// connSet is a set of subscribed connections, read by the set's reactor.
type connSet struct {
	conns  []*conn // by connection number; nil where setup failed
	reader *netpoll.Poller
	wg     sync.WaitGroup // connections still being read
	lost   counter        // connections whose read loop failed before closeAll
	errs   *errorLog
}

// openSpec describes the connections openConns sets up.
type openSpec struct {
	n         int                    // number of connections
	channel   func(i int) string     // channel connection i subscribes to
	handler   func(i int) pubHandler // publication handler of connection i; may be nil
	connected *counter               // incremented per connection set up
	failed    *counter               // incremented per failure
	latency   *Histogram             // dial+connect+subscribe time; may be nil
}

// openConns sets up spec.n connections, at most o.ConnectConcurrency at a
// time, each dialled, connected and subscribed, and starts each one's read
// loop. It returns when every attempt ended or ctx is done; connections
// that failed are nil and their errors are in errs.
func openConns(ctx context.Context, d *dialer, o Options, spec openSpec, errs *errorLog) *connSet {
	s := &connSet{conns: make([]*conn, spec.n), errs: errs, reader: newReader()}
	sem := make(chan struct{}, o.ConnectConcurrency)
	var setup sync.WaitGroup
	for i := range spec.n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		setup.Add(1)
		go func() {
			defer setup.Done()
			defer func() { <-sem }()
			var h pubHandler
			if spec.handler != nil {
				h = spec.handler(i)
			}
			t0 := time.Now()
			c, err := d.dial(ctx, i, h)
			if err == nil {
				if err = c.Subscribe(ctx, spec.channel(i)); err != nil {
					c.Close()
				}
			}
			if err != nil {
				if spec.failed != nil {
					spec.failed.Add(1)
				}
				errs.add(err)
				return
			}
			if spec.latency != nil {
				spec.latency.Record(int64(time.Since(t0)))
			}
			s.conns[i] = c
			if spec.connected != nil {
				spec.connected.Add(1)
			}
			s.wg.Add(1)
			c.start(s.reader, func(err error) {
				defer s.wg.Done()
				if err != nil {
					s.lost.Add(1)
					errs.add(fmt.Errorf("connection lost: %w", err))
				}
			})
		}()
	}
	setup.Wait()
	return s
}

// live returns the number of connections set up.
func (s *connSet) live() int {
	n := 0
	for _, c := range s.conns {
		if c != nil {
			n++
		}
	}
	return n
}

// pings sums the pings answered by all connections.
func (s *connSet) pings() int64 {
	var n int64
	for _, c := range s.conns {
		if c != nil {
			n += c.Pings()
		}
	}
	return n
}

// closeAll closes every connection, at most 256 closing at once, waits
// until none is being read and stops the reactor. It is idempotent.
func (s *connSet) closeAll() {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range s.conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
	s.wg.Wait()
	if s.reader != nil {
		_ = s.reader.Close()
	}
}

// sleepCtx waits for d or until ctx is done, and reports whether the full
// wait elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
