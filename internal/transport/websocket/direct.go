package websocket

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Limits of a request served by ServeConn, as net/http's defaults.
const (
	directHeaderTimeout = 10 * time.Second
	directMaxHeader     = 1 << 20
)

// ServeConn reads one HTTP/1.1 request from nc, a connection accepted
// without an HTTP server (see internal/connsplit), and serves it with h,
// which is expected to upgrade it: a Handler, possibly behind middleware
// that may refuse the request. This skips net/http's per-connection server
// state, whose buffers are never reused after a hijack (about 7 KiB of
// garbage per WebSocket connection). Requests h answers without hijacking
// get their response and the connection is closed; malformed requests get
// 400 (431 for headers over 1 MiB), as from net/http; a panic in h is
// logged and closes the connection, as in net/http.
func ServeConn(h http.Handler, nc net.Conn, logger *slog.Logger) {
	defer func() {
		if p := recover(); p != nil {
			logger.Error("websocket: panic serving a connection", "remote_addr", nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			_ = nc.Close()
		}
	}()
	// A small reader (the request is usually in the bytes the splitter
	// read first), pooled unless a handler keeps it after a hijack.
	rr := requestReaders.Get().(*requestReader)
	rr.lr = io.LimitedReader{R: nc, N: directMaxHeader}
	rr.br.Reset(&rr.lr)
	lr, br := &rr.lr, rr.br
	req, err := readRequest(nc, br)
	if err != nil {
		status := http.StatusBadRequest
		if lr.N <= 0 {
			status = http.StatusRequestHeaderFieldsTooLarge
		}
		writeStatus(nc, status)
		_ = nc.Close()
		rr.release()
		return
	}
	lr.N = 1<<63 - 1 // the rest is the WebSocket stream
	req.RemoteAddr = remoteAddrString(nc)
	w := &directWriter{nc: nc, br: br}
	h.ServeHTTP(w, req)
	if w.hijacked {
		if w.readerFree {
			rr.release()
		}
		return // the connection (and br, unless released) belong to the handler now
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.flush()
	_ = nc.Close()
	rr.release()
}

// requestReader reads the request of a ServeConn connection.
type requestReader struct {
	lr io.LimitedReader
	br *bufio.Reader // reads lr
}

var requestReaders = sync.Pool{New: func() any {
	r := new(requestReader)
	r.br = bufio.NewReaderSize(&r.lr, 512)
	return r
}}

// release returns r to the pool, holding no connection.
func (r *requestReader) release() {
	r.lr = io.LimitedReader{}
	r.br.Reset(&r.lr)
	requestReaders.Put(r)
}

// readRequest reads the request of nc through br. A request whose head
// the splitter has read in full (nc's Buffered bytes) is parsed from
// memory: by parseHead when it is a usual upgrade request, else by
// http.ReadRequest, with no deadline since no read can block.
func readRequest(nc net.Conn, br *bufio.Reader) (*http.Request, error) {
	var head []byte
	if b, ok := nc.(interface{ Buffered() []byte }); ok {
		head = b.Buffered()
	}
	if req, n, ok := parseHead(head); ok {
		if _, err := br.Discard(n); err != nil { // cannot fail: the bytes are read
			return nil, err
		}
		return req, nil
	}
	timed := !bytes.Contains(head, []byte("\r\n\r\n"))
	if timed {
		_ = nc.SetReadDeadline(time.Now().Add(directHeaderTimeout))
	}
	req, err := http.ReadRequest(br)
	if timed {
		_ = nc.SetReadDeadline(time.Time{})
	}
	return req, err
}

// remoteAddrString returns nc.RemoteAddr().String(), formatted without the
// net.Addr when nc can (internal/connsplit and internal/rawtcp Conns).
func remoteAddrString(nc net.Conn) string {
	if s, ok := nc.(interface{ RemoteAddrString() string }); ok {
		return s.RemoteAddrString()
	}
	return nc.RemoteAddr().String()
}

// writeStatus writes a bare error response, as net/http answers requests it
// cannot parse.
func writeStatus(nc net.Conn, status int) {
	text := http.StatusText(status)
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(nc, "HTTP/1.1 "+strconv.Itoa(status)+" "+text+
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+strconv.Itoa(status)+" "+text)
}

// directWriter is the http.ResponseWriter of ServeConn: a response buffered
// until the handler returns (a refused upgrade is a short error), or a
// hijack handing over the connection.
type directWriter struct {
	nc          net.Conn
	br          *bufio.Reader
	header      http.Header
	status      int
	body        []byte
	wroteHeader bool
	hijacked    bool
	readerFree  bool // hijacked without br: ServeConn may reuse it
}

// Header returns the response's header, made on first use (an upgrade
// writes none).
func (w *directWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *directWriter) WriteHeader(status int) {
	if w.wroteHeader || w.hijacked {
		return
	}
	w.wroteHeader = true
	w.status = status
}

func (w *directWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Hijack hands over the connection with the reader holding any bytes the
// client sent after the request, and a writer straight to the connection.
func (w *directWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	return w.nc, bufio.NewReadWriter(w.br, bufio.NewWriterSize(w.nc, 64)), nil
}

// hijackBuffered hands over the connection with a copy of the bytes the
// client sent after the request (nil if none), leaving the reader to
// ServeConn (which reuses it).
func (w *directWriter) hijackBuffered() (net.Conn, []byte, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked, w.readerFree = true, true
	return w.nc, buffered(w.br), nil
}

// buffered returns a copy of the bytes br holds, or nil.
func buffered(br *bufio.Reader) []byte {
	n := br.Buffered()
	if n == 0 {
		return nil
	}
	b, _ := br.Peek(n)
	return bytes.Clone(b)
}

// flush writes the buffered response, with Connection: close.
func (w *directWriter) flush() error {
	buf := make([]byte, 0, 256+len(w.body))
	buf = append(buf, "HTTP/1.1 "...)
	buf = strconv.AppendInt(buf, int64(w.status), 10)
	buf = append(buf, ' ')
	buf = append(buf, http.StatusText(w.status)...)
	buf = append(buf, "\r\n"...)
	hdr := w.Header()
	hdr.Del("Connection")
	hdr.Set("Content-Length", strconv.Itoa(len(w.body)))
	for k, vs := range hdr {
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, ": "...)
			buf = append(buf, v...)
			buf = append(buf, "\r\n"...)
		}
	}
	buf = append(buf, "Connection: close\r\n\r\n"...)
	buf = append(buf, w.body...)
	_ = w.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := w.nc.Write(buf)
	return err
}
