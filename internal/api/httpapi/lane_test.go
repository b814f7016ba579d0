package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/api/httpapi"
	"github.com/heraldrt/herald/internal/api/httplane"
)

// lane serves requests through ServeLane on a real httplane.Lane (one for
// the test binary, on loopback), so that sameAnswer compares the reactor
// binding's answers with ServeHTTP's as they go over the wire.
var lane struct {
	once     sync.Once
	mu       sync.Mutex // one request at a time
	h        atomic.Pointer[httpapi.Handler]
	addr     string // "" where the reactor is unavailable
	conn     net.Conn
	br       *bufio.Reader
	handed   atomic.Bool  // the lane gave the last request to its fallback
	compared atomic.Int64 // answers compared
}

// laneAnswer serves r (with body) through h.ServeLane and returns the
// answer as sameAnswer formats them, or false when the lane did not answer
// it itself (a request it hands to fasthttp, or no reactor here).
func laneAnswer(h *httpapi.Handler, r *http.Request, body string) (string, bool) {
	lane.once.Do(func() {
		l, err := httplane.New(httplane.Config{
			Prefix:   httpapi.DefaultPrefix,
			Handler:  func(r *httplane.Request, resp *httplane.Response) { lane.h.Load().ServeLane(r, resp) },
			Fallback: func(c net.Conn) { lane.handed.Store(true); _ = c.Close() },
		})
		if err != nil {
			return // no reactor on this platform
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go func() { _ = l.Serve(ln) }() // lives as long as the test binary
		lane.addr = ln.Addr().String()
	})
	if lane.addr == "" {
		return "", false
	}
	lane.mu.Lock()
	defer lane.mu.Unlock()
	lane.h.Store(h)
	if lane.conn == nil {
		c, err := net.Dial("tcp", lane.addr)
		if err != nil {
			panic(err)
		}
		lane.conn, lane.br = c, bufio.NewReader(c)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\n", r.Method, r.URL.RequestURI())
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", len(body), body)
	lane.handed.Store(false)
	_ = lane.conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(lane.conn, req.String())
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(lane.br, nil)
	}
	if err != nil {
		_ = lane.conn.Close()
		lane.conn = nil
		if lane.handed.Load() {
			return "", false
		}
		panic(fmt.Sprintf("%s %s through the lane: %v", r.Method, r.URL, err))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	lane.compared.Add(1)
	return fmt.Sprintf("%d %q %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), b), true
}

// TestLaneAnswersCompared: the requests of these tests reach ServeLane
// through a real lane and are compared with ServeHTTP's answers (see
// sameAnswer), errors included.
func TestLaneAnswersCompared(t *testing.T) {
	h, _ := newHandler(t, httpapi.Config{})
	before := lane.compared.Load()
	expect(t, do(h, http.MethodPost, "/api/info", `{}`, nil), http.StatusOK, "")
	expect(t, do(h, http.MethodGet, "/api/info", ``, nil), http.StatusMethodNotAllowed, "Method Not Allowed\n")
	expect(t, do(h, http.MethodPost, "/api/info?api_key=wrong", `{}`, header{"X-API-Key": ""}), http.StatusUnauthorized, "Unauthorized\n")
	if lane.addr == "" {
		t.Skip("no reactor on this platform")
	}
	if got := lane.compared.Load() - before; got != 3 {
		t.Fatalf("%d of 3 answers compared through the lane", got)
	}
}
