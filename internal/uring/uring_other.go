//go:build !linux

package uring

import "errors"

// Batch is unavailable on this system: Get returns nil.
type Batch struct{}

// Available returns errors.ErrUnsupported: io_uring is Linux only.
func Available() error { return errors.ErrUnsupported }

// Get returns nil: io_uring is Linux only.
func Get() *Batch { return nil }

// Full reports false.
func (b *Batch) Full() bool { return false }

// Len returns 0.
func (b *Batch) Len() int { return 0 }

// Add is never called on a nil Batch.
func (b *Batch) Add(int, []byte, Sink) { panic("uring: Add on an unavailable batch") }

// Submit does nothing.
func (b *Batch) Submit() {}

// Release does nothing.
func (b *Batch) Release() {}
