package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/config"

	"github.com/heraldrt/herald/internal/testutil/testcert"
)

func TestServerTLSConfig(t *testing.T) {
	cert, key := testcert.New(t)
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	// Raw PEM, a file path and base64 PEM are all accepted.
	c, err := serverTLSConfig(config.TLS{Enabled: true, CertPEM: certFile, KeyPEM: base64.StdEncoding.EncodeToString(key), ClientCAPEM: string(cert)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificates) != 1 || c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
		t.Fatalf("config %+v", c)
	}
	if c, err := serverTLSConfig(config.TLS{}); c != nil || err != nil {
		t.Fatal("disabled TLS must give nil")
	}
	for _, bad := range []config.TLS{
		{Enabled: true},
		{Enabled: true, CertPEM: "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----", KeyPEM: string(key)},
		{Enabled: true, CertPEM: string(cert), KeyPEM: string(key), ClientCAPEM: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"},
	} {
		if _, err := serverTLSConfig(bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}

// TestTLSListeners serves the HTTP listeners over TLS as http_server.tls,
// tls_external and internal_tls say, and checks each with real clients:
// HTTPS (HTTP/2 by ALPN) to the server API, a WebSocket over TLS, and a
// plain-TCP request to a TLS port refused.
func TestTLSListeners(t *testing.T) {
	cert, key := testcert.New(t)
	cert2, key2 := testcert.New(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	pool2 := x509.NewCertPool()
	pool2.AppendCertsFromPEM(cert2)
	tlsOn := config.TLS{Enabled: true, CertPEM: string(cert), KeyPEM: string(key)}
	start := func(t *testing.T, edit func(*config.Config)) []string {
		a, _ := startApp(t, func(c *config.Config) {
			c.Client.Insecure = true
			edit(c)
		})
		var addrs []string
		for _, ad := range a.Addrs() {
			addrs = append(addrs, ad.String())
		}
		return addrs
	}
	client := func(roots *x509.CertPool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}
	}
	apiInfo := func(t *testing.T, c *http.Client, url string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url+"/api/info", strings.NewReader(`{}`))
		req.Header.Set("X-API-Key", "k")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"result":{"nodes":[`) {
			t.Fatalf("%s: %d %q", url, resp.StatusCode, body)
		}
		return resp
	}

	t.Run("one port", func(t *testing.T) {
		addrs := start(t, func(c *config.Config) { c.HTTPServer.TLS = tlsOn })
		if len(addrs) != 1 {
			t.Fatalf("listeners %v", addrs)
		}
		if resp := apiInfo(t, client(pool), "https://"+addrs[0]); resp.Proto != "HTTP/2.0" {
			t.Fatalf("protocol %s, want HTTP/2.0 by ALPN", resp.Proto)
		}
		// Plain HTTP to the TLS port is refused.
		resp, err := http.Post("http://"+addrs[0]+"/api/info", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain HTTP to a TLS port: %d", resp.StatusCode)
			}
		}
		// A client that does not trust the certificate fails the handshake.
		if _, err := client(x509.NewCertPool()).Get("https://" + addrs[0] + "/health"); err == nil {
			t.Fatal("untrusted certificate accepted")
		}
		// WebSocket over TLS: connect and get the reply.
		d := gws.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial("wss://"+addrs[0]+"/connection/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteMessage(gws.TextMessage, []byte(`{"id":1,"connect":{}}`)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(msg), `{"id":1,"connect":{"client":`) {
			t.Fatalf("connect reply %q, %v", msg, err)
		}
	})

	t.Run("tls_external", func(t *testing.T) {
		addrs := start(t, func(c *config.Config) {
			c.HTTPServer.TLS = tlsOn
			c.HTTPServer.TLSExternal = true
			c.HTTPServer.InternalPort = freePort(t)
		})
		if len(addrs) != 2 {
			t.Fatalf("listeners %v", addrs)
		}
		apiInfo(t, http.DefaultClient, "http://"+addrs[1]) // internal: plain
		conn, err := tls.Dial("tcp", addrs[0], &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("external port: %v", err)
		}
		conn.Close()
	})

	t.Run("internal_tls", func(t *testing.T) {
		addrs := start(t, func(c *config.Config) {
			c.HTTPServer.TLS = tlsOn
			c.HTTPServer.InternalTLS = config.TLS{Enabled: true, CertPEM: string(cert2), KeyPEM: string(key2)}
			c.HTTPServer.InternalPort = freePort(t)
		})
		apiInfo(t, client(pool2), "https://"+addrs[1]) // internal: its own certificate
		if _, err := client(pool).Get("https://" + addrs[1] + "/health"); err == nil {
			t.Fatal("internal port served the external certificate")
		}
	})
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call
// (the internal port must be a number, not 0, to differ from the external
// one).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestValidateListenerFeatures(t *testing.T) {
	for key, edit := range map[string]func(*config.Config){
		"http_server.tls":                  func(c *config.Config) { c.HTTPServer.TLS.Enabled = true },
		"http_server.internal_tls":         func(c *config.Config) { c.HTTPServer.InternalTLS = config.TLS{Enabled: true, CertPEM: "x"} },
		"http_server.tls_autocert.enabled": func(c *config.Config) { c.HTTPServer.TLSAutocert.Enabled = true },
		"http_server.http3.enabled":        func(c *config.Config) { c.HTTPServer.HTTP3.Enabled = true },
		"http_server.h2c_external":         func(c *config.Config) { c.HTTPServer.H2CExternal = true },
	} {
		cfg := config.Defaults()
		edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%s: Validate = %v", key, err)
		}
	}
}

// TestClientTLSConfig: engine.redis.tls (and the other client TLS sections)
// become a tls.Config with the client certificate, the trusted CA, the
// server name and the explicit opt-out of verification.
func TestClientTLSConfig(t *testing.T) {
	cert, key := testcert.New(t)
	c, err := tlsConfig(config.TLS{Enabled: true, CertPEM: string(cert), KeyPEM: base64.StdEncoding.EncodeToString(key),
		ServerCAPEM: string(cert), ServerName: "redis.internal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificates) != 1 || c.RootCAs == nil || c.ServerName != "redis.internal" || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("config %+v", c)
	}
	if c, err := tlsConfig(config.TLS{Enabled: true, InsecureSkipVerify: true}); err != nil || !c.InsecureSkipVerify || len(c.Certificates) != 0 {
		t.Fatalf("insecure config %+v, %v", c, err)
	}
	if c, err := tlsConfig(config.TLS{}); c != nil || err != nil {
		t.Fatal("disabled TLS must give nil")
	}
	for _, bad := range []config.TLS{
		{Enabled: true, CertPEM: string(cert)},                                                    // no key
		{Enabled: true, ServerCAPEM: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"}, // bad CA
		{Enabled: true, ServerCAPEM: "/nonexistent/ca.pem"},
	} {
		if _, err := tlsConfig(bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}
