package httpstream_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/testutil/rawhttp"
	"github.com/heraldrt/herald/internal/testutil/testcert"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

// newTLSEnv is newEnv served over TLS as Herald serves it: an nbtls
// listener, HTTP/1.1 only (the streams of HTTP/2 are not detached), and
// requests marked by nbtls.ConnContext. It returns the client's TLS
// configuration.
func newTLSEnv(t *testing.T) (*env, *tls.Config) {
	t.Helper()
	serverTLS, clientTLS := testcert.Configs(t)
	e := startEnv(t, nil, httpstream.Config{}, func(h http.Handler) *httptest.Server {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(h)
		srv.Listener = nbtls.NewListener(ln, serverTLS)
		srv.Config.ConnContext = nbtls.ConnContext
		srv.Start()
		return srv
	})
	e.tlsClient = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	t.Cleanup(e.tlsClient.CloseIdleConnections)
	return e, clientTLS
}

// rawTLSSSE is rawSSE over TLS.
func rawTLSSSE(t *testing.T, e *env, clientTLS *tls.Config) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	q := url.QueryEscape(`{"id":1,"connect":{}}`)
	c, _, resp := rawhttp.OpenTLS(t, addr, clientTLS, "GET /connection/sse?cf_connect="+q+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n", nil, streamtest.WaitTimeout)
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, transfer encoding %v: want a chunked 200", resp.StatusCode, resp.TransferEncoding)
	}
	events := bufio.NewReader(resp.Body)
	for {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"connect"`) {
			session, _ := connectResult(t, decode(t, strings.TrimPrefix(strings.TrimSpace(line), "data: ")))["session"].(string)
			return c, events, session
		}
	}
}

// TestDetachedTLSStreams: SSE streams over TLS (HTTP/1.1, nbtls) are
// detached like plain ones: their handlers return, publications still
// reach them as chunks through crypto/tls, and a client that leaves ends
// its session.
func TestDetachedTLSStreams(t *testing.T) {
	e, clientTLS := newTLSEnv(t)
	rawTLSSSE(t, e, clientTLS) // starts the reactor
	base := runtime.NumGoroutine()
	const n = 30
	for range n {
		rawTLSSSE(t, e, clientTLS)
	}
	streamtest.Eventually(t, "handlers returned", func() bool { return runtime.NumGoroutine()-base < n/3 })

	c, events, session := rawTLSSSE(t, e, clientTLS)
	if st := e.emulate(t, "", session, `{"id":2,"subscribe":{"channel":"chat:tls"}}`); st != http.StatusNoContent {
		t.Fatalf("emulation status %d", st)
	}
	big := strings.Repeat("y", 40<<10) // several TLS records
	streamtest.Publish(t, e.node, "chat:tls", `{"text":"`+big+`"}`)
	for {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, big) {
			break
		}
	}
	_ = c.Close()
	streamtest.Eventually(t, "session ended after the client left", func() bool {
		return e.emulate(t, "", session, `{}`) == http.StatusNotFound
	})
}
