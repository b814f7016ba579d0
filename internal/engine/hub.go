package engine

import (
	"sync"
)

const numHubShards = 64

// hub indexes local connections by client id and user, and channel
// subscribers by channel. It is sharded by hash so that unrelated channels
// and users never contend on one lock.
type hub struct {
	conns [numHubShards]connShard
	subs  [numHubShards]subShard
}

type connShard struct {
	mu      sync.RWMutex
	clients map[string]*Client // client id → client
	users   map[string]userSet // user → its connections
}

// userSet holds the local connections of one user. Most users have one,
// kept without a map of its own (a map costs a few hundred bytes per
// connection held and per connection made).
type userSet struct {
	one  *Client            // the only connection, while more is nil
	more map[string]*Client // client id → client, from a second connection on
}

func (u userSet) len() int {
	if u.more != nil {
		return len(u.more)
	}
	if u.one != nil {
		return 1
	}
	return 0
}

type subShard struct {
	mu       sync.RWMutex
	channels map[string]map[*Client]*subscription
}

func newHub() *hub {
	h := &hub{}
	for i := range h.conns {
		h.conns[i].clients = make(map[string]*Client)
		h.conns[i].users = make(map[string]userSet)
		h.subs[i].channels = make(map[string]map[*Client]*subscription)
	}
	return h
}

// shardIndex hashes s with FNV-1a (inline, allocation free).
func shardIndex(s string) int {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h % numHubShards)
}

// addConn registers c under its client id and user.
func (h *hub) addConn(c *Client) {
	s := &h.conns[shardIndex(c.user)]
	s.mu.Lock()
	u := s.users[c.user]
	switch {
	case u.more != nil:
		u.more[c.id] = c
	case u.one == nil:
		u.one = c
	default:
		u.more = map[string]*Client{u.one.id: u.one, c.id: c}
		u.one = nil
	}
	s.users[c.user] = u
	s.mu.Unlock()

	s = &h.conns[shardIndex(c.id)]
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
}

// removeConn unregisters c.
func (h *hub) removeConn(c *Client) {
	s := &h.conns[shardIndex(c.user)]
	s.mu.Lock()
	if u, ok := s.users[c.user]; ok {
		if u.more != nil {
			delete(u.more, c.id)
		} else if u.one == c {
			u.one = nil
		}
		if u.len() == 0 {
			delete(s.users, c.user)
		}
	}
	s.mu.Unlock()

	s = &h.conns[shardIndex(c.id)]
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
}

// userConns returns the local connections of user.
func (h *hub) userConns(user string) []*Client {
	s := &h.conns[shardIndex(user)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.users[user]
	if u.more == nil {
		if u.one == nil {
			return nil
		}
		return []*Client{u.one}
	}
	out := make([]*Client, 0, len(u.more))
	for _, c := range u.more {
		out = append(out, c)
	}
	return out
}

// userConnCount returns the number of local connections of user.
func (h *hub) userConnCount(user string) int {
	s := &h.conns[shardIndex(user)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.users[user].len()
}

// counts returns the number of connections, distinct users, channels and
// subscriptions on this node.
func (h *hub) counts() (clients, users, channels, subs int) {
	for i := range h.conns {
		s := &h.conns[i]
		s.mu.RLock()
		clients += len(s.clients)
		users += len(s.users)
		s.mu.RUnlock()
		ss := &h.subs[i]
		ss.mu.RLock()
		channels += len(ss.channels)
		for _, m := range ss.channels {
			subs += len(m)
		}
		ss.mu.RUnlock()
	}
	return
}

// addSub adds c as a subscriber of ch. It reports whether ch had no local
// subscribers before (the node must then subscribe the broker).
func (h *hub) addSub(ch string, c *Client, sub *subscription) (first bool) {
	s := &h.subs[shardIndex(ch)]
	s.mu.Lock()
	m := s.channels[ch]
	if m == nil {
		m = make(map[*Client]*subscription)
		s.channels[ch] = m
		first = true
	}
	m[c] = sub
	s.mu.Unlock()
	return first
}

// removeSub removes c from ch. It reports whether ch has no local
// subscribers left (the node may then unsubscribe the broker).
func (h *hub) removeSub(ch string, c *Client) (last bool) {
	s := &h.subs[shardIndex(ch)]
	s.mu.Lock()
	m := s.channels[ch]
	if m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(s.channels, ch)
			last = true
		}
	}
	s.mu.Unlock()
	return last
}

// eachSub calls fn for every subscriber of ch while holding the shard read
// lock. fn must not call back into the hub.
func (h *hub) eachSub(ch string, fn func(c *Client, sub *subscription)) {
	s := &h.subs[shardIndex(ch)]
	s.mu.RLock()
	for c, sub := range s.channels[ch] {
		fn(c, sub)
	}
	s.mu.RUnlock()
}

// subCount returns the number of local subscribers of ch.
func (h *hub) subCount(ch string) int {
	s := &h.subs[shardIndex(ch)]
	s.mu.RLock()
	n := len(s.channels[ch])
	s.mu.RUnlock()
	return n
}

type subRef struct {
	c   *Client
	sub *subscription
}

var subSnapshotPool = sync.Pool{New: func() any { return new([]subRef) }}

// snapshotSubs copies the subscribers of ch into a pooled slice; release it
// with putSubSnapshot. A subscriber that leaves meanwhile is skipped at
// delivery (its subscription no longer matches); one that joins meanwhile
// gets the publication from history or not at all, as with any race between
// subscribe and publish.
func (h *hub) snapshotSubs(ch string) *[]subRef {
	out := subSnapshotPool.Get().(*[]subRef)
	s := &h.subs[shardIndex(ch)]
	s.mu.RLock()
	for c, sub := range s.channels[ch] {
		*out = append(*out, subRef{c, sub})
	}
	s.mu.RUnlock()
	return out
}

func putSubSnapshot(p *[]subRef) {
	clear(*p)
	*p = (*p)[:0]
	subSnapshotPool.Put(p)
}

// channels returns every channel with local subscribers and their count.
func (h *hub) channels() map[string]int {
	out := make(map[string]int)
	for i := range h.subs {
		s := &h.subs[i]
		s.mu.RLock()
		for ch, m := range s.channels {
			out[ch] = len(m)
		}
		s.mu.RUnlock()
	}
	return out
}
