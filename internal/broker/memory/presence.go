package memory

import (
	"context"
	"hash/maphash"
	"maps"
	"sync"

	"github.com/heraldrt/herald/internal/broker"
)

// PresenceManager is an in-process broker.PresenceManager. Entries are exact
// (they never expire); a channel whose last entry is removed is freed.
// PresenceStats is O(1): distinct users are counted as entries are added and
// removed. It is safe for concurrent use; state is split into 64 shards by
// channel hash. The zero value is not usable: create it with
// NewPresenceManager.
type PresenceManager struct {
	seed   maphash.Seed
	shards [numShards]presenceShard
}

var _ broker.PresenceManager = (*PresenceManager)(nil)

type presenceShard struct {
	mu       sync.RWMutex
	channels map[string]*presenceChannel
}

// presenceChannel is the presence of one channel. users counts the clients
// of each user id ("" for anonymous connections).
type presenceChannel struct {
	clients map[string]*broker.ClientInfo
	users   map[string]int
}

// NewPresenceManager returns an empty PresenceManager.
func NewPresenceManager() *PresenceManager {
	m := &PresenceManager{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].channels = make(map[string]*presenceChannel)
	}
	return m
}

func (m *PresenceManager) shardOf(ch string) *presenceShard {
	return &m.shards[maphash.String(m.seed, ch)%numShards]
}

// AddPresence adds or replaces the entry of clientID in ch. A copy of *info
// is stored (its byte slices are shared and must not be modified); a nil
// info is stored as an anonymous entry.
func (m *PresenceManager) AddPresence(_ context.Context, ch string, clientID string, info *broker.ClientInfo) error {
	var ci broker.ClientInfo
	if info != nil {
		ci = *info
	}
	s := m.shardOf(ch)
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := s.channels[ch]
	if pc == nil {
		pc = &presenceChannel{
			clients: make(map[string]*broker.ClientInfo, 1),
			users:   make(map[string]int, 1),
		}
		s.channels[ch] = pc
	}
	if old, ok := pc.clients[clientID]; ok {
		pc.dropUser(old.User)
	}
	pc.clients[clientID] = &ci
	pc.users[ci.User]++
	return nil
}

// RemovePresence removes the entry of clientID from ch. userID is not
// needed by this implementation: the stored entry's user is used. Removing
// an absent entry is not an error.
func (m *PresenceManager) RemovePresence(_ context.Context, ch string, clientID string, _ string) error {
	s := m.shardOf(ch)
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := s.channels[ch]
	if pc == nil {
		return nil
	}
	old, ok := pc.clients[clientID]
	if !ok {
		return nil
	}
	delete(pc.clients, clientID)
	pc.dropUser(old.User)
	if len(pc.clients) == 0 {
		delete(s.channels, ch)
	}
	return nil
}

func (pc *presenceChannel) dropUser(user string) {
	if n := pc.users[user]; n <= 1 {
		delete(pc.users, user)
	} else {
		pc.users[user] = n - 1
	}
}

// Presence returns a new map of the entries of ch keyed by client id (empty,
// never nil, for a channel without presence). The ClientInfo values are
// shared and must not be modified.
func (m *PresenceManager) Presence(_ context.Context, ch string) (map[string]*broker.ClientInfo, error) {
	s := m.shardOf(ch)
	s.mu.RLock()
	defer s.mu.RUnlock()
	pc := s.channels[ch]
	if pc == nil {
		return map[string]*broker.ClientInfo{}, nil
	}
	return maps.Clone(pc.clients), nil
}

// PresenceStats returns the number of entries and of distinct users in ch;
// all anonymous entries count as one user.
func (m *PresenceManager) PresenceStats(_ context.Context, ch string) (broker.PresenceStats, error) {
	s := m.shardOf(ch)
	s.mu.RLock()
	defer s.mu.RUnlock()
	pc := s.channels[ch]
	if pc == nil {
		return broker.PresenceStats{}, nil
	}
	return broker.PresenceStats{NumClients: len(pc.clients), NumUsers: len(pc.users)}, nil
}
