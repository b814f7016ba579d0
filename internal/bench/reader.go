package bench

import (
	"io"
	"net"
	"runtime"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
)

// maxReadsPerCall bounds the reads of one reactor callback, so that a
// connection with a long backlog does not starve the others.
const maxReadsPerCall = 16

// newReader returns the reactor that reads the scenario's connections: its
// callbacks run inline on one poller goroutine per processor, since they
// only parse and count. It returns nil where there is no reactor; the
// connections then have a goroutine each.
func newReader() *netpoll.Poller {
	p, err := netpoll.New(netpoll.Config{Inline: true, Pollers: runtime.GOMAXPROCS(0)})
	if err != nil {
		return nil
	}
	return p
}

// start hands the reading of the connection to the reactor p (or to a
// goroutine of its own when p is nil or the connection is TLS). Frames
// received with the last reply were handled by call, so what is buffered is
// at most the start of a frame. end is called once, when reading
// ends: with nil after Close, else with the reason.
func (c *conn) start(p *netpoll.Poller, end func(error)) {
	c.rmu.Lock()
	c.end = end
	if c.closed.Load() {
		c.rmu.Unlock()
		c.finish(nil)
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	var w *netpoll.Watch
	if tc, ok := c.nc.(*net.TCPConn); ok && p != nil {
		if raw, err := detach(tc); err == nil { // else a goroutine reads nc
			c.wmu.Lock()
			c.raw = raw
			c.wmu.Unlock()
			if w, err = p.Add(raw.rawConn(), c.onReadable); err != nil {
				c.failLocked(err)
				c.rmu.Unlock()
				return
			}
		}
	}
	c.watch = w
	c.rmu.Unlock()
	if w == nil {
		go c.readLoop()
		return
	}
	if err := w.Arm(); err != nil {
		c.fail(err)
	}
}

// onReadable is the reactor callback: it reads what has arrived and handles
// the complete frames. A read shorter than the buffer means the socket was
// drained, so it returns without the extra read that would only return
// EAGAIN (edge-triggered epoll reports any later arrival again), unless
// the reactor has reported the server's half-close: a FIN that came with
// the last data gives no further event, so it reads on to the end.
func (c *conn) onReadable() netpoll.Status {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return netpoll.Stop
	}
	for range maxReadsPerCall {
		buf := c.fr.space()
		n, err := c.raw.Read(buf)
		if n > 0 {
			c.fr.in = c.fr.in[:len(c.fr.in)+n]
			if perr := c.parse(); perr != nil {
				c.failLocked(perr)
				return netpoll.Stop
			}
		}
		switch {
		case err == syscall.EAGAIN: //nolint:errorlint // a bare Errno from the system call
			return netpoll.Wait
		case err != nil:
			c.failLocked(err)
			return netpoll.Stop
		case n == 0:
			c.failLocked(io.EOF)
			return netpoll.Stop
		case n < len(buf) && !c.watch.HangupSeen():
			return netpoll.Wait
		}
	}
	return netpoll.Again
}

// readLoop reads the connection on its own goroutine (TLS, or no reactor).
func (c *conn) readLoop() {
	for {
		c.rmu.Lock()
		if c.closed.Load() {
			c.rmu.Unlock()
			return
		}
		n, err := c.nc.Read(c.fr.space())
		c.fr.in = c.fr.in[:len(c.fr.in)+n]
		if n > 0 {
			if perr := c.parse(); perr != nil {
				err = perr
			}
		}
		if err != nil {
			if !c.closed.Load() { // else Close, waiting for rmu, ends it
				c.failLocked(err)
			}
			c.rmu.Unlock()
			return
		}
		c.rmu.Unlock()
	}
}

// fail ends reading with err and closes the connection.
func (c *conn) fail(err error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.failLocked(err)
}

// failLocked is fail with c.rmu held.
func (c *conn) failLocked(err error) {
	if c.watch != nil {
		c.watch.Detach()
	}
	c.closeSocket()
	c.finish(err)
}
