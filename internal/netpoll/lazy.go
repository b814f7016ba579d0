package netpoll

import "sync"

// Lazy is a Poller started on first use and stopped by Close, for owners
// (a transport handler) that should start no goroutine until they serve a
// connection. The zero value is ready; Config sizes the Poller.
//
// Concurrency: a Lazy is safe for concurrent use.
type Lazy struct {
	Config Config

	mu     sync.Mutex
	p      *Poller
	err    error // why New failed
	closed bool
}

// Get returns the Poller, starting it on first use. It returns nil when
// none is available: the platform has no epoll (ErrUnsupported), starting
// it failed, or Lazy was closed. The error is returned by the one call
// whose start failed, so that its owner logs it once.
func (l *Lazy) Get() (*Poller, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil || l.err != nil || l.closed {
		return l.p, nil
	}
	l.p, l.err = New(l.Config)
	return l.p, l.err
}

// Close stops the Poller if it was started; Get returns nil from then on.
// It is idempotent.
func (l *Lazy) Close() error {
	l.mu.Lock()
	p := l.p
	l.p, l.closed = nil, true
	l.mu.Unlock()
	if p != nil {
		return p.Close()
	}
	return nil
}
