package redis

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/redis/rueidis"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// Lua scripts, loaded once per process and run with EVALSHA (falling back to
// EVAL after a server restart).
var (
	publishScript        = loadScript("publish.lua")
	historyScript        = loadScript("history.lua")
	presenceAddScript    = loadScript("presence_add.lua")
	presenceRemoveScript = loadScript("presence_remove.lua")
	presenceGetScript    = loadScript("presence_get.lua")
	presenceStatsScript  = loadScript("presence_stats.lua")
)

func loadScript(name string) *rueidis.Lua {
	src, err := scriptFS.ReadFile("scripts/" + name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return rueidis.NewLuaScript(string(src))
}

// ErrUnavailable wraps errors of Redis calls that failed because Redis could
// not be reached or did not answer within Options.IOTimeout.
var ErrUnavailable = errors.New("redis: unavailable")

// shard is one Redis deployment (standalone server, Sentinel-managed master
// or Cluster) holding the channels that hash to it.
type shard struct {
	client  rueidis.Client
	addr    string // for messages
	cluster bool   // keys carry the channel as a {hash tag}
}

// connect creates one client per shard described by opts (with defaults
// applied). On error, clients already created are closed.
func connect(opts Options) ([]*shard, error) {
	cos, err := opts.clientOptions()
	if err != nil {
		return nil, err
	}
	shards := make([]*shard, 0, len(cos))
	for _, co := range cos {
		c, err := rueidis.NewClient(co)
		if err != nil {
			for _, s := range shards {
				s.client.Close()
			}
			return nil, fmt.Errorf("redis: connect to %v: %w", co.InitAddress, errors.Join(ErrUnavailable, err))
		}
		shards = append(shards, &shard{
			client:  c,
			addr:    fmt.Sprint(co.InitAddress),
			cluster: c.Mode() == rueidis.ClientModeCluster,
		})
	}
	return shards, nil
}

// keys builds key and channel names for one shard.
type keys struct {
	prefix  string
	cluster bool
}

// tag returns ch wrapped in a hash tag in Cluster mode, so that all keys of
// a channel live in one slot.
func (k keys) tag(ch string) string {
	if k.cluster {
		return "{" + ch + "}"
	}
	return ch
}

func (k keys) clientChannel(ch string) string { return k.prefix + ".client." + ch }
func (k keys) stream(ch string) string        { return k.prefix + ".stream." + k.tag(ch) }
func (k keys) streamMeta(ch string) string    { return k.prefix + ".stream.meta." + k.tag(ch) }
func (k keys) result(ch, key string) string {
	return k.prefix + ".result." + k.tag(ch) + "." + key
}
func (k keys) presenceData(ch string) string   { return k.prefix + ".presence.data." + k.tag(ch) }
func (k keys) presenceExpire(ch string) string { return k.prefix + ".presence.expire." + k.tag(ch) }
func (k keys) presenceUserExpire(ch string) string {
	return k.prefix + ".presence.user.expire." + k.tag(ch)
}
func (k keys) presenceUserClients(ch string) string {
	return k.prefix + ".presence.user.clients." + k.tag(ch)
}

// epochLetters are the characters of a stream epoch.
const epochLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newEpoch returns a random 8-letter stream epoch.
func newEpoch() string {
	var b [8]byte
	for i := range b {
		b[i] = epochLetters[rand.IntN(len(epochLetters))]
	}
	return string(b[:])
}

// millis formats d in whole milliseconds, at least 1.
func millis(d int64) string {
	ms := d / 1e6
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

// wrapErr marks connection-level failures with ErrUnavailable and adds
// context to err.
func wrapErr(op, addr string, err error) error {
	if err == nil {
		return nil
	}
	if _, isRedisErr := rueidis.IsRedisErr(err); isRedisErr {
		return fmt.Errorf("redis %s on %s: %w", op, addr, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redis %s on %s: %w", op, addr, err)
	}
	return fmt.Errorf("redis %s on %s: %w", op, addr, errors.Join(ErrUnavailable, err))
}
