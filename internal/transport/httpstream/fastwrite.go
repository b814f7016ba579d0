package httpstream

import (
	"fmt"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/rawio"
	"github.com/heraldrt/herald/internal/uring"
)

var (
	_ engine.TryWriter   = (*Stream)(nil)
	_ engine.BatchWriter = (*Stream)(nil)
)

// TryWriteMany writes msgs like WriteMany without waiting (engine.TryWriter):
// on a detached plain-TCP stream, the chunk goes to the socket as far as
// it takes it now and the rest is kept; on other streams (in their
// handler, or TLS) the messages are kept whole. It reports whether all was
// written; what was kept is written first by the next WriteMany.
func (s *Stream) TryWriteMany(msgs ...[]byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	if !s.directLocked() {
		s.held = append(s.held, msgs...)
		return false, nil
	}
	out := s.chunkLocked(msgs)
	n, err := rawio.WriteFD(s.rawFD, out)
	return s.wroteLocked(out, n, err)
}

// wroteLocked takes the outcome of a write of out made without waiting, n
// bytes or err: it keeps what the socket did not take for the next write
// and reports whether out went out whole. Precondition: s.mu held.
func (s *Stream) wroteLocked(out []byte, n int, err error) (bool, error) {
	switch {
	case err != nil:
		return false, fmt.Errorf("httpstream: write: %w", err)
	case n == len(out):
		return true, nil
	}
	s.rest = append([]byte(nil), out[n:]...)
	return false, nil
}

// directLocked reports whether the stream can be written to without
// waiting: detached, plain TCP, nothing kept from an earlier write.
// Precondition: s.mu held.
func (s *Stream) directLocked() bool {
	return s.rawRC != nil && s.rawTLS == nil && !s.rawDone && s.rest == nil && s.held == nil
}

// TryWriteManyIn is TryWriteMany with the chunk written by b's submission
// (engine.BatchWriter): s.mu stays locked until then, so the chunk keeps
// its place before any later write or the close. Streams that cannot be
// written directly are not batched.
func (s *Stream) TryWriteManyIn(b *uring.Batch, done engine.WriteDone, msgs ...[]byte) (bool, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, ErrClosed
	}
	if !s.directLocked() {
		s.mu.Unlock()
		return false, nil
	}
	s.batched, s.batchDone = s.chunkLocked(msgs), done
	b.Add(s.rawFD, s.batched, s)
	return true, nil
}

// Sent is the outcome of the chunk TryWriteManyIn batched (uring.Sink),
// passed on to the engine once s.mu is released.
func (s *Stream) Sent(n int, err error) {
	out, done := s.batched, s.batchDone
	s.batched, s.batchDone = nil, nil
	complete, err := s.wroteLocked(out, n, err)
	s.mu.Unlock()
	done.WriteDone(complete, err)
}
