//go:build linux

package netpoll

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// armEvents are the events of an armed registration: readable and peer
// half-closed, edge-triggered. EPOLLERR and EPOLLHUP are always reported.
const armEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

// Watch states.
const (
	stateDisarmed = iota // added, not armed yet: events are recorded, not acted on
	statePending         // not armed yet, and readiness was seen
	stateIdle            // armed, no callback queued or running
	stateRunning         // a callback is queued or running
	stateDirty           // running, and readiness was seen meanwhile
)

// wakeID is the epoll data of the eventfd that wakes pollers at Close; watch
// ids start at 1.
const wakeID = 0

// Poller is an epoll reactor; see the package documentation.
type Poller struct {
	eps    []*epoller
	next   atomic.Uint32
	queue  chan *Watch
	inline bool

	closed    atomic.Bool
	closeOnce sync.Once
	pollers   sync.WaitGroup // poller goroutines
	workers   sync.WaitGroup // pooled workers and overflow goroutines
}

// epoller is one epoll instance with its registrations. The epoll file
// descriptor is itself non-blocking and registered in the Go runtime's
// network poller (through os.File), so that the poller goroutine waits for
// events like any goroutine waiting for a socket: parked, without holding a
// thread in a blocking epoll_wait.
type epoller struct {
	p      *Poller
	epfd   int
	epf    *os.File        // owns epfd
	eprc   syscall.RawConn // of epf
	wakefd int

	mu      sync.Mutex
	watches map[uint64]*Watch // guarded by mu
	lastID  uint64            // guarded by mu
}

// Watch is the registration of one connection; see Poller.Add.
type Watch struct {
	ep      *epoller
	id      uint64
	rc      syscall.RawConn
	cb      Callback
	removed atomic.Bool
	hangup  atomic.Bool // an event reported EPOLLRDHUP, EPOLLHUP or EPOLLERR
	state   atomic.Int32
}

// New starts a Poller with its poller and worker goroutines. Close stops them.
func New(cfg Config) (*Poller, error) {
	cfg = cfg.withDefaults()
	p := &Poller{queue: make(chan *Watch, cfg.QueueSize), inline: cfg.Inline}
	for range cfg.Pollers {
		ep, err := newEpoller(p)
		if err != nil {
			for _, e := range p.eps {
				e.close()
			}
			return nil, err
		}
		p.eps = append(p.eps, ep)
	}
	for _, ep := range p.eps {
		p.pollers.Go(ep.loop)
	}
	for range cfg.Workers {
		p.workers.Go(func() {
			for w := range p.queue {
				w.run()
			}
		})
	}
	return p, nil
}

func newEpoller(p *Poller) (*epoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("netpoll: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setID(&ev, wakeID)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, fmt.Errorf("netpoll: epoll_ctl eventfd: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, fmt.Errorf("netpoll: set non-blocking: %w", err)
	}
	ep := &epoller{p: p, epfd: epfd, wakefd: wakefd, watches: make(map[uint64]*Watch)}
	ep.epf = os.NewFile(uintptr(epfd), "epoll") // non-blocking: registered in the runtime poller
	if ep.eprc, err = ep.epf.SyscallConn(); err != nil {
		ep.close()
		return nil, fmt.Errorf("netpoll: epoll fd: %w", err)
	}
	return ep, nil
}

func (ep *epoller) close() {
	_ = ep.epf.Close()
	_ = unix.Close(ep.wakefd)
}

// setID stores a 64-bit registration id in the epoll data (Fd and Pad are the
// two halves of the kernel's epoll_data union on every Linux architecture).
func setID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))        //nolint:gosec // bit-level split
	ev.Pad = int32(uint32(id >> 32)) //nolint:gosec // bit-level split
}

func getID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// loop waits for events until Close and dispatches them to workers.
func (ep *epoller) loop() {
	events := make([]unix.EpollEvent, 256)
	var (
		n    int
		werr error
	)
	// wait is made once: a closure made per wake-up would allocate it and
	// the variables it sets each time.
	wait := func(fd uintptr) bool {
		n, werr = epollWait(int(fd), events) //nolint:gosec // fd fits in int
		if errors.Is(werr, unix.EINTR) {
			n, werr = 0, nil
			return true // try again
		}
		// Nothing ready: park in the runtime poller until the epoll
		// fd becomes readable.
		return n > 0 || werr != nil
	}
	for {
		n, werr = 0, nil
		err := ep.eprc.Read(wait)
		if err != nil || werr != nil {
			return // the epoll fd is broken or closed; nothing sensible is left to do
		}
		for i := range n {
			id := getID(&events[i])
			if id == wakeID {
				if ep.p.closed.Load() {
					return
				}
				continue
			}
			ep.mu.Lock()
			w := ep.watches[id]
			ep.mu.Unlock()
			if w != nil {
				if events[i].Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					w.hangup.Store(true) // before notify: the callback it runs sees it
				}
				w.notify()
			}
		}
	}
}

// dispatch runs w's callback inline (Config.Inline) or hands w to a pooled
// worker, or to a new goroutine when every worker is busy and the queue is
// full. Only poller goroutines call it.
func (p *Poller) dispatch(w *Watch) {
	if p.inline {
		w.run()
		return
	}
	select {
	case p.queue <- w:
	default:
		p.workers.Go(w.run)
	}
}

