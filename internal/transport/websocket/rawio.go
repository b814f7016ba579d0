package websocket

import (
	"net"

	"github.com/heraldrt/herald/internal/rawio"
)

// writeNow writes what the socket behind nc takes of b now
// (rawio.WriteNow) and returns how much; it writes nothing when nc does
// not expose its socket.
func writeNow(nc net.Conn, b []byte) (int, error) {
	rc := rawio.RawConn(nc)
	if rc == nil {
		return 0, nil
	}
	return rawio.WriteNow(rc, b)
}
