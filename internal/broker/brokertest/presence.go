package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/heraldrt/herald/internal/broker"
)

// RunPresence runs the broker.PresenceManager conformance suite. newPM must
// return a new, ready presence manager for each call and arrange (with
// t.Cleanup) for it to be closed if it holds resources.
func RunPresence(t *testing.T, newPM func(t *testing.T) broker.PresenceManager) {
	tests := []struct {
		name string
		fn   func(t *testing.T, pm broker.PresenceManager)
	}{
		{"Empty", testPresenceEmpty},
		{"AddGet", testPresenceAddGet},
		{"Stats", testPresenceStats},
		{"Refresh", testPresenceRefresh},
		{"Remove", testPresenceRemove},
		{"ChannelIsolation", testPresenceIsolation},
		{"Concurrent", testPresenceConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newPM(t)) })
	}
}

type presenceHarness struct {
	t   *testing.T
	pm  broker.PresenceManager
	ctx context.Context
}

func (h presenceHarness) add(ch, client, user string) {
	h.t.Helper()
	info := &broker.ClientInfo{User: user, Client: client, ConnInfo: []byte(`{"c":"` + client + `"}`)}
	if err := h.pm.AddPresence(h.ctx, ch, client, info); err != nil {
		h.t.Fatalf("AddPresence(%q, %q): %v", ch, client, err)
	}
}

func (h presenceHarness) remove(ch, client, user string) {
	h.t.Helper()
	if err := h.pm.RemovePresence(h.ctx, ch, client, user); err != nil {
		h.t.Fatalf("RemovePresence(%q, %q): %v", ch, client, err)
	}
}

func (h presenceHarness) get(ch string) map[string]*broker.ClientInfo {
	h.t.Helper()
	p, err := h.pm.Presence(h.ctx, ch)
	if err != nil {
		h.t.Fatalf("Presence(%q): %v", ch, err)
	}
	return p
}

func (h presenceHarness) checkStats(ch string, clients, users int) {
	h.t.Helper()
	st, err := h.pm.PresenceStats(h.ctx, ch)
	if err != nil {
		h.t.Fatalf("PresenceStats(%q): %v", ch, err)
	}
	if st != (broker.PresenceStats{NumClients: clients, NumUsers: users}) {
		h.t.Fatalf("PresenceStats(%q) = %+v, want %d clients %d users", ch, st, clients, users)
	}
	if n := len(h.get(ch)); n != clients {
		h.t.Fatalf("Presence(%q) has %d entries, stats say %d", ch, n, clients)
	}
}

func testPresenceEmpty(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-empty")
	if p := h.get(ch); len(p) != 0 {
		t.Fatalf("presence of an empty channel: %v", p)
	}
	h.checkStats(ch, 0, 0)
}

func testPresenceAddGet(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-get")
	info := &broker.ClientInfo{User: "u1", Client: "c1", ConnInfo: []byte(`{"a":1}`), ChanInfo: []byte(`{"b":2}`)}
	if err := pm.AddPresence(h.ctx, ch, "c1", info); err != nil {
		t.Fatal(err)
	}
	h.add(ch, "c2", "u2")
	p := h.get(ch)
	if len(p) != 2 {
		t.Fatalf("presence: %d entries, want 2", len(p))
	}
	got := p["c1"]
	if got == nil || got.User != "u1" || got.Client != "c1" ||
		!bytes.Equal(got.ConnInfo, info.ConnInfo) || !bytes.Equal(got.ChanInfo, info.ChanInfo) {
		t.Fatalf("entry c1: %+v, want %+v", got, info)
	}
	if p["c2"] == nil || p["c2"].User != "u2" {
		t.Fatalf("entry c2: %+v", p["c2"])
	}
}

func testPresenceStats(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-stats")
	h.add(ch, "c1", "u1")
	h.add(ch, "c2", "u1")
	h.add(ch, "c3", "u2")
	h.checkStats(ch, 3, 2)
	// All anonymous connections count as one user.
	h.add(ch, "a1", "")
	h.add(ch, "a2", "")
	h.checkStats(ch, 5, 3)
	h.remove(ch, "a1", "")
	h.checkStats(ch, 4, 3)
	h.remove(ch, "a2", "")
	h.checkStats(ch, 3, 2)
	h.remove(ch, "c1", "u1")
	h.checkStats(ch, 2, 2)
	h.remove(ch, "c2", "u1")
	h.checkStats(ch, 1, 1)
}

func testPresenceRefresh(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-refresh")
	h.add(ch, "c1", "u1")
	h.add(ch, "c1", "u1") // periodic refresh: no double count
	h.checkStats(ch, 1, 1)
	updated := &broker.ClientInfo{User: "u1", Client: "c1", ChanInfo: []byte("new")}
	if err := pm.AddPresence(h.ctx, ch, "c1", updated); err != nil {
		t.Fatal(err)
	}
	if got := h.get(ch)["c1"]; got == nil || string(got.ChanInfo) != "new" {
		t.Fatalf("refreshed entry: %+v, want ChanInfo new", got)
	}
	h.checkStats(ch, 1, 1)
}

func testPresenceRemove(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-remove")
	h.remove(ch, "nobody", "u") // absent entry: no error
	h.add(ch, "c1", "u1")
	h.add(ch, "c2", "u2")
	h.remove(ch, "c1", "u1")
	h.remove(ch, "c1", "u1") // twice: no error, no change
	p := h.get(ch)
	if _, ok := p["c1"]; ok || len(p) != 1 {
		t.Fatalf("after removing c1: %v", p)
	}
	h.checkStats(ch, 1, 1)
	h.remove(ch, "c2", "u2")
	h.checkStats(ch, 0, 0)
	h.add(ch, "c3", "u3") // the channel is usable after becoming empty
	h.checkStats(ch, 1, 1)
}

func testPresenceIsolation(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	a, b := channelName("p-a"), channelName("p-b")
	h.add(a, "c1", "u1")
	h.add(b, "c1", "u1")
	h.add(b, "c2", "u2")
	h.remove(a, "c1", "u1")
	h.checkStats(a, 0, 0)
	h.checkStats(b, 2, 2)
}

func testPresenceConcurrent(t *testing.T, pm broker.PresenceManager) {
	h := presenceHarness{t, pm, t.Context()}
	ch := channelName("p-conc")
	const workers, perWorker, users = 8, 50, 10
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				client := fmt.Sprintf("c%d-%d", w, i)
				user := fmt.Sprint("u", i%users)
				if err := pm.AddPresence(h.ctx, ch, client, &broker.ClientInfo{User: user, Client: client}); err != nil {
					errs <- err
					return
				}
				if i%2 == 1 { // remove every odd client again
					if err := pm.RemovePresence(h.ctx, ch, client, user); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Odd i were removed; even i map to users u0,u2,…,u8.
	h.checkStats(ch, workers*perWorker/2, users/2)
}
