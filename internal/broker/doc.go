// Package broker holds the extension contracts shared by Herald's engines:
// Broker (PUB/SUB between nodes plus history streams), PresenceManager
// (who is subscribed to a channel) and Controller (node-to-node control
// messages). The memory implementation in broker/memory is the reference;
// Redis, NATS and PostgreSQL implementations implement the same contracts and
// pass the same conformance suite in broker/brokertest.
//
// All methods that may do I/O take a context first. Implementations must be
// safe for concurrent use by many goroutines.
package broker
