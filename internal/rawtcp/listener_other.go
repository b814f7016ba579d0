//go:build !linux

package rawtcp

import "net"

// NewListener returns ln: raw accepting is implemented on Linux only.
func NewListener(ln net.Listener) net.Listener { return ln }
