// Package uring sends batches of non-blocking socket writes through one
// io_uring submission: a fan-out that writes one frame to each of a
// thousand sockets makes a handful of system calls instead of a thousand.
//
// On this project's machines a system call costs about a microsecond of
// entry and exit alone (page-table isolation), and a burst of sendto
// calls, each returning to user space between sockets, costs 2–4 µs more
// per socket than the same sends made by the kernel in one io_uring_enter
// (BenchmarkBatchSend). A send in a batch behaves like one sendto(2) with
// MSG_DONTWAIT: it writes what the socket takes now, a full socket gives 0
// bytes rather than waiting, and an error is the connection's.
//
// A Batch is used by one goroutine at a time. The caller adds up to Size
// sends, each with a Sink told the outcome, and submits them; nothing is
// sent before Submit, so the caller keeps each connection's later writes
// behind its batched one until its Sink has been told. Get returns nil
// where io_uring is not available (other systems, kernels before 5.12, or
// io_uring disabled by sysctl or seccomp); a nil *Batch has no room and its
// methods do nothing, so callers write directly instead.
package uring

// Size is the number of sends a Batch holds: enough for a fan-out's share
// of a channel of 1,000 subscribers on two processors in one submission.
// At 1,000 subscribers × 1 channel × 50/s, 64 → 256 → 512 measured
// 5.3–5.9 → 4.8–5.1 → 4.1–4.8 µs of server CPU per delivered message
// (docs/benchmarks.md); the likely reason, not measured apart, is fewer
// costly wake-ups of the receivers, which loopback charges to the sender.
// A Batch and its ring hold 76 KB (26.6 KB of Batch, 32 KB of SQEs, 16.4
// KB of rings).
const Size = 512

// Sink receives the outcome of one batched send.
type Sink interface {
	// Sent reports the bytes written (0 when the socket was full) or the
	// error that broke the connection. It is called from Submit, in the
	// order the sends were added, with no lock of the batch held.
	Sent(n int, err error)
}
