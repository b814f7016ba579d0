package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pipelineWindow bounds the publishes a pipeline has sent and not yet seen
// answered; a sender waits while it is full.
const pipelineWindow = 256

// pipeline publishes through the server API over one keep-alive HTTP/1.1
// connection without waiting for each answer (HTTP/1.1 pipelining): the
// server reads the requests of a connection one after the other and
// answers them in order, so the publications of a channel reach it in
// sequence order, while the publish rate no longer depends on the server's
// latency per request. A sequential publisher offers a slow server less
// load than a fast one (one channel's rate is at most 1/latency); a
// pipeline offers both the requested rate.
//
// Send is called by one goroutine; answers are read by the pipeline's own.
type pipeline struct {
	o    Options
	host string // Host header and dial address
	uri  string // request target
	tls  bool

	// done is called once per publish sent, in send order, with nil when
	// the server answered with a result.
	done func(k int, err error)

	gen *pipeGen // nil before the first send and after a failed dial
	req []byte   // request buffer, reused
}

// pipeGen is one connection of a pipeline and the goroutine reading its
// answers. After a transport error it is dead: the publishes in flight
// fail with that error and the next send dials again.
type pipeGen struct {
	conn    net.Conn
	br      *bufio.Reader
	pending chan int              // channel index of each request in flight, in order
	err     atomic.Pointer[error] // the transport error, once dead
	wg      sync.WaitGroup
}

// newPipeline returns a pipeline to o's API that reports each publish's
// outcome to done; it dials on the first send.
func newPipeline(o Options, done func(k int, err error)) (*pipeline, error) {
	u, err := url.Parse(o.APIURL + "/publish")
	if err != nil {
		return nil, err
	}
	p := &pipeline{o: o, host: u.Host, uri: u.RequestURI(), tls: u.Scheme == "https", done: done}
	if u.Port() == "" {
		port := "80"
		if p.tls {
			port = "443"
		}
		p.host = net.JoinHostPort(u.Hostname(), port)
	}
	return p, nil
}

// send publishes body (a publish request) on channel k. Its outcome is
// reported to done, in order with the other sends.
func (p *pipeline) send(ctx context.Context, k int, body []byte) {
	if p.gen == nil || p.gen.err.Load() != nil {
		p.close()
		gen, err := p.dial(ctx)
		if err != nil {
			p.done(k, err)
			return
		}
		p.gen = gen
	}
	p.req = p.appendRequest(p.req[:0], body)
	p.gen.pending <- k // waits while the window is full
	if _, err := p.gen.conn.Write(p.req); err != nil {
		p.gen.kill(err) // the reader fails what is pending, this one included
	}
}

// close waits for the answers of the publishes sent on the current
// connection (or their failure, once it is dead) and closes it; the next
// send dials again.
func (p *pipeline) close() {
	if p.gen == nil {
		return
	}
	close(p.gen.pending)
	p.gen.wg.Wait()
	_ = p.gen.conn.Close()
	p.gen = nil
}

func (p *pipeline) dial(ctx context.Context) (*pipeGen, error) {
	d := net.Dialer{Timeout: p.o.Timeout}
	var conn net.Conn
	var err error
	if p.tls {
		td := tls.Dialer{NetDialer: &d, Config: p.o.TLS}
		conn, err = td.DialContext(ctx, "tcp", p.host)
	} else {
		conn, err = d.DialContext(ctx, "tcp", p.host)
	}
	if err != nil {
		return nil, err
	}
	g := &pipeGen{conn: conn, br: bufio.NewReaderSize(conn, 4096), pending: make(chan int, pipelineWindow)}
	g.wg.Add(1)
	go p.read(g)
	return g, nil
}

// kill marks g dead because of err (the first error counts) and closes its
// connection, which ends a read or write in progress.
func (g *pipeGen) kill(err error) {
	g.err.CompareAndSwap(nil, &err)
	_ = g.conn.Close()
}

// read reads the answers of g's requests in order until g.pending is
// closed; once g is dead, the requests still pending fail at once.
func (p *pipeline) read(g *pipeGen) {
	defer g.wg.Done()
	for k := range g.pending {
		if lost := g.err.Load(); lost != nil {
			p.done(k, fmt.Errorf("connection lost: %w", *lost))
			continue
		}
		_ = g.conn.SetReadDeadline(time.Now().Add(p.o.Timeout))
		err, fatal := readPublishAnswer(g.br)
		if fatal {
			cause := err
			if cause == nil { // answered with Connection: close
				cause = errAnswerClosed
			}
			g.kill(cause)
		}
		p.done(k, err)
	}
}

// errAnswerClosed is why the publishes sent after an answer with
// Connection: close fail: the server reads no more requests.
var errAnswerClosed = errors.New("the server closed the connection after an answer")

// readPublishAnswer reads one HTTP response to a publish request. fatal
// means the connection cannot carry more answers.
func readPublishAnswer(br *bufio.Reader) (err error, fatal bool) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err, true
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return err, true
	}
	return publishResult(resp.StatusCode, b), resp.Close
}

// appendRequest appends the HTTP/1.1 request publishing body to dst.
func (p *pipeline) appendRequest(dst, body []byte) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, p.uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, p.host...)
	dst = append(dst, "\r\nContent-Type: application/json\r\n"...)
	if p.o.APIKey != "" {
		dst = append(dst, "X-API-Key: "...)
		dst = append(dst, p.o.APIKey...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}
