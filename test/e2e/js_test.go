package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsDir returns the absolute path of test/e2e/js.
func jsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var npmOnce struct {
	sync.Once
	err error
	out string
}

// ensureNodeModules installs test/e2e/js dependencies from package-lock.json
// unless node_modules is already there. It runs at most once per process.
func ensureNodeModules(t *testing.T, dir string) {
	t.Helper()
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "centrifuge", "package.json")); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		npmOnce.err, npmOnce.out = err, string(out)
	})
	if npmOnce.err != nil {
		t.Fatalf("npm ci in %s failed: %v\n%s", dir, npmOnce.err, npmOnce.out)
	}
}

// TestCentrifugeJS runs js/basic.mjs (centrifuge-js from npm, JSON and
// Protobuf builds) under Node.js against a herald process, and once more
// with websocket.compression on, where the ws client's permessage-deflate
// offer must be accepted.
func TestCentrifugeJS(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	dir := jsDir(t)

	for _, run := range []string{"json", "protobuf", "json+deflate"} {
		proto, deflate := strings.CutSuffix(run, "+deflate")
		t.Run(run, func(t *testing.T) {
			t.Parallel()
			var opts []configOption
			if deflate {
				opts = append(opts, withSection("websocket", map[string]any{"compression": true}))
			}
			s := startServer(t, opts...)
			const user, channel = "js-user", "chat:js"
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "basic.mjs")
			cmd.Dir = dir
			cmd.Env = append(jsEnv(t, s, user, channel), "HERALD_PROTOCOL="+proto)
			var stderr logBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatalf("start node: %v", err)
			}
			var lines []string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				lines = append(lines, line)
				if line == "READY" {
					s.publish(t, channel, map[string]any{"from": "go"})
				}
			}
			err = cmd.Wait()
			if err != nil || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "OK ") {
				t.Fatalf("basic.mjs (%s): %v\nstdout:\n%s\nstderr:\n%s", run, err, strings.Join(lines, "\n"), stderr.String())
			}
			last := lines[len(lines)-1]
			if got := strings.Contains(last, "permessage-deflate"); got != deflate {
				t.Fatalf("basic.mjs (%s): permessage-deflate negotiated: %v, want %v (%s)", run, got, deflate, last)
			}
			t.Log(last)
		})
	}
}

// TestCentJSAPI runs js/api.mjs: the server API driven by cent.js (the npm
// package "cent.js", a Centrifugo HTTP API client written by others, over
// Node's fetch, so through the API fast lane) while centrifuge-js observes
// the publications, unsubscribe and disconnect it causes.
func TestCentJSAPI(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	s := startServer(t)
	const user, channel = "cent-user", "chat:cent"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "api.mjs")
	cmd.Dir = jsDir(t)
	cmd.Env = jsEnv(t, s, user, channel)
	var stdout, stderr logBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.HasPrefix(stdout.String(), "OK ") {
		t.Fatalf("api.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
}

// jsEnv is the environment of the js/*.mjs scripts: the server's URLs and
// API key, a connection token for user, and the channel to use.
func jsEnv(t *testing.T, s *server, user, channel string) []string {
	return append(os.Environ(),
		"HERALD_WS_URL="+s.WSURL(),
		"HERALD_API_URL="+s.URL("/api"),
		"HERALD_API_KEY="+testAPIKey,
		"HERALD_TOKEN="+connToken(t, user, nil),
		"HERALD_USER="+user,
		"HERALD_CHANNEL="+channel,
	)
}
