package websocket

import (
	"io"
	"net"
	"sync"
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
	shutdownWaitsFor(t, c, "a direct write", func() { c.fdUsers.Add(-1) })
	if _, _, ok := c.writeFD([]byte("x")); ok {
		t.Fatal("a direct write started after shutdown")
	}
}

// shutdownWaitsFor shuts c down and checks that it waits for what (a
// write in progress) until end ends it, then finishes.
func shutdownWaitsFor(t *testing.T, c *conn, what string, end func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { c.shutdown(); close(done) }()
	select {
	case <-done:
		t.Fatalf("the connection was closed during %s", what)
	case <-time.After(50 * time.Millisecond): // shutdown must still be waiting; not a timing assertion on success
	}
	end()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("shutdown did not finish after %s", what)
	}
}

// TestDirectWritesNeverReachAReusedDescriptor closes connections while a
// writer keeps writing to them directly (as a fan-out that has not yet seen
// the close does), then opens a new connection at once, which the kernel
// gives the lowest free descriptor number: the one just closed. Nothing of
// the old connection's writes may come out of the new connection: every byte
// either end receives before its marker would be another connection's data.
func TestDirectWritesNeverReachAReusedDescriptor(t *testing.T) {
	h := NewHandler(nil, Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (*net.TCPConn, net.Conn, int) {
		t.Helper()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		fd := -1
		rc, _ := client.(*net.TCPConn).SyscallConn()
		_ = rc.Control(func(f uintptr) { fd = int(f) }) //nolint:gosec // fd fits in int
		return server.(*net.TCPConn), client, fd
	}

	const rounds = 200
	reused := 0
	for range rounds {
		server, client, _ := pair()
		c := newConn(h, server, protocol.TypeJSON)
		rc, err := server.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		c.setRawConn(rc)
		oldFD := c.fd

		stop := make(chan struct{})
		wrote := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.writeMu.Lock()
				_, _, _ = c.writeFD([]byte("stale"))
				c.writeMu.Unlock()
				if first {
					close(wrote)
					first = false
				}
			}
		})
		<-wrote
		c.shutdown()
		server2, client2, newFD := pair() // the client end takes the freed number
		if newFD == oldFD {
			reused++
		}
		close(stop)
		wg.Wait()

		// Each end of the new connection must read exactly the other's marker.
		for _, ends := range [][2]net.Conn{{server2, client2}, {client2, server2}} {
			if _, err := ends[0].Write([]byte("marker")); err != nil {
				t.Fatal(err)
			}
			_ = ends[1].SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len("marker"))
			if _, err := io.ReadFull(ends[1], got); err != nil {
				t.Fatal(err)
			}
			if string(got) != "marker" {
				t.Fatalf("a new connection received %q before its own data: a write of a closed connection reached the descriptor that replaced it", got)
			}
		}
		_ = client.Close()
		_ = server2.Close()
		_ = client2.Close()
	}
	if reused < rounds/2 {
		t.Fatalf("the closed descriptor was reused in %d of %d rounds: the test did not exercise the race", reused, rounds)
	}
}
