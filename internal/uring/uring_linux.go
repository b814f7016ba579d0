//go:build linux

package uring

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/heraldrt/herald/internal/netpoll"
)

// The io_uring ABI (include/uapi/linux/io_uring.h) as far as it is used.
const (
	opSend = 26 // IORING_OP_SEND

	setupSubmitAll   = 1 << 7  // IORING_SETUP_SUBMIT_ALL: an SQE failing early does not stop the rest
	setupCoopTaskrun = 1 << 8  // IORING_SETUP_COOP_TASKRUN: no interrupt to run completions
	setupNoSQArray   = 1 << 16 // IORING_SETUP_NO_SQARRAY (6.6+): SQEs taken in ring order

	featSingleMmap    = 1 << 0 // IORING_FEAT_SINGLE_MMAP: SQ and CQ rings in one mapping
	featNativeWorkers = 1 << 9 // IORING_FEAT_NATIVE_WORKERS: Linux 5.12, whose sends with MSG_DONTWAIT never wait
	requiredFeatures  = featSingleMmap | featNativeWorkers
	maxEnterAttempts  = 100 // io_uring_enter calls per submission before giving up on the ring

	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS

	offSQRing = 0          // IORING_OFF_SQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES
)

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// sqOffsets is struct io_sqring_offsets.
type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqOffsets is struct io_cqring_offsets.
type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe (64 bytes) with the fields of a send.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	_        [3]uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is one io_uring instance with Size submission entries.
type ring struct {
	fd     int
	mem    []byte // SQ and CQ rings
	sqeMem []byte // the SQE array
	sqHead *uint32
	sqTail *uint32
	sqMask uint32
	tail   uint32 // our copy of the SQ tail, including entries not yet published
	sqes   []sqe
	cqHead *uint32
	cqTail *uint32
	cqMask uint32
	cqes   []cqe
}

func newRing() (*ring, error) {
	var p params
	p.flags = setupSubmitAll | setupCoopTaskrun | setupNoSQArray
	fd, _, e := syscall.Syscall(unix.SYS_IO_URING_SETUP, Size, uintptr(unsafe.Pointer(&p)), 0)
	if e == syscall.EINVAL {
		// A kernel before 6.6 (no NO_SQARRAY) or before 5.19 (no
		// COOP_TASKRUN): the plain ring, with the index array filled below.
		p = params{}
		fd, _, e = syscall.Syscall(unix.SYS_IO_URING_SETUP, Size, uintptr(unsafe.Pointer(&p)), 0)
	}
	if e != 0 {
		return nil, e
	}
	r := &ring{fd: int(fd)}
	if p.features&requiredFeatures != requiredFeatures || p.sqEntries < Size {
		r.close()
		return nil, errors.ErrUnsupported
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	var err error
	if r.mem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	base := unsafe.Pointer(&r.mem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.tail = *r.sqTail
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	if p.flags&setupNoSQArray == 0 {
		// SQE i always sits in slot i: the index array is the identity.
		array := unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), p.sqEntries)
		for i := range array {
			array[i] = uint32(i) //nolint:gosec // at most Size entries
		}
	}
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	return r, nil
}

func (r *ring) close() {
	if r.sqeMem != nil {
		_ = unix.Munmap(r.sqeMem)
	}
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
	}
	_ = syscall.Close(r.fd)
}

// prepSend fills the i-th SQE after the published tail with a send of b to
// fd, tagged i.
func (r *ring) prepSend(i int, fd int, b []byte) {
	s := &r.sqes[(r.tail+uint32(i))&r.sqMask] //nolint:gosec // i < Size
	*s = sqe{
		opcode:   opSend,
		fd:       int32(fd), //nolint:gosec // a descriptor fits in int32
		addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))),
		len:      uint32(len(b)), //nolint:gosec // frames are far below 4 GiB
		msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
		userData: uint64(i), //nolint:gosec // i < Size
	}
}

// minRingSends is the fewest sends submitted through the ring: one send
// alone costs less as a sendto (7.1–7.6 against 8.1 µs with its read-back
// in BenchmarkBatchSend's setting); from two on the ring wins (13.8
// against 14.5–15.1 µs for two, 18.3–18.8 against 22.4–23.5 for three).
const minRingSends = 2

// notDone marks a send without a completion (see submit).
const notDone = int32(-1 << 31)

// submit publishes n prepared SQEs, has the kernel run them and stores each
// one's result (bytes sent or -errno) in res[i]. On an error of the ring
// itself it returns the error and taken, the number of sends the kernel
// took (the first ones): the others are withdrawn. Sends without a result
// keep notDone. After an error the ring must not be used again.
func (r *ring) submit(n int, res []int32) (taken int, err error) {
	for i := range n {
		res[i] = notDone
	}
	start := r.tail
	r.tail += uint32(n) //nolint:gosec // n <= Size
	atomic.StoreUint32(r.sqTail, r.tail)
	seen := 0
	for attempt := 0; seen < n; attempt++ {
		toSubmit := uintptr(r.tail - atomic.LoadUint32(r.sqHead))
		var e syscall.Errno
		switch attempt {
		case maxEnterAttempts:
			e = syscall.EAGAIN // the kernel keeps refusing: give the ring up
		case 0:
			// Sends on non-blocking sockets complete during submission:
			// no waiting, so no scheduler hand-off (see netpoll.Write).
			_, _, e = syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), toSubmit, 0, 0, 0, 0)
		default:
			// A completion left to the kernel's task work: wait for it.
			_, _, e = syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), toSubmit, uintptr(n-seen), enterGetEvents, 0, 0)
		}
		seen += r.reap(n, res)
		if attempt < maxEnterAttempts && (e == 0 || e == syscall.EINTR || e == syscall.EAGAIN || e == syscall.EBUSY) {
			continue
		}
		// Withdraw what the kernel has not taken.
		r.tail = atomic.LoadUint32(r.sqHead)
		atomic.StoreUint32(r.sqTail, r.tail)
		return int(r.tail - start), e
	}
	return n, nil
}

