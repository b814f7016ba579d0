package engine

import (
	"bytes"
	"sync"
	"testing"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
)

// TestPreparedPushConcurrentUse: goroutines of a parallel fan-out share one
// preparedPush; every one of them gets the same bytes for each variant
// (run with -race: no unsynchronised lazy state).
func TestPreparedPushConcurrentUse(t *testing.T) {
	prev := &broker.Publication{Offset: 1, Data: []byte(`{"text":"hello, world, hello, world"}`)}
	pub := &broker.Publication{Offset: 2, Data: []byte(`{"text":"hello, world, hello, world!"}`)}
	pp := newPreparedPush("ch", pub, prev)
	type variants struct{ json, proto, uni, deltaFull, deltaPatch []byte }
	const goroutines = 8
	got := make([]variants, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var v variants
			var err error
			for range 100 {
				if v.json, err = pp.get(protocol.TypeJSON, false); err != nil {
					t.Error(err)
				}
				if v.proto, err = pp.get(protocol.TypeProtobuf, false); err != nil {
					t.Error(err)
				}
				if v.uni, err = pp.get(protocol.TypeJSON, true); err != nil {
					t.Error(err)
				}
				if v.deltaFull, err = pp.getDelta(protocol.TypeJSON, false); err != nil {
					t.Error(err)
				}
				if !pp.canPatch(1) {
					t.Error("no patch against the previous publication")
				}
				if v.deltaPatch, err = pp.getDelta(protocol.TypeJSON, true); err != nil {
					t.Error(err)
				}
			}
			got[g] = v
		})
	}
	wg.Wait()
	for g := 1; g < goroutines; g++ {
		a, b := got[0], got[g]
		for i, pair := range [][2][]byte{{a.json, b.json}, {a.proto, b.proto}, {a.uni, b.uni}, {a.deltaFull, b.deltaFull}, {a.deltaPatch, b.deltaPatch}} {
			if len(pair[0]) == 0 || &pair[0][0] != &pair[1][0] {
				t.Fatalf("variant %d: goroutine %d got its own encoding (or none)", i, g)
			}
		}
	}
	if !bytes.Contains(got[0].deltaPatch, []byte(`"delta":true`)) {
		t.Fatalf("patch variant %s", got[0].deltaPatch)
	}
}
