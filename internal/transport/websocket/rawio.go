package websocket

import (
	"net"
	"sync"
	"syscall"

	"github.com/heraldrt/herald/internal/netpoll"
)

// rawOp is one non-blocking read or write on a socket through
// syscall.RawConn. Its callbacks are bound once, when the op is created, and
// ops are pooled, so a read or a write allocates nothing (a closure over
// the call's locals would cost three allocations per system call).
type rawOp struct {
	buf     []byte
	n       int
	err     error
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

var rawOps = sync.Pool{New: func() any {
	op := new(rawOp)
	op.readFn = op.read
	op.writeFn = op.write
	return op
}}

// read does one read(2), retrying only on EINTR; it never waits in the
// runtime poller.
func (op *rawOp) read(fd uintptr) bool {
	for {
		op.n, op.err = netpoll.Read(int(fd), op.buf) //nolint:gosec // fd fits in int
		if op.err != syscall.EINTR {                 //nolint:errorlint // a bare Errno from the system call
			return true
		}
	}
}

// write writes as much of buf as the socket takes now (op.n bytes); EAGAIN
// ends it without an error.
func (op *rawOp) write(fd uintptr) bool {
	for op.n < len(op.buf) {
		m, e := netpoll.Write(int(fd), op.buf[op.n:]) //nolint:gosec // fd fits in int
		if e == syscall.EINTR {                       //nolint:errorlint // a bare Errno from the system call
			continue
		}
		if e == syscall.EAGAIN { //nolint:errorlint // a bare Errno from the system call
			break
		}
		if e != nil {
			op.err = e
			break
		}
		if m <= 0 {
			break
		}
		op.n += m
	}
	return true // never wait for writability here
}

// rawRead reads into p with one non-blocking read(2) on rc. It returns the
// error of the system call (EAGAIN when nothing has arrived) or cerr, the
// error of rc itself (the connection is closed).
func rawRead(rc syscall.RawConn, p []byte) (n int, err, cerr error) {
	op := rawOps.Get().(*rawOp)
	op.buf, op.n, op.err = p, 0, nil
	cerr = rc.Read(op.readFn)
	n, err = op.n, op.err
	op.buf, op.err = nil, nil
	rawOps.Put(op)
	return n, err, cerr
}

// rawWrite writes what the socket rc takes of b now and returns how much.
func rawWrite(rc syscall.RawConn, b []byte) (int, error) {
	op := rawOps.Get().(*rawOp)
	op.buf, op.n, op.err = b, 0, nil
	cerr := rc.Write(op.writeFn)
	n, err := op.n, op.err
	op.buf, op.err = nil, nil
	rawOps.Put(op)
	if err != nil {
		return n, err
	}
	return n, cerr
}

// writeNow writes what the socket rc takes of b without waiting and
// returns the rest; with no raw connection (rc nil) it writes nothing.
func writeNow(rc syscall.RawConn, b []byte) (rest []byte, err error) {
	if rc == nil {
		return b, nil
	}
	n, err := rawWrite(rc, b)
	return b[n:], err
}

// writeAll writes b to nc, first without waiting when nc exposes its socket
// (see writeNow), then with a blocking write (bounded by nc's deadline) for
// what the socket did not take.
func writeAll(nc net.Conn, b []byte) error {
	var rc syscall.RawConn
	if sc, ok := nc.(syscall.Conn); ok {
		rc, _ = sc.SyscallConn() // nil on error: write it all blocking
	}
	rest, err := writeNow(rc, b)
	if err != nil || len(rest) == 0 {
		return err
	}
	_, err = nc.Write(rest)
	return err
}
