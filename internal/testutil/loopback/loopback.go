// Package loopback gives tests both ends of a loopback TCP connection.
package loopback

import (
	"net"
	"syscall"
	"testing"
)

// Pair returns the server and client ends of a TCP connection on
// 127.0.0.1, both closed at the end of the test.
func Pair(t testing.TB) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		_ = client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = client.Close() })
	return s.(*net.TCPConn), client
}

// RawPair is Pair with the raw connection of the server end, for tests of
// code that reads and writes the socket itself.
func RawPair(t testing.TB) (server *net.TCPConn, client net.Conn, rc syscall.RawConn) {
	t.Helper()
	server, client = Pair(t)
	rc, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return server, client, rc
}
