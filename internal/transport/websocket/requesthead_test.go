package websocket

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// headSeeds are request heads as clients send them, and malformed or
// unusual ones that parseHead must leave to http.ReadRequest.
var headSeeds = []string{
	// centrifuge-js in Chromium
	"GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:8000\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US\r\nCookie: a=b; c=d\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: centrifuge-protobuf\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: x\r\n\r\n",
	// centrifuge-go (gorilla/websocket)
	"GET /connection/websocket?cf_protocol=protobuf HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n",
	// herald bench, with a first frame after the head
	"GET /connection/websocket HTTP/1.1\r\nhost: [::1]:8000\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nX-Dup: 1\r\nx-dup:  2 \t\r\n\r\n\x81\x80\x00\x00\x00\x00",
	"GET /connection/websocket HTTP/1.1\r\nHost: h\r\nEmpty:\r\nA-B_c.D~1: v\r\n\r\n",
	// left to ReadRequest
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nBad Key: x\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nX: a\nY: b\r\n\r\n",
	"GET /connection/websocket HTTP/1.0\r\nHost: a\r\n\r\n",
	"POST /connection/websocket HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a/connection/websocket HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET  HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n",
	"",
}

// TestParseHeadAgreesWithReadRequest: for every seed parseHead either
// declines or returns what http.ReadRequest returns.
func TestParseHeadAgreesWithReadRequest(t *testing.T) {
	accepted := 0
	for _, head := range headSeeds {
		if checkParseHead(t, []byte(head)) {
			accepted++
		}
	}
	if accepted != 6 {
		t.Fatalf("parseHead took %d of the 6 usual requests", accepted)
	}
}

// FuzzParseHead: parseHead never accepts what http.ReadRequest refuses and
// never parses differently.
func FuzzParseHead(f *testing.F) {
	for _, h := range headSeeds {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, head []byte) { checkParseHead(t, head) })
}

// checkParseHead compares parseHead with http.ReadRequest on head and
// reports whether parseHead took it.
func checkParseHead(t *testing.T, head []byte) bool {
	t.Helper()
	orig := bytes.Clone(head)
	got, n, ok := parseHead(head)
	if !bytes.Equal(head, orig) {
		t.Fatalf("parseHead modified its input %q", orig)
	}
	if !ok {
		return false
	}
	br := bufio.NewReader(bytes.NewReader(head))
	want, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("parseHead took %q, which ReadRequest refuses: %v", head, err)
	}
	if consumed := len(head) - br.Buffered(); n != consumed {
		t.Fatalf("%q: head length %d, ReadRequest read %d", head, n, consumed)
	}
	type fields struct {
		Method, Proto, Host, RequestURI string
		ProtoMajor, ProtoMinor          int
		URL                             string
		Header                          http.Header
		ContentLength                   int64
		Close                           bool
		TransferEncoding                []string
		Body                            bool
	}
	view := func(r *http.Request) fields {
		return fields{r.Method, r.Proto, r.Host, r.RequestURI, r.ProtoMajor, r.ProtoMinor, r.URL.String(),
			r.Header, r.ContentLength, r.Close, r.TransferEncoding, r.Body == http.NoBody}
	}
	if g, w := view(got), view(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nparseHead   %+v\nReadRequest %+v", head, g, w)
	}
	if !reflect.DeepEqual(got.URL, want.URL) {
		t.Fatalf("%q: URL %#v, ReadRequest %#v", head, got.URL, want.URL)
	}
	return true
}

// BenchmarkParseHead compares the upgrade request's parse with
// http.ReadRequest's.
func BenchmarkParseHead(b *testing.B) {
	head := []byte(headSeeds[0])
	b.Run("parseHead", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := parseHead(head); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("ReadRequest", func(b *testing.B) {
		b.ReportAllocs()
		r := bytes.NewReader(head)
		br := bufio.NewReaderSize(r, 512)
		for b.Loop() {
			r.Reset(head)
			br.Reset(r)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}
