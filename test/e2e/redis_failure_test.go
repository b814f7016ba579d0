package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

// Phases of the Redis failure run.
const (
	phaseBefore = iota // Redis up
	phaseOutage        // Redis stopped
	phaseAfter         // Redis started again
)

// pubResult is one API publish made by the failure test's publisher.
type pubResult struct {
	seq     int
	phase   int32
	ok      bool
	offset  uint64
	epoch   string
	err     string
	latency time.Duration
}

// streamRecorder checks one subscriber's stream as it arrives: publication
// sequence numbers strictly increase (no duplicate, no reordering) and,
// within an epoch, offsets are contiguous except across a resubscribe that
// reported recovered=false (counted and reported).
type streamRecorder struct {
	name string

	mu         sync.Mutex
	epoch      string
	last       uint64
	base       uint64 // offset at which the stream was (re)joined without recovery
	lastSeq    int
	seqs       map[int]bool
	violations []string
	events     []string // subscribe events, for the report
	resets     int      // resubscribes with recovered=false after the first subscribe
	subscribed int
}

func (r *streamRecorder) onSubscribed(ev centrifuge.SubscribedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := centrifuge.StreamPosition{}
	if ev.StreamPosition != nil {
		pos = *ev.StreamPosition
	}
	r.events = append(r.events, fmt.Sprintf("subscribed recovering=%v recovered=%v at %s:%d (had %s:%d)", ev.WasRecovering, ev.Recovered, pos.Epoch, pos.Offset, r.epoch, r.last))
	r.subscribed++
	if ev.Recovered {
		if pos.Epoch != r.epoch {
			r.violations = append(r.violations, fmt.Sprintf("recovered=true with epoch %s, stream was at epoch %s", pos.Epoch, r.epoch))
		}
		return
	}
	if r.subscribed > 1 {
		r.resets++
	}
	r.epoch, r.last, r.base = pos.Epoch, pos.Offset, pos.Offset
}

