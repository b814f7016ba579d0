//go:build !linux

package netpoll

import "syscall"

// Poller is unavailable on this platform; New always fails.
type Poller struct{}

// Watch is unavailable on this platform.
type Watch struct{}

// New returns ErrUnsupported.
func New(Config) (*Poller, error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported.
func (p *Poller) Add(syscall.RawConn, Callback) (*Watch, error) { return nil, ErrUnsupported }

// Arm returns ErrUnsupported.
func (w *Watch) Arm() error { return ErrUnsupported }

// ArmNow returns ErrUnsupported.
func (w *Watch) ArmNow() error { return ErrUnsupported }

// Remove does nothing.
func (w *Watch) Remove() {}

// Detach stops watching a connection about to be closed.
func (w *Watch) Detach() {}

// Close returns nil.
func (p *Poller) Close() error { return nil }

// HangupSeen reports true: without events, a callback reads to EAGAIN.
func (w *Watch) HangupSeen() bool { return true }
