package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
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

	"github.com/golang-jwt/jwt/v5"
)

const (
	// testSecret signs connection and subscription tokens (HS256).
	testSecret = "e2e-secret-key-that-is-long-enough-for-hs256"
	// testAPIKey authenticates server API requests.
	testAPIKey = "e2e-api-key"

	readyTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	maxLogBytes  = 4 << 20
)

// heraldBin is the path of the binary built once by TestMain.
var heraldBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "herald-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	heraldBin = filepath.Join(dir, "herald")
	args := []string{"build", "-o", heraldBin}
	if os.Getenv("HERALD_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/herald")
	var out []byte
	for attempt := 0; attempt < 2; attempt++ { // one retry: a shared build cache can fail transiently
		build := exec.Command("go", args...)
		build.Dir = root
		out, err = build.CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot returns the directory of the go.mod of the module under test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// logBuffer collects a process's output; it is safe for concurrent use and
// keeps at most maxLogBytes (the oldest output is dropped).
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxLogBytes; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// server is a running herald process owned by one test.
type server struct {
	Port    int
	Addr    string // 127.0.0.1:port
	CfgPath string // the configuration file the process reads (and rereads on SIGHUP)
	TLS     bool   // http_server.tls is enabled: URLs are https and wss

	cmd     *exec.Cmd
	logs    *logBuffer
	exited  chan struct{}
	waitErr error
	mu      sync.Mutex
	stopped bool // set when the test asked the process to stop
}

// configOption mutates the server configuration (a JSON object tree)
// before it is written.
type configOption func(cfg map[string]any)

// baseConfig returns the configuration every test starts from: token and
// API keys, health on, short shutdown, and namespaces the tests rely on:
//
//	(no namespace) subscribe for clients, user-limited channels (news#42)
//	chat:  presence, join/leave, history + force_recovery, publish/presence/history for subscribers
//	ro:    subscribe only (client publish → 103)
//	pub:   no history; publish for clients
func baseConfig() map[string]any {
	return map[string]any{
		"log":         map[string]any{"level": "debug"},
		"http_server": map[string]any{"address": "127.0.0.1"},
		"client": map[string]any{
			"token": map[string]any{"hmac_secret_key": testSecret},
		},
		"http_api": map[string]any{"key": testAPIKey},
		"health":   map[string]any{"enabled": true},
		"shutdown": map[string]any{"timeout": "5s"},
		"channel": map[string]any{
			"without_namespace": map[string]any{
				"allow_subscribe_for_client":  true,
				"allow_user_limited_channels": true,
			},
			"namespaces": []any{
				map[string]any{
					"name":                          "chat",
					"presence":                      true,
					"join_leave":                    true,
					"history_size":                  100,
					"history_ttl":                   "300s",
					"force_recovery":                true,
					"allow_subscribe_for_client":    true,
					"allow_publish_for_subscriber":  true,
					"allow_presence_for_subscriber": true,
					"allow_history_for_subscriber":  true,
				},
				map[string]any{
					"name":                       "ro",
					"allow_subscribe_for_client": true,
				},
				map[string]any{
					"name":                       "pub",
					"allow_subscribe_for_client": true,
					"allow_publish_for_client":   true,
				},
			},
		},
	}
}

// withClient sets keys of the "client" section.
func withClient(kv map[string]any) configOption {
	return func(cfg map[string]any) {
		c := cfg["client"].(map[string]any)
		for k, v := range kv {
			c[k] = v
		}
	}
}

// withSection sets keys of a top-level section, creating it if needed.
func withSection(section string, kv map[string]any) configOption {
	return func(cfg map[string]any) {
		s, ok := cfg[section].(map[string]any)
		if !ok {
			s = map[string]any{}
			cfg[section] = s
		}
		for k, v := range kv {
			s[k] = v
		}
	}
}

// startServer writes the configuration to a temporary directory, starts
// herald on a free 127.0.0.1 port and waits for /health. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends, and its output is
// printed if the test failed.
func startServer(t *testing.T, opts ...configOption) *server {
	t.Helper()
	if heraldBin == "" {
		t.Fatal("herald binary not built (TestMain did not run)")
	}
	cfg := baseConfig()
	for _, o := range opts {
		o(cfg)
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	hs, _ := cfg["http_server"].(map[string]any)
	tlsCfg, _ := hs["tls"].(map[string]any)
	tlsOn, _ := tlsCfg["enabled"].(bool)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := tryStart(t, cfgPath, tlsOn)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	t.Fatalf("start herald: %v\nconfig:\n%s", lastErr, raw)
	return nil
}

var errPortInUse = errors.New("port in use")

func tryStart(t *testing.T, cfgPath string, tlsOn bool) (*server, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logs := &logBuffer{}
	cmd := exec.Command(heraldBin, "-c", cfgPath, "-p", strconv.Itoa(port))
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.Dir = filepath.Dir(cfgPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", heraldBin, err)
	}
	s := &server{
		Port:    port,
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		CfgPath: cfgPath,
		TLS:     tlsOn,
		cmd:     cmd,
		logs:    logs,
		exited:  make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(readyTimeout)
	client := s.httpClient(time.Second)
	for {
		select {
		case <-s.exited:
			out := logs.String()
			if strings.Contains(out, "address already in use") {
				return nil, fmt.Errorf("%w: %d", errPortInUse, port)
			}
			return nil, fmt.Errorf("herald exited before becoming ready (%v); output:\n%s", s.waitErr, out)
		default:
		}
		resp, err := client.Get(s.URL("/health"))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if !ownsPort(cmd.Process.Pid, port) {
					// Another test's server took the port between freePort
					// and this process's bind, and answered the health
					// check: this process cannot bind it. Measuring the
					// other server (its configuration, not this test's)
					// made tests fail at random.
					s.kill()
					return nil, fmt.Errorf("%w: %d (answered by another process)", errPortInUse, port)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("herald not ready within %v; output:\n%s", readyTimeout, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
	t.Cleanup(func() { s.stop(t) })
	return s, nil
}

// ownsPort reports whether process pid listens on TCP port, from Linux's
// /proc (the socket's inode among the process's descriptors); where /proc
// cannot tell, it reports true.
func ownsPort(pid, port int) bool {
	var inodes []string
	readable := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		readable = true
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes = append(inodes, f[9])
			}
		}
	}
	if !readable {
		return true
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		for _, ino := range inodes {
			if link == "socket:["+ino+"]" {
				return true
			}
		}
	}
	return false
}

// freePort asks the kernel for a free 127.0.0.1 port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// stop ends the process: SIGTERM, then SIGKILL after stopTimeout. It
// reports a process that exited on its own (a crash), one that needed
// SIGKILL, panics and data races in its output, and prints the output when
// the test failed.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	select {
	case <-s.exited:
		if !stopped {
			t.Errorf("herald exited during the test: %v", s.waitErr)
		}
	default:
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("herald exited with %v after SIGTERM", s.waitErr)
			}
		case <-time.After(stopTimeout):
			t.Errorf("herald did not exit within %v of SIGTERM; killing it", stopTimeout)
			s.kill()
		}
	}
	out := s.logs.String()
	for _, bad := range []string{"panic:", "WARNING: DATA RACE", "fatal error:"} {
		if strings.Contains(out, bad) {
			t.Errorf("herald output contains %q", bad)
		}
	}
	if t.Failed() {
		t.Logf("herald output (port %d):\n%s", s.Port, out)
	}
}

