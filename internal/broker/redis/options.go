package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald/internal/rawio"
)

// Defaults applied by New and NewPresenceManager for zero option values.
const (
	// DefaultAddress is the Redis address used when Options.Addresses,
	// ClusterAddresses and SentinelAddresses are all empty.
	DefaultAddress = "redis://127.0.0.1:6379"
	// DefaultPrefix is the key and channel prefix used when Options.Prefix
	// is empty. It is Centrifugo's, so Herald and Centrifugo nodes can share
	// one Redis.
	DefaultPrefix = "centrifugo"
	// DefaultConnectTimeout bounds dialing a Redis server.
	DefaultConnectTimeout = time.Second
	// DefaultIOTimeout bounds every Redis call.
	DefaultIOTimeout = 4 * time.Second
	// DefaultPresenceTTL is how long a presence entry lives without refresh.
	DefaultPresenceTTL = 60 * time.Second
	// DefaultHistoryMetaTTL is the stream meta lifetime used when
	// PublishOptions.HistoryMetaTTL or HistoryOptions.MetaTTL is zero.
	DefaultHistoryMetaTTL = 30 * 24 * time.Hour
	// DefaultIdempotentResultTTL is the idempotency key lifetime used when
	// PublishOptions.IdempotentResultTTL is zero.
	DefaultIdempotentResultTTL = 5 * time.Minute
	// DefaultSubscribeConns is the number of PUB/SUB connections per Redis
	// shard used when Options.SubscribeConns is zero.
	DefaultSubscribeConns = 2
	// DefaultDispatchWorkers is the number of goroutines delivering events to
	// the EventHandler used when Options.DispatchWorkers is zero.
	DefaultDispatchWorkers = 16
)

// maxSubscribeBatch is the largest number of channels sent in one SUBSCRIBE
// or UNSUBSCRIBE command.
const maxSubscribeBatch = 512

// Options configure a Broker or a PresenceManager. The zero value connects
// to DefaultAddress with the documented defaults.
type Options struct {
	// Addresses lists Redis servers as URLs: redis://[user:pass@]host:port[/db],
	// rediss:// for TLS, unix:///path/to/socket, or
	// redis+sentinel://host:port?sentinel_master_name=NAME&addr=host2:port2.
	// Several addresses shard channels client-side by a jump consistent
	// hash of the channel name (all nodes must list them in the same order).
	// Empty means DefaultAddress unless ClusterAddresses or
	// SentinelAddresses is set.
	Addresses []string
	// ClusterAddresses, when set, connects to one Redis Cluster through
	// these seed addresses (host:port or redis:// URLs). Keys then carry
	// the channel in a {hash tag}.
	ClusterAddresses []string
	// SentinelAddresses, when set, connects to the master named
	// SentinelMasterName through these Sentinels (host:port).
	SentinelAddresses []string
	// SentinelMasterName is the master set monitored by the Sentinels.
	SentinelMasterName string
	// SentinelUser, SentinelPassword and SentinelClientName authenticate to
	// and name the connections to the Sentinels.
	SentinelUser       string
	SentinelPassword   string
	SentinelClientName string
	// SentinelTLS, when non-nil, is used for connections to Sentinels.
	SentinelTLS *tls.Config

	// DB, User and Password override the URL values when non-zero.
	DB       int
	User     string
	Password string
	// ClientName is sent with CLIENT SETNAME on every connection; empty
	// sends none.
	ClientName string
	// ForceRESP2 disables the RESP3 handshake (for old or proxied servers).
	ForceRESP2 bool
	// TLS, when non-nil, is used for every connection (rediss:// URLs get a
	// default TLS config without it).
	TLS *tls.Config

	// Prefix of every key and PUB/SUB channel. Empty means DefaultPrefix.
	Prefix string
	// ConnectTimeout bounds dialing. Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// IOTimeout bounds every Redis call, also when the caller's context has
	// no deadline, so that nothing hangs while Redis is unreachable. Zero
	// means DefaultIOTimeout.
	IOTimeout time.Duration

	// PresenceTTL is how long a presence entry lives without being
	// refreshed by AddPresence (entries of crashed nodes). Zero means
	// DefaultPresenceTTL.
	PresenceTTL time.Duration
	// PresenceUserMapping keeps per-user structures next to the presence
	// entries so that PresenceStats is O(1) instead of reading every entry.
	PresenceUserMapping bool

	// SubscribeConns is the number of PUB/SUB connections per Redis shard
	// over which channels are spread. Zero means DefaultSubscribeConns.
	SubscribeConns int
	// DispatchWorkers is the number of goroutines delivering events to the
	// EventHandler; a channel always maps to the same worker. Zero means
	// DefaultDispatchWorkers.
	DispatchWorkers int

	// Logger receives connection-state messages. Nil discards them.
	Logger *slog.Logger
	// Now returns the current time (presence expiry). Nil means time.Now.
	Now func() time.Time
}