// Add registers the connection behind rc, unarmed: no callback runs until
// Arm is called. cb runs on a worker goroutine at each readiness after an
// arming; see Callback. The registration is made with its final events, so
// that arming usually costs no system call (see Arm).
func (p *Poller) Add(rc syscall.RawConn, cb Callback) (*Watch, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	ep := p.eps[int(p.next.Add(1))%len(p.eps)]
	ep.mu.Lock()
	ep.lastID++
	w := &Watch{ep: ep, id: ep.lastID, rc: rc, cb: cb}
	ep.watches[w.id] = w
	ep.mu.Unlock()
	if err := w.ctl(unix.EPOLL_CTL_ADD, armEvents); err != nil {
		ep.mu.Lock()
		delete(ep.watches, w.id)
		ep.mu.Unlock()
		return nil, err
	}
	return w, nil
}

// Arm enables the notifications: the callback runs whenever the connection
// becomes readable (at once if it already is). Call it once, after Add. It
// fails if the connection was closed or the watch removed.
func (w *Watch) Arm() error {
	if w.removed.Load() {
		return ErrClosed
	}
	if w.state.CompareAndSwap(stateDisarmed, stateIdle) {
		return nil // nothing seen yet: the next readiness dispatches
	}
	if !w.state.CompareAndSwap(statePending, stateIdle) {
		return errors.New("netpoll: watch armed twice")
	}
	// Readiness was seen before arming, and an edge-triggered registration
	// reports it only once: modifying the registration makes the kernel
	// check readiness again and report it to a poller, which dispatches.
	return w.ctl(unix.EPOLL_CTL_MOD, armEvents)
}

// ArmNow arms w and runs its callback once at once, on the calling
// goroutine, as if the connection had become readable: for input the
// caller read before registering the connection, of which the kernel
// reports no readiness. The callback then runs as after any readiness
// (again if more arrived meanwhile, on a goroutine of its own when it
// returns Again). Call it instead of Arm, once, after Add.
func (w *Watch) ArmNow() error {
	if w.removed.Load() {
		return ErrClosed
	}
	if !w.state.CompareAndSwap(stateDisarmed, stateRunning) && !w.state.CompareAndSwap(statePending, stateRunning) {
		return errors.New("netpoll: watch armed twice")
	}
	w.run()
	return nil
}

// notify records a readiness: it dispatches the callback unless one is
// already queued or running, in which case that one runs again. Only poller
// goroutines call it.
func (w *Watch) notify() {
	for {
		switch s := w.state.Load(); s {
		case stateIdle:
			if w.state.CompareAndSwap(stateIdle, stateRunning) {
				w.ep.p.dispatch(w)
				return
			}
		case stateRunning:
			if w.state.CompareAndSwap(stateRunning, stateDirty) {
				return
			}
		case stateDisarmed: // Arm will ask for this readiness again
			if w.state.CompareAndSwap(stateDisarmed, statePending) {
				return
			}
		default: // pending or dirty: already recorded
			return
		}
	}
}

// HangupSeen reports whether an event of the connection has reported the
// peer's half-close (EPOLLRDHUP), a hang-up or an error; once true it stays
// true. Until then a callback whose last read was short (fewer bytes than
// it asked for, so the socket held no more) may return Wait without reading
// again to EAGAIN: the events report the socket's state when the poller
// takes them, and whatever arrives after that, a FIN included, produces
// another event, which runs the callback again.
func (w *Watch) HangupSeen() bool { return w.hangup.Load() }

// Remove stops watching. It is idempotent, and harmless after the
// connection was closed (closing a socket also ends its registration). A
// callback already running completes, but it is not called again.
func (w *Watch) Remove() {
	if w.removed.Swap(true) {
		return
	}
	w.ep.mu.Lock()
	delete(w.ep.watches, w.id)
	w.ep.mu.Unlock()
	_ = w.ctl(unix.EPOLL_CTL_DEL, 0)
}

// Detach stops watching without the epoll_ctl call: for a connection that
// is closed right after, since closing the socket ends its registration in
// the kernel. Events already read for it are ignored. It is idempotent.
func (w *Watch) Detach() {
	if w.removed.Swap(true) {
		return
	}
	w.ep.mu.Lock()
	delete(w.ep.watches, w.id)
	w.ep.mu.Unlock()
}

func (w *Watch) ctl(op int, events uint32) error {
	var opErr error
	err := w.rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: events}
		setID(&ev, w.id)
		opErr = epollCtl(w.ep.epfd, op, int(fd), &ev) //nolint:gosec // fd fits in int
	})
	if err != nil {
		return err
	}
	if opErr != nil {
		return fmt.Errorf("netpoll: epoll_ctl: %w", opErr)
	}
	return nil
}

// run calls the callback, again while readiness arrived during the call,
// and requeues it when it asks for it.
func (w *Watch) run() {
	for {
		if w.removed.Load() {
			return
		}
		switch w.cb() {
		case Stop:
			w.Remove()
			return
		case Again:
			w.state.Store(stateRunning) // readiness seen meanwhile is covered by the next call
			w.ep.p.requeue(w)
			return
		}
		if w.state.CompareAndSwap(stateRunning, stateIdle) {
			return
		}
		w.state.Store(stateRunning) // was dirty: run again
	}
}

// requeue runs w's callback again on a new goroutine, so that the worker
// moves on to other connections. It is called by the goroutine running w's
// callback, which the WaitGroup still counts.
func (p *Poller) requeue(w *Watch) {
	if p.closed.Load() {
		return
	}
	p.workers.Go(w.run)
}

// Close stops the pollers, lets the workers finish the callbacks in progress
// and waits for every goroutine of the Poller to exit. Registered
// connections are not closed; their callbacks are not called again. Close
// is idempotent and always returns nil.
func (p *Poller) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		for _, ep := range p.eps {
			_, _ = unix.Write(ep.wakefd, one)
		}
		p.pollers.Wait()
		close(p.queue)
		p.workers.Wait()
		for _, ep := range p.eps {
			ep.close()
		}
	})
	return nil
}
