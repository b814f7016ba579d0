package e2e

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestOwnsPort: the harness tells its own server's listener from another
// process's on the same port (a port race between parallel tests).
func TestOwnsPort(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: ownsPort cannot tell")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if !ownsPort(os.Getpid(), port) {
		t.Fatal("this process's listener not recognised")
	}
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if ownsPort(other.Process.Pid, port) {
		t.Fatal("another process credited with this process's listener")
	}
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if ownsPort(os.Getpid(), free) {
		t.Fatal("a port nobody listens on credited to this process")
	}
}