// withDefaults returns o with every zero value replaced by its default.
func (o Options) withDefaults() Options {
	if len(o.Addresses) == 0 && len(o.ClusterAddresses) == 0 && len(o.SentinelAddresses) == 0 {
		o.Addresses = []string{DefaultAddress}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = DefaultIOTimeout
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = DefaultPresenceTTL
	}
	if o.SubscribeConns <= 0 {
		o.SubscribeConns = DefaultSubscribeConns
	}
	if o.DispatchWorkers <= 0 {
		o.DispatchWorkers = DefaultDispatchWorkers
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// clientOptions returns one rueidis option set per Redis shard.
func (o Options) clientOptions() ([]rueidis.ClientOption, error) {
	var out []rueidis.ClientOption
	switch {
	case len(o.ClusterAddresses) > 0:
		var opt rueidis.ClientOption
		for _, a := range o.ClusterAddresses {
			if strings.Contains(a, "://") {
				u, err := rueidis.ParseURL(a)
				if err != nil {
					return nil, fmt.Errorf("redis: cluster address %q: %w", a, err)
				}
				opt.InitAddress = append(opt.InitAddress, u.InitAddress...)
				if opt.TLSConfig == nil {
					opt.TLSConfig = u.TLSConfig
				}
				if opt.Username == "" {
					opt.Username, opt.Password = u.Username, u.Password
				}
				continue
			}
			opt.InitAddress = append(opt.InitAddress, a)
		}
		out = append(out, opt)
	case len(o.SentinelAddresses) > 0:
		if o.SentinelMasterName == "" {
			return nil, errors.New("redis: sentinel addresses need a sentinel master name")
		}
		opt := rueidis.ClientOption{InitAddress: o.SentinelAddresses}
		opt.Sentinel.MasterSet = o.SentinelMasterName
		out = append(out, opt)
	default:
		for _, a := range o.Addresses {
			opt, err := parseAddress(a)
			if err != nil {
				return nil, err
			}
			out = append(out, opt)
		}
	}
	for i := range out {
		opt := &out[i]
		if opt.Sentinel.MasterSet != "" {
			opt.Sentinel.Username = o.SentinelUser
			opt.Sentinel.Password = o.SentinelPassword
			opt.Sentinel.ClientName = o.SentinelClientName
			opt.Sentinel.TLSConfig = o.SentinelTLS
			opt.Sentinel.Dialer.Timeout = o.ConnectTimeout
		}
		if o.DB != 0 {
			opt.SelectDB = o.DB
		}
		if o.User != "" {
			opt.Username = o.User
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if o.ClientName != "" {
			opt.ClientName = o.ClientName
		}
		if o.TLS != nil {
			opt.TLSConfig = o.TLS
		}
		opt.AlwaysRESP2 = opt.AlwaysRESP2 || o.ForceRESP2
		opt.DisableCache = true
		opt.Dialer.Timeout = o.ConnectTimeout
		opt.ConnWriteTimeout = o.IOTimeout
		if opt.TLSConfig == nil {
			opt.DialCtxFn = dialRaw
		}
	}
	return out, nil
}

// dialRaw dials a plain TCP connection as rueidis does and has its reads
// and writes made as raw system calls (rawio), still waiting in the
// runtime poller: rueidis's reads and writes, one per pipelined batch,
// otherwise go through the scheduler's system-call path, whose hand-off
// wakes the scheduler monitor (see internal/rawtcp).
func dialRaw(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", dst)
	if err != nil {
		return nil, err
	}
	return rawio.Wrap(c), nil
}

// parseAddress parses one address of Options.Addresses.
func parseAddress(a string) (rueidis.ClientOption, error) {
	if !strings.Contains(a, "://") {
		a = "redis://" + a
	}
	if rest, ok := strings.CutPrefix(a, "redis+sentinel://"); ok {
		u, err := url.Parse("redis://" + rest)
		if err != nil {
			return rueidis.ClientOption{}, fmt.Errorf("redis: address %q: %w", a, err)
		}
		q := u.Query()
		master := q.Get("sentinel_master_name")
		if master == "" {
			return rueidis.ClientOption{}, fmt.Errorf("redis: address %q: sentinel_master_name is missing", a)
		}
		q.Del("sentinel_master_name")
		q.Set("master_set", master)
		u.RawQuery = q.Encode()
		a = u.String()
	}
	opt, err := rueidis.ParseURL(a)
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("redis: address %q: %w", a, err)
	}
	return opt, nil
}

// shardIndex picks the shard of ch among n with a jump consistent hash
// (Lamping and Veach) of the FNV-1a hash of the channel name.
func shardIndex(ch string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ch))
	return jumpHash(h.Sum64(), n)
}

func jumpHash(key uint64, buckets int) int {
	var b, j int64 = -1, 0
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
