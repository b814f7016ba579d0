package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/redis/rueidis"
	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/broker"
)

// PresenceManager is a broker.PresenceManager and broker.Closer backed by
// Redis. The entries of a channel live in a hash (client id → protobuf
// ClientInfo) next to a sorted set of their expiry times; entries not
// refreshed within Options.PresenceTTL (those of crashed nodes) are dropped
// by the Lua scripts that read them. With Options.PresenceUserMapping a
// per-user sorted set and count hash make PresenceStats O(1); without it
// PresenceStats reads every entry. All methods are safe for concurrent use.
type PresenceManager struct {
	opts   Options
	shards []*shard
	keys   []keys

	closed atomic.Bool
}

var (
	_ broker.PresenceManager = (*PresenceManager)(nil)
	_ broker.Closer          = (*PresenceManager)(nil)
)

// NewPresenceManager connects to the Redis deployment described by opts
// (defaults applied to zero values). It fails if a Redis server cannot be
// reached within the connect timeout.
func NewPresenceManager(opts Options) (*PresenceManager, error) {
	opts = opts.withDefaults()
	shards, err := connect(opts)
	if err != nil {
		return nil, err
	}
	m := &PresenceManager{opts: opts, shards: shards}
	for _, s := range shards {
		m.keys = append(m.keys, keys{prefix: opts.Prefix, cluster: s.cluster})
	}
	return m, nil
}

// Close closes the Redis clients. It is idempotent; later calls fail with
// broker.ErrClosed.
func (m *PresenceManager) Close(context.Context) error {
	if m.closed.CompareAndSwap(false, true) {
		for _, s := range m.shards {
			s.client.Close()
		}
	}
	return nil
}

// shardOf returns the shard of ch and its key builder, or broker.ErrClosed.
func (m *PresenceManager) shardOf(ch string) (*shard, keys, error) {
	if m.closed.Load() {
		return nil, keys{}, broker.ErrClosed
	}
	i := shardIndex(ch, len(m.shards))
	return m.shards[i], m.keys[i], nil
}

func presenceKeys(k keys, ch string) []string {
	return []string{k.presenceExpire(ch), k.presenceData(ch), k.presenceUserExpire(ch), k.presenceUserClients(ch)}
}

// AddPresence adds or refreshes the entry of clientID in ch; the entry then
// expires Options.PresenceTTL later unless refreshed again.
func (m *PresenceManager) AddPresence(ctx context.Context, ch string, clientID string, info *broker.ClientInfo) error {
	var ci broker.ClientInfo
	if info != nil {
		ci = *info
	}
	data, err := proto.Marshal(infoToProto(&ci))
	if err != nil {
		return fmt.Errorf("redis: encode client info: %w", err)
	}
	ttl := m.opts.PresenceTTL
	expireAt := m.opts.Now().Unix() + int64(math.Ceil(ttl.Seconds()))
	s, k, err := m.shardOf(ch)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.IOTimeout)
	defer cancel()
	err = presenceAddScript.Exec(ctx, s.client, presenceKeys(k, ch), []string{
		millis(int64(ttl)),
		strconv.FormatInt(expireAt, 10),
		clientID,
		rueidis.BinaryString(data),
		ci.User,
		boolArg(m.opts.PresenceUserMapping),
	}).Error()
	return wrapErr("presence add", s.addr, err)
}

// RemovePresence removes the entry of clientID from ch; userID must be the
// user of the entry (it maintains the user mapping). Removing an absent
// entry is not an error.
func (m *PresenceManager) RemovePresence(ctx context.Context, ch string, clientID string, userID string) error {
	s, k, err := m.shardOf(ch)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.IOTimeout)
	defer cancel()
	err = presenceRemoveScript.Exec(ctx, s.client, presenceKeys(k, ch), []string{
		clientID, userID, boolArg(m.opts.PresenceUserMapping),
	}).Error()
	return wrapErr("presence remove", s.addr, err)
}

// Presence returns the live entries of ch keyed by client id (empty, never
// nil, for a channel without presence).
func (m *PresenceManager) Presence(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error) {
	s, k, err := m.shardOf(ch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.IOTimeout)
	defer cancel()
	arr, err := presenceGetScript.Exec(ctx, s.client, []string{k.presenceExpire(ch), k.presenceData(ch)},
		[]string{strconv.FormatInt(m.opts.Now().Unix(), 10)}).ToArray()
	if err != nil {
		return nil, wrapErr("presence get", s.addr, err)
	}
	out := make(map[string]*broker.ClientInfo, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		client, err := arr[i].ToString()
		if err != nil {
			return nil, fmt.Errorf("redis: presence client id: %w", err)
		}
		data, err := arr[i+1].ToString()
		if err != nil {
			return nil, fmt.Errorf("redis: presence entry: %w", err)
		}
		info, err := decodeInfo([]byte(data))
		if err != nil {
			return nil, fmt.Errorf("redis: presence entry of %q: %w", client, err)
		}
		out[client] = info
	}
	return out, nil
}

// PresenceStats returns the number of live entries and of distinct users
// in ch; all anonymous entries count as one user.
func (m *PresenceManager) PresenceStats(ctx context.Context, ch string) (broker.PresenceStats, error) {
	if !m.opts.PresenceUserMapping {
		p, err := m.Presence(ctx, ch)
		if err != nil {
			return broker.PresenceStats{}, err
		}
		users := make(map[string]struct{}, len(p))
		for _, info := range p {
			users[info.User] = struct{}{}
		}
		return broker.PresenceStats{NumClients: len(p), NumUsers: len(users)}, nil
	}
	s, k, err := m.shardOf(ch)
	if err != nil {
		return broker.PresenceStats{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.IOTimeout)
	defer cancel()
	arr, err := presenceStatsScript.Exec(ctx, s.client, presenceKeys(k, ch),
		[]string{strconv.FormatInt(m.opts.Now().Unix(), 10)}).ToArray()
	if err != nil {
		return broker.PresenceStats{}, wrapErr("presence stats", s.addr, err)
	}
	if len(arr) != 2 {
		return broker.PresenceStats{}, fmt.Errorf("redis: presence stats script returned %d values", len(arr))
	}
	clients, err1 := arr[0].AsInt64()
	users, err2 := arr[1].AsInt64()
	if err1 != nil || err2 != nil {
		return broker.PresenceStats{}, fmt.Errorf("redis: presence stats: %v %v", err1, err2)
	}
	return broker.PresenceStats{NumClients: int(clients), NumUsers: int(users)}, nil
}
