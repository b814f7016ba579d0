package app

import (
	"context"
	"net"
)

// listenTCP listens on addr with TCP keep-alive on accepted connections
// (15 s, as Go's default), set once on the listener where the system
// allows it (see listenKeepAlive).
func listenTCP(addr string) (net.Listener, error) {
	perConn, control := listenKeepAlive()
	lc := net.ListenConfig{Control: control}
	if !perConn {
		lc.KeepAlive = -1 // inherited from the listener instead
	}
	return lc.Listen(context.Background(), "tcp", addr)
}
