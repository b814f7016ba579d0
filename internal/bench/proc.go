package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is a snapshot of a process's resource use read from /proc.
type ProcSample struct {
	// At is when the sample was taken.
	At time.Time `json:"-"`
	// CPUSeconds is user plus system CPU time consumed so far.
	CPUSeconds float64 `json:"cpu_seconds"`
	// SystemCPUSeconds is the system (kernel) part of CPUSeconds.
	SystemCPUSeconds float64 `json:"system_cpu_seconds"`
	// RSSBytes is the resident set size (VmRSS).
	RSSBytes int64 `json:"rss_bytes"`
	// Threads is the number of OS threads.
	Threads int `json:"threads"`
	// FDs is the number of open file descriptors.
	FDs int `json:"fds"`
}

// ReadProc samples process pid from the proc file system rooted at /proc.
func ReadProc(pid int) (ProcSample, error) {
	return readProcAt("/proc", pid)
}

// readProcAt samples process pid under the proc root dir.
func readProcAt(root string, pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return s, err
	}
	if s.CPUSeconds, s.SystemCPUSeconds, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return s, err
	}
	if s.RSSBytes, s.Threads, err = parseStatus(status); err != nil {
		return s, fmt.Errorf("%s/status: %w", dir, err)
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	return s, nil
}

// errProcFormat reports a /proc file in an unexpected format.
var errProcFormat = errors.New("unexpected format")

// parseStatCPU returns utime+stime and stime in seconds from the contents
// of /proc/PID/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseStatCPU(b []byte) (total, system float64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errProcFormat
	}
	// After ")": field 3 (state) is the first; utime is 14, stime is 15.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, 0, errProcFormat
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errProcFormat, err)
	}
	return float64(ut+st) / clockTicks, float64(st) / clockTicks, nil
}

// parseStatus returns VmRSS in bytes and Threads from /proc/PID/status.
func parseStatus(b []byte) (rss int64, threads int, err error) {
	var haveRSS, haveThreads bool
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		f := bytes.Fields(val)
		switch string(key) {
		case "VmRSS":
			if len(f) < 1 {
				return 0, 0, errProcFormat
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("%w: %w", errProcFormat, err)
			}
			rss, haveRSS = kb*1024, true
		case "Threads":
			if len(f) < 1 {
				return 0, 0, errProcFormat
			}
			n, err := strconv.Atoi(string(f[0]))
			if err != nil {
				return 0, 0, fmt.Errorf("%w: %w", errProcFormat, err)
			}
			threads, haveThreads = n, true
		}
	}
	if !haveRSS || !haveThreads {
		return 0, 0, fmt.Errorf("%w: no VmRSS or Threads", errProcFormat)
	}
	return rss, threads, nil
}

// ServerUsage is the server's resource use around a measured phase.
type ServerUsage struct {
	// PID is the server's process id.
	PID int `json:"pid"`
	// Before and After are the samples at the start and end of the phase.
	Before ProcSample `json:"before"`
	After  ProcSample `json:"after"`
	// CPUSeconds is After.CPUSeconds - Before.CPUSeconds.
	CPUSeconds float64 `json:"cpu_seconds"`
	// SystemCPUSeconds is the system (kernel) part of CPUSeconds.
	SystemCPUSeconds float64 `json:"system_cpu_seconds"`
	// RSSDeltaBytes is After.RSSBytes - Before.RSSBytes.
	RSSDeltaBytes int64 `json:"rss_delta_bytes"`
}

// procProbe samples a server process, or does nothing when pid is 0.
type procProbe struct{ pid int }

// sample reads the process; ok is false without a pid or on error (the
// error is returned for reporting).
func (p procProbe) sample() (ProcSample, bool, error) {
	if p.pid <= 0 {
		return ProcSample{}, false, nil
	}
	s, err := ReadProc(p.pid)
	return s, err == nil, err
}

// usage builds a ServerUsage from two samples.
func usage(pid int, before, after ProcSample) *ServerUsage {
	return &ServerUsage{
		PID: pid, Before: before, After: after,
		CPUSeconds:       after.CPUSeconds - before.CPUSeconds,
		SystemCPUSeconds: after.SystemCPUSeconds - before.SystemCPUSeconds,
		RSSDeltaBytes:    after.RSSBytes - before.RSSBytes,
	}
}

// setServer records the server's use of the measured phase in r, with its
// kernel share: the part of the server's CPU spent in system calls and the
// kernel work they do (on loopback, the receiving socket's processing and
// the reader's wake-up too), which bounds what the server's own code can
// save.
func (r *Report) setServer(u *ServerUsage) {
	r.Server = u
	if u.CPUSeconds > 0 {
		r.set("server_cpu_kernel_share", u.SystemCPUSeconds/u.CPUSeconds)
	}
}

// selfCPU returns the CPU seconds this process has used, or NaN when /proc
// cannot be read (so figures derived from it are dropped).
func selfCPU() float64 {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		return math.NaN()
	}
	return s.CPUSeconds
}
