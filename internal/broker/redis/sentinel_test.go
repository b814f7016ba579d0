package redis_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/brokertest"
	"github.com/heraldrt/herald/internal/broker/redis"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSentinel starts a Sentinel (redis-server --sentinel) monitoring the
// private master on masterPort under the name "herald-master".
func startSentinel(t *testing.T, masterPort int) string {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor herald-master 127.0.0.1 %d 1\n", port, dir, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	hp := "127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 10*time.Second, "sentinel knows the master", func() bool {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "sentinel", "get-master-addr-by-name", "herald-master").Output()
		return err == nil && len(out) > 0 && string(out) != "\n"
	})
	return hp
}

// TestSentinelConformance runs the broker and presence suites through a
// real Sentinel that points at a private master.
func TestSentinelConformance(t *testing.T) {
	master := startRedisServer(t)
	sentinel := startSentinel(t, master.port)
	opts := func(t *testing.T) redis.Options {
		return redis.Options{
			SentinelAddresses:  []string{sentinel},
			SentinelMasterName: "herald-master",
			Prefix:             "sentinel" + strconv.FormatInt(time.Now().UnixNano(), 36),
		}
	}
	t.Run("broker", func(t *testing.T) {
		brokertest.RunBroker(t, func(t *testing.T) broker.Broker { return newTestBroker(t, opts(t)) })
	})
	t.Run("presence", func(t *testing.T) {
		brokertest.RunPresence(t, func(t *testing.T) broker.PresenceManager { return newTestPresence(t, opts(t)) })
	})
}
