// Package rawtcp accepts TCP connections and closes them with raw system
// calls, outside the Go scheduler's system-call hand-off, and gives each as
// a net.Conn that reads and writes its socket raw until an operation has to
// wait.
//
// Go's net package accepts, configures (getsockname, setsockopt) and
// closes every connection through the scheduler's system-call path, and
// registers it in the runtime's network poller. A call on that path made
// while the server was idle wakes the scheduler monitor (sysmon) into
// 20 µs polling for the next few milliseconds; on a server whose clients
// connect, subscribe and leave all the time, those wake-ups cost about a
// tenth of its CPU (docs/benchmarks.md). A WebSocket connection of the
// reactor never waits in the runtime poller: its reads and writes are
// non-blocking system calls made by the reactor. So a Conn starts as a bare
// descriptor: no runtime poller registration, no system call beyond
// accept4 and close for a connection that never blocks.
//
// The first operation that must wait (a Read or Write the socket cannot
// serve now, a syscall.RawConn Read or Write whose function asks to wait)
// hands the descriptor to an os.File, which registers it in the runtime
// poller; from then on the Conn behaves as any net.Conn, deadlines
// included (deadlines set before are carried over). The descriptor's number
// never changes, so a registration made meanwhile (the reactor's epoll)
// stays valid.
//
// Concurrency: as any net.Conn, a Conn allows one Read and one Write at a
// time, and any other method concurrently. Close waits for no one: the
// descriptor is released when the last raw operation in progress ends, so
// its number is never reused under one.
package rawtcp
