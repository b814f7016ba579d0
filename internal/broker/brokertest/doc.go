// Package brokertest is the conformance suite that every implementation of
// the contracts in package broker must pass: RunBroker for broker.Broker and
// RunPresence for broker.PresenceManager. Implementations call them from
// their own tests with a constructor for a fresh, unstarted instance.
//
// The suite works against brokers that deliver asynchronously (Redis, NATS):
// it subscribes before publishing, waits for deliveries by polling, and
// proves that something was not delivered by publishing a sentinel
// afterwards and relying on per-channel ordering. Every subtest uses its own
// random channel names, so a shared server may be used.
//
// Expiry (history TTL, meta TTL, idempotency TTL) is tested with a fake
// clock when the broker under test implements Clock, and otherwise with
// small real TTLs and polling.
package brokertest
