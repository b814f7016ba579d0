//go:build linux

package app

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// TCP keep-alive of accepted connections: Go's defaults (net.ListenConfig
// KeepAlive 0), 15 s idle, 15 s between probes, 9 probes.
const (
	keepAliveIdle     = 15
	keepAliveInterval = 15
	keepAliveCount    = 9
)

// listenKeepAlive sets TCP keep-alive on the listening socket, from which
// Linux copies it to every accepted socket (keep-alive timer included), so
// the listener needs no per-connection setsockopt calls (perConn false):
// Go's own keep-alive setup costs four system calls per accepted
// connection.
func listenKeepAlive() (perConn bool, control func(network, address string, c syscall.RawConn) error) {
	return false, func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd) //nolint:gosec // fd fits in int
			for _, o := range [...]struct{ level, opt, v int }{
				{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
				{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, keepAliveIdle},
				{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, keepAliveInterval},
				{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveCount},
			} {
				if serr = unix.SetsockoptInt(s, o.level, o.opt, o.v); serr != nil {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
