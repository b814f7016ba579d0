package websocket

import (
	"bytes"
	"net/http"
	"net/url"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// parseHead parses head, the start of a connection holding a whole request
// head, into the request http.ReadRequest would return, for the requests
// WebSocket clients send: a GET of an origin-form URI over HTTP/1.1, one
// Host, header fields of printable ASCII, no body, no Connection: close.
// Anything else gives ok false, and the caller parses the connection with
// http.ReadRequest, which accepts or refuses it as before. n is the length
// of the head, its empty line included.
//
// The head is copied once, its header keys are canonicalised in the copy,
// and every string of the request is a part of that copy: 8 allocations
// for a Chromium upgrade request, where http.ReadRequest makes 28
// (BenchmarkParseHead).
func parseHead(head []byte) (req *http.Request, n int, ok bool) {
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0, false
	}
	// buf holds the request line and the header lines, each ending with
	// CRLF. It is not modified once s refers to it.
	buf := bytes.Clone(head[:end+2])
	line, _, _ := bytes.Cut(buf, []byte("\r\n"))
	uriEnd, ok := requestLine(line)
	if !ok {
		return nil, 0, false
	}
	// Check every field and canonicalise its key in place first, so that
	// the strings taken next see the final bytes; note where each is.
	var spans [maxFastFields]fieldSpan
	lines := 0
	for off := len(line) + 2; off < len(buf); lines++ {
		if lines == len(spans) {
			return nil, 0, false
		}
		eol := off + bytes.Index(buf[off:], []byte("\r\n"))
		colon, ok := canonicalField(buf[off:eol])
		if !ok {
			return nil, 0, false
		}
		spans[lines] = fieldSpan{off, off + colon, eol}
		off = eol + 2
	}
	s := unsafe.String(unsafe.SliceData(buf), len(buf))
	rawURI := s[len("GET "):uriEnd]
	u, err := url.ParseRequestURI(rawURI)
	if err != nil {
		return nil, 0, false
	}
	h := make(http.Header, lines)
	values := make([]string, lines)
	for k, f := range spans[:lines] {
		key, value := s[f.start:f.colon], trimOWS(s[f.colon+1:f.end])
		if vs, dup := h[key]; dup {
			h[key] = append(vs, value)
			continue
		}
		values[k] = value
		h[key] = values[k : k+1 : k+1]
	}
	hosts := h["Host"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
		return nil, 0, false
	}
	for _, k := range [...]string{"Content-Length", "Transfer-Encoding", "Trailer"} {
		if _, has := h[k]; has { // a body
			return nil, 0, false
		}
	}
	if headerHasToken(h, "Connection", "close") { // ReadRequest's Close rule
		return nil, 0, false
	}
	delete(h, "Host")
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" { // as ReadRequest
		if _, has := h["Cache-Control"]; !has {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	req = &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       hosts[0],
		RequestURI: rawURI,
	}
	return req, end + 4, true
}

// maxFastFields is the most header fields parseHead takes; a request with
// more goes to http.ReadRequest.
const maxFastFields = 64

// fieldSpan locates a header field "Key: value" in the head: its start,
// its colon and its end (before the CRLF).
type fieldSpan struct{ start, colon, end int }

// requestLine checks "GET <origin-form URI> HTTP/1.1" and returns the end
// of the URI in line.
func requestLine(line []byte) (uriEnd int, ok bool) {
	const method, proto = "GET /", " HTTP/1.1"
	if !bytes.HasPrefix(line, []byte(method)) || !bytes.HasSuffix(line, []byte(proto)) {
		return 0, false
	}
	uriEnd = len(line) - len(proto)
	if uriEnd < len(method) {
		return 0, false
	}
	for _, c := range line[len(method)-1 : uriEnd] {
		if c <= ' ' || c >= 0x7f {
			return 0, false
		}
	}
	return uriEnd, true
}

// canonicalField checks a header field "Key: value", whose key must be a
// non-empty token and whose value printable ASCII or tabs, canonicalises
// its key in place as textproto.CanonicalMIMEHeaderKey does, and returns
// the position of its colon.
func canonicalField(field []byte) (colon int, ok bool) {
	colon = bytes.IndexByte(field, ':')
	if colon <= 0 {
		return 0, false
	}
	upper := true
	for i, c := range field[:colon] {
		if !httpguts.IsTokenRune(rune(c)) {
			return 0, false
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			field[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			field[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	for _, c := range field[colon+1:] {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return 0, false
		}
	}
	return colon, true
}

// trimOWS trims the optional white space around a header value.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
