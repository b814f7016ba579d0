package redis_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/brokertest"
	"github.com/heraldrt/herald/internal/broker/redis"
)

// startRedisCluster starts three private cluster-mode redis-servers on free
// ports, joins them into a cluster (no replicas) and returns their
// addresses. Everything is stopped and removed when the test ends.
func startRedisCluster(t *testing.T) []string {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("this test needs %s in PATH: %v", bin, err)
		}
	}
	var addrs, hostPorts []string
	for i := 0; i < 3; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		dir := t.TempDir()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		hp := "127.0.0.1:" + strconv.Itoa(port)
		eventually(t, 10*time.Second, "cluster node up", func() bool {
			c, err := net.DialTimeout("tcp", hp, 100*time.Millisecond)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		})
		hostPorts = append(hostPorts, hp)
		addrs = append(addrs, "redis://"+hp)
	}
	args := append([]string{"--cluster", "create"}, hostPorts...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must see the cluster up (one node reporting ok while
	// another still answers CLUSTERDOWN made the first test flaky).
	eventually(t, 20*time.Second, "cluster state ok on every node", func() bool {
		for _, hp := range hostPorts {
			out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", hp[len("127.0.0.1:"):], "cluster", "info").Output()
			if err != nil || !strings.Contains(string(out), "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return addrs
}

// TestClusterConformance runs the broker and presence conformance suites
// against a real three-node Redis Cluster (keys carry {channel} hash tags).
func TestClusterConformance(t *testing.T) {
	addrs := startRedisCluster(t)
	t.Run("broker", func(t *testing.T) {
		brokertest.RunBroker(t, func(t *testing.T) broker.Broker {
			return newTestBroker(t, redis.Options{ClusterAddresses: addrs, Prefix: "cluster" + strconv.FormatInt(time.Now().UnixNano(), 36)})
		})
	})
	t.Run("presence", func(t *testing.T) {
		brokertest.RunPresence(t, func(t *testing.T) broker.PresenceManager {
			return newTestPresence(t, redis.Options{ClusterAddresses: addrs, Prefix: "cluster" + strconv.FormatInt(time.Now().UnixNano(), 36)})
		})
	})
}
