package httplane

import (
	"strings"
	"testing"
)

const benchRequest = "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: Go-http-client/1.1\r\n" +
	"Content-Length: 43\r\nContent-Type: application/json\r\nX-Api-Key: bench-key\r\nAccept-Encoding: gzip\r\n\r\n" +
	`{"channel":"bench-7","data":{"seq":123456}}`

func TestParse(t *testing.T) {
	var r Request
	n, st := parse([]byte(benchRequest+"next"), "/api", 16<<10, &r)
	if st != parsed || n != len(benchRequest) {
		t.Fatalf("parse: %d %v", n, st)
	}
	if r.Method != "POST" || r.Path != "/api/publish" || string(r.Body) != `{"channel":"bench-7","data":{"seq":123456}}` {
		t.Fatalf("%+v", r)
	}
	if r.Header("x-api-key") != "bench-key" || r.Header("CONTENT-TYPE") != "application/json" || r.Header("Missing") != "" {
		t.Fatal("header lookup")
	}
	for i := range len(benchRequest) {
		if _, st := parse([]byte(benchRequest[:i]), "/api", 16<<10, &r); st != incomplete {
			t.Fatalf("prefix of %d bytes: %v, want incomplete", i, st)
		}
	}
	q := Request{query: []byte("a=1&api_key=k%20x&b")}
	if q.Query("api_key") != "k%20x" || q.Query("b") != "" || q.Query("c") != "" {
		t.Fatal("query lookup")
	}
}

// FuzzParse: no input makes parse panic, use more bytes than it has, or
// accept a request that is not under the prefix.
func FuzzParse(f *testing.F) {
	f.Add(benchRequest)
	f.Add("POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	f.Add("GET /api/x?api_key=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	f.Add("POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		var r Request
		n, st := parse([]byte(in), "/api", 1024, &r)
		if st != parsed {
			return
		}
		if n > len(in) || n > 1024 || !strings.HasPrefix(r.Path, "/api") {
			t.Fatalf("parsed %d of %d bytes, path %q", n, len(in), r.Path)
		}
		_ = r.Header("Host")
		_ = r.Query("api_key")
	})
}

func BenchmarkParse(b *testing.B) {
	in := []byte(benchRequest)
	var r Request
	resp := Response{Status: 200, ContentType: "application/json", Body: []byte(`{"result":{}}`)}
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, st := parse(in, "/api", 16<<10, &r); st != parsed {
			b.Fatal(st)
		}
		_ = r.Header("X-API-Key")
		out = appendResponse(out[:0], &resp, false)
	}
}