// Terminate sends SIGTERM and waits for the process to exit, returning
// its exit error (nil for status 0).
func (s *server) Terminate(t *testing.T) error {
	t.Helper()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(stopTimeout):
		t.Fatalf("herald did not exit within %v of SIGTERM", stopTimeout)
	}
	return nil
}

// Reload rewrites the configuration file from baseConfig and opts, sends
// SIGHUP and waits until the process logs that it reloaded.
func (s *server) Reload(t *testing.T, opts ...configOption) {
	t.Helper()
	cfg := baseConfig()
	for _, o := range opts {
		o(cfg)
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.CfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	before := strings.Count(s.logs.String(), "configuration reloaded")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	eventually(t, waitTimeout, func() error {
		out := s.logs.String()
		if strings.Count(out, "configuration reloaded") > before {
			return nil
		}
		if strings.Contains(out, "reload failed") {
			t.Fatalf("herald rejected the new configuration:\n%s", out)
		}
		return errors.New("no \"configuration reloaded\" in the log yet")
	})
}

// Running reports whether the process is still alive.
func (s *server) Running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// WSURL returns the bidirectional WebSocket endpoint.
func (s *server) WSURL() string {
	if s.TLS {
		return "wss://" + s.Addr + "/connection/websocket"
	}
	return "ws://" + s.Addr + "/connection/websocket"
}

// URL returns an http (https with TLS) URL on the server.
func (s *server) URL(path string) string {
	if s.TLS {
		return "https://" + s.Addr + path
	}
	return "http://" + s.Addr + path
}

// httpClient returns a client for the server's URLs; with TLS it trusts the
// test's self-signed certificate without checking it.
func (s *server) httpClient(timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if s.TLS {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a test's own self-signed certificate
	}
	return c
}

// eventually calls fn until it returns nil, failing the test with fn's last
// error after timeout.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	var zero T
	return zero
}

