package rawio

import (
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/heraldrt/herald/internal/netpoll"
)

// op is one raw read or write through a syscall.RawConn. Its callbacks are
// bound once, when the op is created, and ops are pooled, so a call
// allocates nothing (a closure over the call's locals would cost several
// allocations per system call).
type op struct {
	buf     []byte
	n       int
	err     error
	wait    bool // on EAGAIN, wait for readiness in the runtime poller
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

var ops = sync.Pool{New: func() any {
	o := new(op)
	o.readFn, o.writeFn = o.read, o.write
	return o
}}

func (o *op) read(fd uintptr) bool {
	for {
		o.n, o.err = netpoll.Read(int(fd), o.buf) //nolint:gosec // fd fits in int
		switch {
		case errors.Is(o.err, syscall.EINTR):
			continue
		case o.wait && errors.Is(o.err, syscall.EAGAIN):
			return false
		}
		if o.n < 0 {
			o.n = 0
		}
		return true
	}
}

func (o *op) write(fd uintptr) bool {
	n, err := WriteFD(int(fd), o.buf[o.n:]) //nolint:gosec // fd fits in int
	o.n += n
	o.err = err
	return err != nil || o.n == len(o.buf) || !o.wait
}

// do runs one read or write of buf through rc. It returns the bytes moved,
// the system call's error and rc's own error (the connection is closed,
// or, when waiting, the deadline passed).
func do(rc syscall.RawConn, buf []byte, write, wait bool) (n int, err, cerr error) {
	o := ops.Get().(*op)
	o.buf, o.n, o.err, o.wait = buf, 0, nil, wait
	if write {
		cerr = rc.Write(o.writeFn)
	} else {
		cerr = rc.Read(o.readFn)
	}
	n, err = o.n, o.err
	o.buf, o.err = nil, nil
	ops.Put(o)
	return n, err, cerr
}

// ReadNow does one non-blocking read (netpoll.Read) into p through rc,
// never waiting in the runtime poller. It returns the system call's result
// (err is syscall.EAGAIN when nothing has arrived; n is 0 with a nil err at
// end of stream) and cerr, the error of rc itself (the connection is
// closed).
func ReadNow(rc syscall.RawConn, p []byte) (n int, err, cerr error) {
	return do(rc, p, false, false)
}

// ErrWouldBlock is returned by ReadAvailable when nothing has arrived.
var ErrWouldBlock = errors.New("rawio: nothing to read now")

// ReadAvailable reads what has arrived on the socket behind rc into p,
// without waiting (ReadNow), and sorts the outcome for a reader: n > 0
// with a nil error, ErrWouldBlock when nothing has arrived, io.EOF at the
// end of the stream, rc's error when the connection is closed, or the
// system call's.
func ReadAvailable(rc syscall.RawConn, p []byte) (int, error) {
	n, err, cerr := ReadNow(rc, p)
	switch {
	case cerr != nil:
		return 0, cerr
	case errors.Is(err, syscall.EAGAIN):
		return 0, ErrWouldBlock
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// WriteNow writes what the socket behind rc takes of b now and returns how
// much; a full socket ends it without an error.
func WriteNow(rc syscall.RawConn, b []byte) (int, error) {
	n, err, cerr := do(rc, b, true, false)
	if err != nil {
		return n, err
	}
	return n, cerr
}

// WriteFD writes b to the non-blocking descriptor fd with netpoll.Write
// calls until it is written or the socket is full (EAGAIN, not an error).
// The caller guarantees that fd stays open during the call.
func WriteFD(fd int, b []byte) (n int, err error) {
	for n < len(b) {
		m, e := netpoll.Write(fd, b[n:])
		switch {
		case errors.Is(e, syscall.EINTR):
			continue
		case errors.Is(e, syscall.EAGAIN):
			return n, nil
		case e != nil:
			return n, e
		case m <= 0:
			return n, nil
		}
		n += m
	}
	return n, nil
}
