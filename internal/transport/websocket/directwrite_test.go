package websocket

import (
	"net"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
)

// TestShutdownWaitsForDirectWrite: the descriptor is not closed while a
// direct write is in progress, and no direct write starts after shutdown.
func TestShutdownWaitsForDirectWrite(t *testing.T) {
	h := NewHandler(nil, Config{}, nil)
	server, client := net.Pipe()
	defer client.Close()
	c := newConn(h, server, protocol.TypeJSON)
	c.fdUsers.Add(1) // a write in progress
	done := make(chan struct{})
	go func() { c.shutdown(); close(done) }()
	select {
	case <-done:
		t.Fatal("the connection was closed during a direct write")
	case <-time.After(50 * time.Millisecond): // shutdown must still be waiting; not a timing assertion on success
	}
	c.fdUsers.Add(-1)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not finish after the write")
	}
	if _, _, ok := c.writeFD([]byte("x")); ok {
		t.Fatal("a direct write started after shutdown")
	}
}
