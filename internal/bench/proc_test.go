package bench

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseProcFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, fd := range []string{"0", "1", "2", "7"} {
		if err := os.WriteFile(filepath.Join(dir, "fd", fd), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A command name with spaces and a parenthesis; utime 250, stime 150.
	stat := "42 (my) odd srv) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 100 1000 200\n"
	status := "Name:\tsrv\nVmPeak:\t  9999 kB\nVmRSS:\t   2048 kB\nThreads:\t9\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readProcAt(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds != 4 || s.SystemCPUSeconds != 1.5 || s.RSSBytes != 2048*1024 || s.Threads != 9 || s.FDs != 4 {
		t.Fatalf("sample %+v", s)
	}
	if _, _, err := parseStatCPU([]byte("42 (x) S 1 2")); !errors.Is(err, errProcFormat) {
		t.Fatalf("short stat: %v", err)
	}
	if _, _, err := parseStatus([]byte("Name:\tx\n")); !errors.Is(err, errProcFormat) {
		t.Fatalf("status without VmRSS: %v", err)
	}
}
