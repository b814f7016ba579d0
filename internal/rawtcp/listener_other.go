//go:build !linux

package rawtcp

import (
	"errors"
	"net"
)

// NewListener returns ln: raw accepting is implemented on Linux only.
func NewListener(ln net.Listener) net.Listener { return ln }

func closeFD(int) error { return errors.ErrUnsupported }
