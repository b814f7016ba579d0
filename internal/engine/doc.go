// Package engine is Herald's core: the Node (one per process), the sharded
// Hub of connections and channel subscribers, and the Client session state
// machine that serves the client protocol v2 over any Transport.
//
// Concurrency: Node and Hub methods are safe for concurrent use. A Client
// processes the commands of its connection sequentially (HandleFrame is called
// from the transport's read loop); pushes reach it concurrently through its
// bounded write queue, drained by at most one writer goroutine at a time.
// Lock order is documented in LOCKING.md.
package engine
