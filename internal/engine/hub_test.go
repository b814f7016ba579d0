package engine

import (
	"slices"
	"testing"
)

// TestHubUserConnections: a user's connections are found by user whether it
// has one (kept without a map) or several, through additions and removals
// in any order, and a user without connections is forgotten.
func TestHubUserConnections(t *testing.T) {
	h := newHub()
	a1 := &Client{id: "a1", user: "alice"}
	a2 := &Client{id: "a2", user: "alice"}
	a3 := &Client{id: "a3", user: "alice"}
	b1 := &Client{id: "b1", user: "bob"}
	anon := &Client{id: "x1"}
	ids := func(user string) []string {
		var out []string
		for _, c := range h.userConns(user) {
			out = append(out, c.id)
		}
		slices.Sort(out)
		return out
	}
	check := func(step, user string, want ...string) {
		t.Helper()
		if got := ids(user); !slices.Equal(got, want) {
			t.Fatalf("%s: connections of %q %v, want %v", step, user, got, want)
		}
		if n := h.userConnCount(user); n != len(want) {
			t.Fatalf("%s: count of %q %d, want %d", step, user, n, len(want))
		}
	}
	users := func(step string, want int) {
		t.Helper()
		if _, got, _, _ := h.counts(); got != want {
			t.Fatalf("%s: %d users, want %d", step, got, want)
		}
	}

	check("empty", "alice")
	h.addConn(a1)
	h.addConn(b1)
	h.addConn(anon)
	check("one", "alice", "a1")
	check("one", "", "x1")
	users("one each", 3)
	h.addConn(a2)
	h.addConn(a3)
	check("three", "alice", "a1", "a2", "a3")
	h.removeConn(a1)
	check("first removed", "alice", "a2", "a3")
	h.removeConn(a3)
	check("last added removed", "alice", "a2")
	h.removeConn(a3) // twice: no effect
	check("removed twice", "alice", "a2")
	h.removeConn(a2)
	check("all removed", "alice")
	users("alice gone", 2)

	// A single connection replaced by another of the same user.
	h.addConn(a1)
	h.removeConn(a2) // not registered: no effect on a1
	check("other removed", "alice", "a1")
	h.removeConn(a1)
	h.removeConn(b1)
	h.removeConn(anon)
	users("all gone", 0)
	if clients, _, _, _ := h.counts(); clients != 0 {
		t.Fatalf("%d clients left", clients)
	}
}