// reap moves the available completions of the current submission into
// res and returns how many there were.
func (r *ring) reap(n int, res []int32) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	count := 0
	for ; head != tail; head++ {
		c := &r.cqes[head&r.cqMask]
		if c.userData < uint64(n) { //nolint:gosec // n <= Size
			res[c.userData] = c.res
		}
		count++
	}
	atomic.StoreUint32(r.cqHead, head)
	return count
}

// disabledBy is why io_uring is off for the process, once it turned out
// unavailable or failed; nil while it works.
var disabledBy atomic.Pointer[error]

// disable turns io_uring off for the process because of err.
func disable(err error) {
	err = fmt.Errorf("uring: %w", err)
	disabledBy.Store(&err)
}

// Available reports whether fan-outs can batch their writes: nil, or why
// not (io_uring missing, forbidden or failed). It sets up a ring if none
// was, so that the first fan-out does not.
func Available() error {
	Get().Release()
	if err := disabledBy.Load(); err != nil {
		return *err
	}
	return nil
}

// idle holds released batches with their rings, for reuse: as many as
// fan-outs may run at once (one per dispatcher worker, several when a
// channel's fan-out is parallel), with some to spare.
var idle = make(chan *Batch, 4*runtime.GOMAXPROCS(0)+8)

type entry struct {
	fd   int
	buf  []byte
	sink Sink
}

// Batch gathers up to Size sends for one submission. See the package
// documentation.
type Batch struct {
	r       *ring
	n       int
	entries [Size]entry
	res     [Size]int32
}

// Get returns a batch with an io_uring instance, reused when one was
// released, or nil when io_uring is unavailable.
func Get() *Batch {
	if disabledBy.Load() != nil {
		return nil
	}
	select {
	case b := <-idle:
		return b
	default:
	}
	r, err := newRing()
	if err != nil {
		if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !errors.Is(err, syscall.ENOMEM) {
			// ENOSYS, EPERM (sysctl, seccomp), ErrUnsupported: for good.
			disable(fmt.Errorf("io_uring_setup: %w", err))
		}
		return nil
	}
	return &Batch{r: r}
}

// Full reports whether the batch holds Size sends (false for nil): submit
// before adding another.
func (b *Batch) Full() bool { return b != nil && b.n == Size }

// Len returns the number of sends waiting for Submit.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return b.n
}

// Add queues a send of buf to the non-blocking socket fd, whose outcome
// goes to s at Submit. The caller keeps buf unchanged and fd open until
// then. Precondition: b is not nil and not Full.
func (b *Batch) Add(fd int, buf []byte, s Sink) {
	if b.r != nil { // else the ring failed: Submit writes directly
		b.r.prepSend(b.n, fd, buf)
	}
	b.entries[b.n] = entry{fd: fd, buf: buf, sink: s}
	b.n++
}

// Submit makes the queued sends and tells each Sink its outcome, in order.
func (b *Batch) Submit() {
	if b == nil || b.n == 0 {
		return
	}
	n := b.n
	taken := 0 // sends the ring took; the others are made directly
	if b.r != nil && n >= minRingSends {
		var rerr error
		if taken, rerr = b.r.submit(n, b.res[:n]); rerr != nil {
			// The ring is broken: no more io_uring in this process.
			disable(fmt.Errorf("io_uring_enter: %w", rerr))
			b.r.close()
			b.r = nil
		}
	}
	for i := range n {
		e := b.entries[i]
		b.entries[i] = entry{}
		var sent int
		var err error
		if i < taken {
			sent, err = outcome(e, b.res[i])
		} else {
			sent, err = direct(e) // not taken by a ring that failed
		}
		e.sink.Sent(sent, err)
	}
	b.n = 0
}

// outcome turns a send's completion into what a sendto(2) would have
// returned.
func outcome(e entry, res int32) (int, error) {
	switch {
	case res >= 0:
		return int(res), nil
	case res == notDone:
		// Taken by a ring that failed before completing it: whether
		// anything was sent is unknown, so the connection is broken.
		return 0, syscall.EIO
	}
	switch errno := syscall.Errno(-res); errno {
	case syscall.EAGAIN, syscall.EINTR:
		return 0, nil
	case syscall.ENOTSOCK:
		return direct(e) // a pipe or a file (tests): write(2)
	default:
		return 0, errno
	}
}

// direct makes e's send with one netpoll.Write.
func direct(e entry) (int, error) {
	n, err := netpoll.Write(e.fd, e.buf)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return 0, nil
	}
	return max(n, 0), err
}

// Release submits what is queued and keeps the batch for the next Get.
func (b *Batch) Release() {
	if b == nil {
		return
	}
	b.Submit()
	if b.r == nil {
		return
	}
	select {
	case idle <- b:
	default:
		b.r.close()
	}
}
