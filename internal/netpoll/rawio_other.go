//go:build !linux

package netpoll

import "syscall"

// Write writes b to the non-blocking descriptor fd with one write(2).
func Write(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }

// Read reads into b from the non-blocking descriptor fd with one read(2).
func Read(fd int, b []byte) (int, error) { return syscall.Read(fd, b) }
