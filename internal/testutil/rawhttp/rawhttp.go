// Package rawhttp opens HTTP/1.1 connections with hand-written requests, for
// tests that need the raw connection after the response head (WebSocket
// frames, a streamed body) and no client-side goroutines.
package rawhttp

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/wsframe"
)

// Open dials addr, writes req (a complete request head) followed by extra
// in one write, and reads the response head. The connection's deadline is
// timeout from now and it is closed at the end of the test. The reader is
// positioned after the head; resp.Body reads the body when the response has
// one (dechunked), else it is empty and the reader holds what follows.
func Open(t testing.TB, addr, req string, extra []byte, timeout time.Duration) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return exchange(t, c, req, extra, timeout)
}

// OpenTLS is Open over TLS with the client configuration cfg.
func OpenTLS(t testing.TB, addr string, cfg *tls.Config, req string, extra []byte, timeout time.Duration) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return exchange(t, c, req, extra, timeout)
}

// exchange writes the request on c and reads the response head; see Open.
func exchange(t testing.TB, c net.Conn, req string, extra []byte, timeout time.Duration) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("response head: %v", err)
	}
	return c, br, resp
}

// ReadFrame reads one WebSocket frame from br: the first header byte (FIN,
// RSV bits, opcode), whether the frame was masked, and the payload,
// unmasked.
func ReadFrame(br *bufio.Reader) (b0 byte, masked bool, payload []byte, err error) {
	head, err := br.Peek(2)
	if err != nil {
		return 0, false, nil, err
	}
	hdr, _, _ := wsframe.Length(head)
	if head, err = br.Peek(hdr); err != nil {
		return 0, false, nil, err
	}
	_, n, _ := wsframe.Length(head)
	b0, masked = head[0], head[1]&wsframe.Masked != 0
	var key [4]byte
	if masked {
		copy(key[:], head[hdr-4:])
	}
	if _, err = br.Discard(hdr); err != nil {
		return 0, false, nil, err
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return 0, false, nil, err
	}
	if masked {
		wsframe.Mask(key, 0, payload)
	}
	return b0, masked, payload, nil
}
