package redis_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/heraldrt/herald/internal/testutil/testcert"
)

// testCert is a self-signed certificate (testcert.New) in files, for
// redis-server, and as a key pair and pool, for the client.
type testCert struct {
	certFile, keyFile string
	pair              tls.Certificate
	pool              *x509.CertPool
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	certPEM, keyPEM := testcert.New(t)
	dir := t.TempDir()
	c := testCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	c.pool.AppendCertsFromPEM(certPEM)
	return c
}

// startTLSRedis starts a private redis-server that accepts only TLS
// connections presenting a client certificate signed by cert, and returns
// its host:port. It is stopped when the test ends.
func startTLSRedis(t *testing.T, cert testCert) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", cert.certFile, "--tls-key-file", cert.keyFile, "--tls-ca-cert-file", cert.certFile,
		"--tls-auth-clients", "yes", "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server with TLS: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	hp := "127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 10*time.Second, "redis-server accepting TLS connections", func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", hp,
			&tls.Config{RootCAs: cert.pool, Certificates: []tls.Certificate{cert.pair}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
	return hp
}

// TestTLSConformance runs the broker and presence suites against a Redis
// that requires TLS with client certificates (mutual TLS), as managed
// Redis services with in-transit encryption do.
func TestTLSConformance(t *testing.T) {
	cert := newTestCert(t)
	hp := startTLSRedis(t, cert)
	opts := func(t *testing.T) redis.Options {
		return redis.Options{
			Addresses: []string{"rediss://" + hp},
			TLS:       &tls.Config{RootCAs: cert.pool, Certificates: []tls.Certificate{cert.pair}, MinVersion: tls.VersionTLS12},
			Prefix:    "tls" + strconv.FormatInt(time.Now().UnixNano(), 36),
		}
	}
	t.Run("broker", func(t *testing.T) {
		brokertest.RunBroker(t, func(t *testing.T) broker.Broker { return newTestBroker(t, opts(t)) })
	})
	t.Run("presence", func(t *testing.T) {
		brokertest.RunPresence(t, func(t *testing.T) broker.PresenceManager { return newTestPresence(t, opts(t)) })
	})

	// Without the client certificate, or without trusting the server's,
	// the broker fails to start with an error instead of hanging.
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: cert.pool, MinVersion: tls.VersionTLS12},
		"untrusted server":      {RootCAs: x509.NewCertPool(), Certificates: []tls.Certificate{cert.pair}, MinVersion: tls.VersionTLS12},
	} {
		o := opts(t)
		o.TLS = cfg
		o.ConnectTimeout = time.Second
		o.IOTimeout = time.Second
		b, err := redis.New(o)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = b.Publish(ctx, "c", []byte(`{}`), broker.PublishOptions{})
			cancel()
			_ = b.Close(context.Background())
		}
		if err == nil {
			t.Fatalf("%s: connected and published", name)
		}
	}
}
