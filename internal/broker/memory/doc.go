// Package memory is the in-process implementation of Herald's broker
// contracts: Broker (with history streams, idempotent and versioned publish,
// and a single-node control loopback) and PresenceManager. It is the default
// engine and the reference implementation that the conformance suite in
// broker/brokertest is written against. It serves exactly one node: every
// publication is delivered to the node's EventHandler, which filters by local
// subscribers.
//
// # Concurrency
//
// All methods are safe for concurrent use. State is split into 64 shards by a
// hash of the channel name, each with its own mutex; there is no global lock on
// the publish path. Two kinds of locks exist:
//
//   - a publish lock, one of 1024 stripes picked by the channel hash. It is
//     held by Publish, PublishJoin and PublishLeave from the moment the stream
//     is touched until the EventHandler call returns, so that the handler sees
//     the events of a channel in the order they were accepted (publications
//     in offset order);
//   - a shard lock, held only while shard data (streams, idempotency results)
//     is read or changed, never during a handler call.
//
// Lock order: publish lock, then shard lock. The background sweeper takes
// only shard locks.
//
// Because the publish lock is held during EventHandler calls, a handler must
// not call Publish, PublishJoin or PublishLeave synchronously: the target
// channel may share the stripe and the call would deadlock. Reading
// (History) and RemoveHistory from a handler are safe. The same rule applies
// to a ControlHandler calling PublishControl.
//
// # Expiry
//
// History publications expire as a whole HistoryTTL after the last publish
// into the channel (as in Centrifugo's memory and Redis engines); stream meta
// expires HistoryMetaTTL after the last publish or read, after which the
// stream restarts at offset 0 with a new epoch. Idempotency results expire
// IdempotentResultTTL after the publish that stored them. Expiry is checked
// lazily on access and swept in batches by one background goroutine per
// Broker, which frees channels that no longer hold anything.
package memory
