package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipeServer accepts connections on a loopback port and hands each to
// serve, on its own goroutine.
func pipeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); serve(c) })
		}
	})
	return "http://" + ln.Addr().String() + "/api"
}

// outcomes collects what a pipeline reports, in order.
type outcomes struct {
	mu   sync.Mutex
	ks   []int
	errs []error
}

func (o *outcomes) done(k int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ks = append(o.ks, k)
	o.errs = append(o.errs, err)
}

func answer(w io.Writer, status int, body string) {
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
}

// TestPipelineSendsBeforeAnswers proves the requests are pipelined: the
// server reads all five before it answers any, which would hang a
// sequential publisher. The answers are reported in order, an API error
// and a bad status as errors.
func TestPipelineSendsBeforeAnswers(t *testing.T) {
	const n = 5
	got := make(chan []string, 1)
	api := pipeServer(t, func(c net.Conn) {
		// A publisher that waited for each answer would leave the second
		// read without a request: fail it instead of hanging.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		var bodies []string
		for range n {
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(req.Body)
			if req.URL.Path != "/api/publish" || req.Header.Get("X-API-Key") != "k" {
				t.Errorf("request %s %v", req.URL, req.Header)
			}
			bodies = append(bodies, string(b))
		}
		got <- bodies
		for i := range n {
			switch i {
			case 2:
				answer(c, 200, `{"error":{"code":102,"message":"unknown channel"}}`)
			case 3:
				answer(c, 503, "busy")
			default:
				answer(c, 200, `{"result":{}}`)
			}
		}
	})
	var out outcomes
	p, err := newPipeline(Options{APIURL: api, APIKey: "k", Timeout: 5 * time.Second}, out.done)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.send(context.Background(), i, fmt.Appendf(nil, `{"channel":"c","data":%d}`, i))
	}
	p.close()
	select {
	case bodies := <-got:
		if bodies[4] != `{"channel":"c","data":4}` {
			t.Fatalf("bodies %q", bodies)
		}
	default:
		t.Fatal("the server did not receive the requests before answering")
	}
	if fmt.Sprint(out.ks) != "[0 1 2 3 4]" {
		t.Fatalf("order %v", out.ks)
	}
	var ae *apiError
	if out.errs[0] != nil || out.errs[1] != nil || out.errs[4] != nil ||
		!errors.As(out.errs[2], &ae) || ae.Code != 102 ||
		!errors.As(out.errs[3], &ae) || ae.Status != 503 {
		t.Fatalf("outcomes %v", out.errs)
	}
}

// TestPipelineRedialsAfterLostConnection: the server answers one request
// and closes; the publishes in flight fail, and the next one goes out on a
// new connection.
func TestPipelineRedialsAfterLostConnection(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	api := pipeServer(t, func(c net.Conn) {
		mu.Lock()
		conns++
		first := conns == 1
		mu.Unlock()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.ReadAll(req.Body)
		if first { // wait for the second request, then answer one and hang up
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
		answer(c, 200, `{"result":{}}`)
		if !first {
			_, _ = http.ReadRequest(br) // until the client closes
		}
	})
	var out outcomes
	p, err := newPipeline(Options{APIURL: api, Timeout: 5 * time.Second}, out.done)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p.send(ctx, 0, []byte(`{}`))
	p.send(ctx, 1, []byte(`{}`))
	deadline := time.Now().Add(5 * time.Second)
	for { // poll until the lost connection is noticed
		out.mu.Lock()
		n := len(out.ks)
		out.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outcomes after the server hung up, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	p.send(ctx, 2, []byte(`{}`))
	p.close()
	if out.errs[0] != nil || out.errs[1] == nil || out.errs[2] != nil {
		t.Fatalf("outcomes %v (ks %v)", out.errs, out.ks)
	}
	if msg := out.errs[1].Error(); strings.Contains(msg, "%!") {
		t.Fatalf("the lost publish's error has no cause: %q", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 2 {
		t.Fatalf("%d connections, want 2", conns)
	}
}

// TestValidateRejectsAPIKeyLineBreak: the key goes into a raw request
// header.
func TestValidateRejectsAPIKeyLineBreak(t *testing.T) {
	o := Options{WSURL: "ws://127.0.0.1:1/connection/websocket", APIURL: "http://127.0.0.1:1/api", APIKey: "k\r\nX-Evil: 1"}
	if err := o.Validate(context.Background()); err == nil {
		t.Fatal("a key with a line break was accepted")
	}
}

// TestPipelineAnswerWithConnectionClose: an answer that closes the
// connection counts, and the publishes sent after it fail with that cause.
func TestPipelineAnswerWithConnectionClose(t *testing.T) {
	api := pipeServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		// The first body read, so that what Peek sees is the second
		// request (on a redialled connection there is none: no answer).
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		if _, err := br.Peek(1); err != nil { // the second request has arrived
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\n{\"result\":{}}")
	})
	var out outcomes
	p, err := newPipeline(Options{APIURL: api, Timeout: 5 * time.Second}, out.done)
	if err != nil {
		t.Fatal(err)
	}
	p.send(context.Background(), 0, []byte(`{}`))
	p.send(context.Background(), 1, []byte(`{}`))
	p.close()
	if len(out.errs) != 2 || out.errs[0] != nil || !errors.Is(out.errs[1], errAnswerClosed) {
		t.Fatalf("outcomes %v", out.errs)
	}
}