func (r *streamRecorder) onPublication(ev centrifuge.PublicationEvent) {
	var d struct {
		Seq int `json:"seq"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		r.violations = append(r.violations, fmt.Sprintf("bad data %q", ev.Data))
		return
	}
	if ev.Offset != r.last+1 {
		r.violations = append(r.violations, fmt.Sprintf("seq %d: offset %d after %d in epoch %s (gap or duplicate)", d.Seq, ev.Offset, r.last, r.epoch))
	}
	r.last = ev.Offset
	if d.Seq <= r.lastSeq {
		r.violations = append(r.violations, fmt.Sprintf("seq %d after seq %d (duplicate or reordered)", d.Seq, r.lastSeq))
	}
	r.lastSeq = d.Seq
	r.seqs[d.Seq] = true
}

// missing returns the successful publications of phase that r did not
// receive, split in two: lost publications of r's current epoch made
// before r (re)joined it without recovery (a new epoch cannot be recovered
// across, so these are lost by design), and the others (never legitimate).
func (r *streamRecorder) missing(results []pubResult, phase int32) (unexpected, beforeRejoin []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.missingLocked(results, phase)
}

func (r *streamRecorder) missingLocked(results []pubResult, phase int32) (unexpected, beforeRejoin []int) {
	for _, p := range results {
		if !p.ok || p.phase != phase || r.seqs[p.seq] {
			continue
		}
		if p.epoch == r.epoch && p.offset <= r.base {
			beforeRejoin = append(beforeRejoin, p.seq)
		} else {
			unexpected = append(unexpected, p.seq)
		}
	}
	return unexpected, beforeRejoin
}

// TestRedisRestart: two nodes on a private Redis that is stopped and started
// again while a publisher runs through both nodes' APIs. Publishes during
// the outage fail promptly with an error; afterwards every subscriber's
// stream is free of duplicates and reordering, offsets are contiguous
// within an epoch, every subscriber ends in the new epoch, and every
// publication made after Redis returned is received — except those of the
// new epoch made before the subscriber rejoined it: Redis restarted without
// persistence, so the stream got a new epoch, and (as in Centrifugo) a
// position in the old epoch cannot be recovered into the new one. Those are
// reported, not failed.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	rds := startPrivateRedis(t, 0)
	nodes := startCluster(t, 2,
		withRedisEngine(rds.Addr, randomPrefix(t), nil),
		withClient(map[string]any{"channel_position_check_delay": "500ms"}),
	)
	const ch = "chat:failover"

	var recs []*streamRecorder
	for i, s := range nodes {
		for _, p := range sdkProtocols {
			c, _ := connectSDK(t, s, p, fmt.Sprintf("sub-%d-%s", i, p.name))
			rec := &streamRecorder{name: fmt.Sprintf("node%d/%s", i, p.name), seqs: map[int]bool{}}
			sub, err := c.NewSubscription(ch, centrifuge.SubscriptionConfig{})
			if err != nil {
				t.Fatal(err)
			}
			subscribed := make(chan struct{}, 100)
			sub.OnSubscribed(func(ev centrifuge.SubscribedEvent) { rec.onSubscribed(ev); push(subscribed, struct{}{}) })
			sub.OnPublication(rec.onPublication)
			if err := sub.Subscribe(); err != nil {
				t.Fatal(err)
			}
			receive(t, subscribed, waitTimeout, rec.name+" subscribed")
			recs = append(recs, rec)
		}
	}

	var (
		phase   atomic.Int32
		stop    = make(chan struct{})
		done    = make(chan struct{})
		mu      sync.Mutex
		results []pubResult
	)
	counts := func(ph int32) (ok, failed int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.phase != ph {
				continue
			}
			if r.ok {
				ok++
			} else {
				failed++
			}
		}
		return ok, failed
	}
	go func() {
		defer close(done)
		for seq := 1; ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			s := nodes[seq%2]
			ph := phase.Load()
			body, _ := json.Marshal(map[string]any{"channel": ch, "data": map[string]any{"seq": seq}})
			start := time.Now()
			resp, err := s.post("/api/publish", body, http.Header{"X-API-Key": {testAPIKey}})
			r := pubResult{seq: seq, phase: ph, latency: time.Since(start)}
			var out struct {
				Error *struct {
					Code    int
					Message string
				} `json:"error"`
				Result struct {
					Offset uint64 `json:"offset"`
					Epoch  string `json:"epoch"`
				} `json:"result"`
			}
			switch {
			case err != nil:
				r.err = err.Error()
			case resp.Status != http.StatusOK:
				r.err = fmt.Sprintf("HTTP %d: %s", resp.Status, resp.Body)
			case json.Unmarshal(resp.Body, &out) != nil:
				r.err = fmt.Sprintf("bad body %q", resp.Body)
			case out.Error != nil:
				r.err = fmt.Sprintf("error %d %q", out.Error.Code, out.Error.Message)
			default:
				r.ok, r.offset, r.epoch = true, out.Result.Offset, out.Result.Epoch
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
			time.Sleep(15 * time.Millisecond) // publishing pace, not an assertion
		}
	}()
	stopPublisher := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}
	t.Cleanup(stopPublisher)
	snapshot := func() []pubResult {
		mu.Lock()
		defer mu.Unlock()
		return append([]pubResult(nil), results...)
	}
	allReceived := func(ph int32) error {
		res := snapshot()
		for _, rec := range recs {
			if m, _ := rec.missing(res, ph); len(m) > 0 {
				return fmt.Errorf("%s misses %d publications of phase %d: %v", rec.name, len(m), ph, m)
			}
		}
		return nil
	}

	eventually(t, 20*time.Second, func() error {
		if ok, _ := counts(phaseBefore); ok < 20 {
			return fmt.Errorf("%d successful publications before the outage, want 20", ok)
		}
		return allReceived(phaseBefore)
	})

	phase.Store(phaseOutage)
	rds.Stop(t)
	eventually(t, 30*time.Second, func() error {
		if _, failed := counts(phaseOutage); failed < 5 {
			return fmt.Errorf("%d failed publications during the outage, want 5", failed)
		}
		return nil
	})

	rds2 := startPrivateRedis(t, rds.Port)
	_ = rds2
	phase.Store(phaseAfter)
	eventually(t, 30*time.Second, func() error {
		if ok, _ := counts(phaseAfter); ok < 40 {
			return fmt.Errorf("%d successful publications after Redis returned, want 40", ok)
		}
		return nil
	})
	stopPublisher()

	var missErr error
	deadline := time.Now().Add(20 * time.Second)
	for {
		if missErr = allReceived(phaseAfter); missErr == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not an assertion
	}

	// Report.
	res := snapshot()
	lastEpoch := ""
	var slowest time.Duration
	errs := map[string]int{}
	epochs := map[string]bool{}
	okAfterRestart, failedAfterRestart, firstOKAfter := 0, 0, 0
	for _, r := range res {
		if r.latency > slowest && !r.ok {
			slowest = r.latency
		}
		if !r.ok {
			errs[r.err]++
		} else {
			epochs[r.epoch] = true
			lastEpoch = r.epoch
		}
		if r.phase == phaseAfter {
			if r.ok {
				okAfterRestart++
				if firstOKAfter == 0 {
					firstOKAfter = r.seq
				}
			} else {
				failedAfterRestart++
			}
		}
		if !r.ok && r.phase == phaseOutage && !strings.HasPrefix(r.err, "error 100 ") {
			t.Errorf("publish seq %d during the outage failed with %s, want API error 100 internal server error", r.seq, r.err)
		}
		if !r.ok && r.latency > 5500*time.Millisecond {
			t.Errorf("publish seq %d (phase %d) took %v to fail, want within ~5s: %s", r.seq, r.phase, r.latency, r.err)
		}
	}
	t.Logf("%d publishes; slowest failure %v; epochs %v; after restart %d ok (first seq %d), %d failed", len(res), slowest, keysOf(epochs), okAfterRestart, firstOKAfter, failedAfterRestart)
	for e, n := range errs {
		t.Logf("  %d× %s", n, e)
	}
	for e := range errs {
		if strings.Contains(e, "Client.Timeout") || strings.Contains(e, "deadline exceeded") {
			t.Errorf("a publish during the outage hung until the HTTP client timed out: %s", e)
		}
	}
	if _, failed := counts(phaseOutage); failed == 0 {
		t.Error("no publish failed while Redis was down")
	}
	for _, rec := range recs {
		rec.mu.Lock()
		t.Logf("%s: %d publications, %d resets (recovered=false); %s", rec.name, len(rec.seqs), rec.resets, strings.Join(rec.events, "; "))
		if u, b := rec.missingLocked(res, phaseBefore); len(u)+len(b) > 0 {
			t.Logf("%s: %d publications made before the outage were never received: %v", rec.name, len(u)+len(b), append(u, b...))
		}
		if _, b := rec.missingLocked(res, phaseAfter); len(b) > 0 {
			t.Logf("%s: %d publications made after Redis returned but before this subscriber rejoined the new epoch %s at offset %d were not received (unrecoverable across an epoch change): seqs %v", rec.name, len(b), rec.epoch, rec.base, b)
		}
		if rec.epoch != lastEpoch {
			t.Errorf("%s: ends in epoch %s, want the epoch of the last publication %s", rec.name, rec.epoch, lastEpoch)
		}
		for _, v := range rec.violations {
			t.Errorf("%s: %s", rec.name, v)
		}
		rec.mu.Unlock()
	}
	if missErr != nil {
		t.Errorf("publications made after Redis returned (and after the subscriber rejoined the stream) were lost: %v", missErr)
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
