package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/centrifugal/centrifuge-go"

	"github.com/heraldrt/herald/internal/testutil/testcert"
)

// TestSDKOverTLS: centrifuge-go connects over wss:// to a herald serving
// TLS (http_server.tls), where WebSocket connections are read by the
// reactor through crypto/tls (nbtls); it subscribes, receives an API
// publication and a message of many TLS records, and publishes itself.
func TestSDKOverTLS(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := testcert.New(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withSection("http_server", map[string]any{
			"tls": map[string]any{"enabled": true, "cert_pem": string(certPEM), "key_pem": string(keyPEM)},
		}))
		c := newSDKClient(t, s, p, centrifuge.Config{
			Token:     connToken(t, "u1", nil),
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		})
		if err := c.Connect(); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		c.waitConnected(t)
		sub, _ := subscribe(t, c, "chat:tls", centrifuge.SubscriptionConfig{})
		s.publish(t, "chat:tls", map[string]any{"text": "over tls"})
		sub.expectPub(t, `{"text":"over tls"}`)

		big := strings.Repeat("x", 48<<10) // several TLS records
		s.publish(t, "chat:tls", map[string]any{"text": big})
		sub.expectPub(t, `{"text":"`+big+`"}`)

		if _, err := sub.Publish(t.Context(), []byte(`{"from":"client"}`)); err != nil {
			t.Fatalf("client publish over TLS: %v", err)
		}
		sub.expectPub(t, `{"from":"client"}`)
	})
}
