// Package browser runs Herald's transports and demo page in headless
// Chromium (Debian's chromium, driven by playwright-core from npm) against
// real herald processes. See browser_test.go.
package browser

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const apiKey = "browser-test-api-key"

// heraldBin is built once by TestMain.
var heraldBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-o", heraldBin, "./cmd/herald")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "browser: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root (two levels above this package).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// syncBuffer is a goroutine-safe process output buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// herald is a running herald process.
type herald struct {
	addr string // 127.0.0.1:port
	logs *syncBuffer
}

// startHerald runs herald with the demo configuration plus edit, on a free
// port, and waits for /health. It is stopped with SIGTERM when the test ends.
func startHerald(t *testing.T, edit func(cfg map[string]any)) *herald {
	t.Helper()
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "internal", "demo", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["http_api"] = map[string]any{"key": apiKey}
	cfg["log"] = map[string]any{"level": "debug"}
	cfg["shutdown"] = map[string]any{"timeout": "5s"}
	edit(cfg)
	raw, _ = json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h := &herald{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logs: &syncBuffer{}}
	cmd := exec.Command(heraldBin, "-c", path, "-p", strconv.Itoa(port), "-a", "127.0.0.1")
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("herald did not stop within 10s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("herald output:\n%s", h.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + h.addr + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("herald exited: %v\n%s", err, h.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald not ready within 15s:\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
}
