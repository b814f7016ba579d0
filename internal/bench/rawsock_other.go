//go:build !linux

package bench

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// rawSocket exists only on Linux, where the reactor is; elsewhere every
// connection keeps a reading goroutine.
type rawSocket struct{}

func detach(*net.TCPConn) (*rawSocket, error) { return nil, errors.ErrUnsupported }

func (*rawSocket) Write([]byte, time.Time) error { return errors.ErrUnsupported }

func (*rawSocket) Read([]byte) (int, error) { return 0, errors.ErrUnsupported }

func (*rawSocket) Close() error { return nil }

func (*rawSocket) rawConn() syscall.RawConn { return nil }