// token signs claims with testSecret (HS256).
func token(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// connToken returns a connection token for user valid for an hour, with
// extra claims merged in (a nil value deletes a claim).
func connToken(t *testing.T, user string, extra jwt.MapClaims) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	return token(t, claims)
}

// subToken returns a subscription token for user and channel valid for an
// hour.
func subToken(t *testing.T, user, channel string) string {
	t.Helper()
	return token(t, jwt.MapClaims{"sub": user, "channel": channel, "exp": time.Now().Add(time.Hour).Unix()})
}

// apiResponse is a raw server API answer.
type apiResponse struct {
	Status int
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r apiResponse) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("API response is not a JSON object (status %d): %v: %q", r.Status, err, r.Body)
	}
	return m
}

// apiRaw posts body to path with the given headers (the API key is not added).
func (s *server) apiRaw(t *testing.T, path string, body []byte, header http.Header) apiResponse {
	t.Helper()
	r, err := s.post(path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// post is apiRaw without the testing.T, safe to use from any goroutine.
func (s *server) post(path string, body []byte, header http.Header) (apiResponse, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL(path), bytes.NewReader(body))
	if err != nil {
		return apiResponse{}, fmt.Errorf("API request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := s.httpClient(10 * time.Second).Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("API %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("API %s: read body: %w", path, err)
	}
	return apiResponse{Status: resp.StatusCode, Body: b}, nil
}

// api posts params to /api/<method> with the API key.
func (s *server) api(t *testing.T, method string, params any) apiResponse {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatalf("marshal API params: %v", err)
	}
	return s.apiRaw(t, "/api/"+method, body, http.Header{"X-API-Key": {testAPIKey}})
}

// apiResult calls method and returns its result, failing the test on an
// HTTP or API error.
func (s *server) apiResult(t *testing.T, method string, params any) map[string]any {
	t.Helper()
	r := s.api(t, method, params)
	if r.Status != http.StatusOK {
		t.Fatalf("API %s: HTTP %d: %s", method, r.Status, r.Body)
	}
	m := r.JSON(t)
	if e, ok := m["error"]; ok {
		t.Fatalf("API %s: error %v", method, e)
	}
	res, _ := m["result"].(map[string]any)
	if res == nil {
		res = map[string]any{}
	}
	return res
}

// publish publishes data (any JSON value) into channel via the server API.
func (s *server) publish(t *testing.T, channel string, data any) map[string]any {
	t.Helper()
	return s.apiResult(t, "publish", map[string]any{"channel": channel, "data": data})
}

// presenceStats returns num_clients of channel via the server API.
func (s *server) numClients(t *testing.T, channel string) int {
	t.Helper()
	res := s.apiResult(t, "presence_stats", map[string]any{"channel": channel})
	n, _ := res["num_clients"].(float64)
	return int(n)
}
