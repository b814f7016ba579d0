package httplane

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Request is one request read by a Lane. Its fields and the slices its
// methods return point into the Lane's read buffer: they are valid only
// until the Handler returns.
type Request struct {
	// Method is the request method, as sent ("POST").
	Method string
	// Path is the path of the request target, without the query.
	Path string
	// Body is the request body (empty when the request has none).
	Body []byte

	query  []byte // after '?', without it
	header []byte // the header lines, each ending in CRLF
	close  bool   // the client sent "Connection: close"
}

// Header returns the value of the first header field named name (matched
// without regard to case), or "" when there is none.
func (r *Request) Header(name string) string {
	for rest := r.header; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 1 {
			return ""
		}
		line := rest[:i-1]
		rest = rest[i+1:]
		if len(line) > len(name) && line[len(name)] == ':' && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return string(bytes.Trim(line[len(name)+1:], " \t"))
		}
	}
	return ""
}

// Query returns the value of the first query parameter named name, or ""
// when there is none. Values with percent-encoding are returned as sent:
// only keys are used here, and a lane request with '%' in its target goes
// to the fallback server (see Lane).
func (r *Request) Query(name string) string {
	for rest := r.query; len(rest) > 0; {
		var pair []byte
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, rest = rest, nil
		}
		k, v, _ := bytes.Cut(pair, []byte{'='})
		if string(k) == name {
			return string(v)
		}
	}
	return ""
}

// Response is a Handler's answer. The Lane writes the status line, Date,
// Content-Type, Content-Length, the optional fields below and Body.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// ContentType is the Content-Type field's value.
	ContentType string
	// Allow, when not empty, is sent as the Allow field (with 405).
	Allow string
	// NoSniff sends "X-Content-Type-Options: nosniff" (with text errors,
	// as http.Error does).
	NoSniff bool
	// Body is the response body.
	Body []byte
}

// parseStatus is the outcome of parsing the start of a buffer.
type parseStatus int

const (
	parsed      parseStatus = iota // a whole request was read
	incomplete                     // more bytes are needed
	unsupported                    // leave the connection to the fallback server
)

// parse reads one request from b into r and returns the bytes it used.
// The lane serves plain requests only: HTTP/1.1, a target under prefix
// with no percent-encoding, dot segments or fragments, a body given by
// Content-Length (or none) that fits in maxRequest bytes with its head,
// no Transfer-Encoding or Expect, and "Connection" at most "close" or
// "keep-alive". Anything else, malformed requests included, is
// unsupported: the fallback server, which implements all of HTTP/1.1,
// answers it exactly as it answers any connection.
func parse(b []byte, prefix string, maxRequest int, r *Request) (int, parseStatus) {
	head := b[:min(len(b), maxRequest)]
	more := incomplete // when a line is cut short
	if len(b) >= maxRequest {
		more = unsupported // the head does not fit
	}
	line, pos, ok := nextLine(head, 0)
	if !ok {
		return 0, more
	}
	method, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(method) == 0 || !isToken(method) {
		return 0, unsupported
	}
	target, proto, ok := bytes.Cut(rest, []byte{' '})
	if !ok || string(proto) != "HTTP/1.1" || !plainTarget(target, prefix) {
		return 0, unsupported
	}
	path, query, _ := bytes.Cut(target, []byte{'?'})
	*r = Request{query: query}
	headerStart := pos
	length, host := -1, false
	for {
		if line, pos, ok = nextLine(head, pos); !ok {
			if pos < 0 {
				return 0, unsupported
			}
			return 0, more
		}
		if len(line) == 0 {
			break // the end of the head
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !isToken(name) {
			return 0, unsupported // also obsolete line folding (a leading space)
		}
		if !interesting[len(name)&31] {
			continue
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || length >= 0 || value[0] == '+' {
				return 0, unsupported
			}
			length = n
		case bytes.EqualFold(name, []byte("Host")):
			host = true
		case bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				r.close = true
			case !bytes.EqualFold(value, []byte("keep-alive")):
				return 0, unsupported
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Expect")):
			return 0, unsupported
		}
	}
	if !host {
		return 0, unsupported
	}
	r.header = b[headerStart : pos-2]
	length = max(length, 0) // no Content-Length and no Transfer-Encoding: no body
	size := pos + length
	if size > maxRequest {
		return 0, unsupported
	}
	if len(b) < size {
		return 0, incomplete
	}
	r.Method, r.Path, r.Body = string(method), string(path), b[pos:size]
	return size, parsed
}

// nextLine returns the line of b that starts at pos, without its CRLF,
// and the position after it. It reports false when b holds no LF after
// pos, with pos -1 when the line ends in a bare LF.
func nextLine(b []byte, pos int) ([]byte, int, bool) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return nil, pos, false
	}
	if i == 0 || b[pos+i-1] != '\r' {
		return nil, -1, false
	}
	return b[pos : pos+i-1], pos + i + 1, true
}

// interesting marks the lengths of the header names parse looks at.
var interesting = func() (t [32]bool) {
	for _, name := range []string{"Content-Length", "Host", "Connection", "Transfer-Encoding", "Expect"} {
		t[len(name)] = true
	}
	return t
}()

// plainTarget reports whether target is prefix, or a path below it, with
// an optional query, and nothing a server would rewrite before routing
// (percent-encoding, dot segments, empty segments, a fragment).
func plainTarget(target []byte, prefix string) bool {
	rest, ok := bytes.CutPrefix(target, []byte(prefix))
	if !ok || (len(rest) > 0 && rest[0] != '/' && rest[0] != '?') {
		return false
	}
	if bytes.ContainsAny(target, "%#\\") || bytes.Contains(target, []byte("//")) || bytes.Contains(target, []byte("/.")) {
		return false
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// tokenChars marks the bytes of RFC 9110 tokens.
var tokenChars = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// appendResponse appends resp as an HTTP/1.1 response; closing adds
// "Connection: close".
func appendResponse(dst []byte, resp *Response, closing bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(resp.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(resp.Status)...)
	dst = append(dst, "\r\nDate: "...)
	dst = append(dst, date()...)
	dst = append(dst, "\r\nContent-Type: "...)
	dst = append(dst, resp.ContentType...)
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(resp.Body)), 10)
	if resp.Allow != "" {
		dst = append(dst, "\r\nAllow: "...)
		dst = append(dst, resp.Allow...)
	}
	if resp.NoSniff {
		dst = append(dst, "\r\nX-Content-Type-Options: nosniff"...)
	}
	if closing {
		dst = append(dst, "\r\nConnection: close"...)
	}
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, resp.Body...)
}

// dateCache holds the Date field of the current second.
type dateCache struct {
	unix int64
	text string
}

var lastDate atomic.Pointer[dateCache]

// date returns the current time in the HTTP date format, formatted once
// per second.
func date() string {
	now := time.Now()
	if d := lastDate.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &dateCache{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}
