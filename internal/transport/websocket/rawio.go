package websocket

import (
	"net"

	"github.com/heraldrt/herald/internal/rawio"
)

// writeAll writes b to nc, first without waiting (writeNow), then with a
// blocking write (bounded by nc's deadline) for what the socket did not
// take.
func writeAll(nc net.Conn, b []byte) error {
	n, err := writeNow(nc, b)
	if err != nil {
		return err
	}
	if b = b[n:]; len(b) == 0 {
		return nil
	}
	_, err = nc.Write(b)
	return err
}

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
