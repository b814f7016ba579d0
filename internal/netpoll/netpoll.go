// Package netpoll is a small readiness reactor for many mostly idle
// connections: instead of one goroutine blocked in Read per connection, a few
// poller goroutines wait on epoll and hand each readable connection to a
// bounded pool of worker goroutines, which call the connection's callback.
//
// Registrations are edge-triggered, with a per-connection state that lets at
// most one callback of a connection run at a time: readiness observed while
// the callback runs makes it run again afterwards. So the callbacks of one
// connection never overlap and see the input in order; callbacks of
// different connections run in parallel. Re-arming costs no system call.
//
// The poller only watches file descriptors; it never reads or writes them. The
// callback does its own I/O, typically non-blocking reads through
// syscall.RawConn.Read, and must not block on input that has not arrived
// (the connection would hold a worker while idle). Because notifications are
// edge-triggered, a callback must read until a read returns EAGAIN (or EOF,
// or an error) before it returns Wait, with one exception: after a short
// read, and while Watch.HangupSeen is false, the socket was drained and
// anything arriving later gives a new edge (a FIN that arrived with the
// data is what HangupSeen reports). A callback that stops earlier, to be
// fair to other connections, returns Again.
//
// Workers: a fixed pool takes notifications from a bounded queue. When the
// queue is full (every worker busy, for example in slow callbacks), the poller
// runs the callback on a new goroutine rather than stall all connections;
// such goroutines exit when their callback returns. Close waits for all of
// them.
//
// The pollers wait through the Go runtime's network poller (the epoll file
// descriptor is itself registered there), so a waiting poller is a parked
// goroutine, not a thread blocked in a system call.
//
// Concurrency: a Poller is safe for concurrent use. Add, Watch.Arm,
// Watch.Remove and Close may be called from any goroutine, including from
// callbacks (except Close, which waits for callbacks to return).
//
// The reactor is implemented for Linux (epoll); elsewhere New returns
// ErrUnsupported and callers keep a goroutine per connection.
package netpoll

import (
	"errors"
	"runtime"
)

// ErrUnsupported is returned by New on platforms without epoll.
var ErrUnsupported = errors.New("netpoll: not supported on this platform")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("netpoll: poller closed")

// Config sizes a Poller. Zero fields take their defaults.
type Config struct {
	// Pollers is the number of epoll instances, each with one goroutine
	// waiting on it. Connections are spread over them round-robin. Zero
	// means 1 for up to 8 CPUs and GOMAXPROCS/8 above.
	Pollers int
	// Workers is the number of pooled worker goroutines that run callbacks.
	// Zero means 4 × GOMAXPROCS, at least 8.
	Workers int
	// QueueSize bounds the notifications waiting for a pooled worker; when
	// it is full, a callback runs on its own goroutine. Zero means
	// 64 × Workers.
	QueueSize int
	// Inline runs every callback on the poller goroutine that saw the
	// readiness, with no worker pool and no hand-off: for callbacks that are
	// short and never block (a load generator's readers), where the
	// hand-off to a worker would cost more than the callback. Workers and
	// QueueSize are then ignored, except that a callback returning Again
	// still runs again on a goroutine of its own.
	Inline bool
}

func (c Config) withDefaults() Config {
	procs := runtime.GOMAXPROCS(0)
	if c.Pollers <= 0 {
		c.Pollers = max(1, procs/8)
	}
	if c.Inline {
		c.Workers, c.QueueSize = 0, 0
	} else if c.Workers <= 0 {
		c.Workers = max(8, 4*procs)
	}
	if c.QueueSize <= 0 && !c.Inline {
		c.QueueSize = 64 * c.Workers
	}
	return c
}

// Status is what a Callback asks for next.
type Status int

const (
	// Wait: the input was read until none was left; call again at the next
	// readiness.
	Wait Status = iota
	// Again: input may be left unread; call again soon (after other
	// connections had their turn).
	Again
	// Stop: stop watching, for example because the callback closed the
	// connection.
	Stop
)

// Callback is called by a worker when the watched connection is readable, or
// has hung up or failed (a read then reports EOF or the error). Calls for one
// Watch never overlap.
type Callback func() Status
