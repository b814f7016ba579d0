// Package redis implements Herald's broker contracts on Redis (or a
// compatible store: Valkey, KeyDB, DragonflyDB), so that several Herald
// nodes share publications, history, presence and control messages:
// Broker (broker.Broker, broker.Closer, broker.Controller) and
// PresenceManager (broker.PresenceManager, broker.Closer).
//
// The key layout, Lua-script semantics and PUB/SUB payload framing follow
// Centrifugo v6 (COMPAT.md §10.2), so Herald and Centrifugo nodes could share
// one Redis: P.client.<channel> PUB/SUB channels, P.stream.<channel> streams
// with entry ids <offset>-0 and field d (protobuf Publication),
// P.stream.meta.<channel> hashes (e epoch, s top offset, v version, ve
// version epoch), P.result.<channel>.<key> idempotency results,
// P.presence.* presence keys, and P.control / P.node.<id> control channels.
// The scripts live in scripts/ and are embedded. TTLs are set with PEXPIRE,
// so sub-second TTLs work.
//
// # Topologies
//
// One address is a standalone server (redis://, rediss:// for TLS, unix://).
// Several addresses shard channels client-side with a jump consistent hash of
// the channel name; every node must list them in the same order. Sentinel
// (SentinelAddresses + SentinelMasterName, or a redis+sentinel:// URL) and
// Cluster (ClusterAddresses; keys then carry the channel as a {hash tag}) are
// handled by the rueidis client.
//
// # Delivery and ordering
//
// Each shard has Options.SubscribeConns dedicated PUB/SUB connections; a
// channel always uses the same one. A connection's goroutine owns its set of
// subscribed channels and batches queued SUBSCRIBE/UNSUBSCRIBE requests (at
// most 512 channels per command). When a connection breaks it reconnects
// with backoff and subscribes its whole set again; publications made while
// it was down are not delivered (the engine detects the gap from offsets and
// makes clients recover). Messages are handed, in the order Redis sent them,
// to one of Options.DispatchWorkers goroutines chosen by channel hash, which
// call the EventHandler: events of one channel are delivered in order, and
// a slow handler delays only the channels of its worker. EventHandler and
// ControlHandler methods may call any Broker method.
//
// # Failures
//
// Every Redis call is bounded by Options.IOTimeout (and by the caller's
// context); calls that fail because Redis is unreachable return an error
// wrapping ErrUnavailable. New and NewPresenceManager fail if Redis cannot
// be reached at startup.
//
// All methods of Broker and PresenceManager are safe for concurrent use.
package redis
