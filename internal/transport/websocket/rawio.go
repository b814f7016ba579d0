package websocket

import (
	"net"
	"syscall"

	"github.com/heraldrt/herald/internal/rawio"
)

// writeAll writes b to nc, first without waiting when nc exposes its socket
// (rawio.WriteNow), then with a blocking write (bounded by nc's deadline) for
// what the socket did not take.
func writeAll(nc net.Conn, b []byte) error {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil { // else write it all blocking
			n, err := rawio.WriteNow(rc, b)
			if err != nil {
				return err
			}
			b = b[n:]
		}
	}
	if len(b) == 0 {
		return nil
	}
	_, err := nc.Write(b)
	return err
}
