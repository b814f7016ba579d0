package httplane_test

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/api/httplane"
)

// BenchmarkRoundTrip: a keep-alive client sends a small API request and
// reads the answer, one at a time: the lane's cost of one request on the
// reactor (read, parse, a trivial handler, answer, write), the client's
// and both sides' loopback system calls included.
func BenchmarkRoundTrip(b *testing.B) {
	s := start(b, httplane.Config{
		Handler: func(_ *httplane.Request, resp *httplane.Response) {
			resp.Status, resp.ContentType, resp.Body = 200, "application/json", []byte(`{"result":{}}`)
		},
	})
	c, br := dial(b, s.addr)
	_ = c.SetDeadline(time.Time{})
	req := post("/api/publish", `{"channel":"bench","data":{"seq":1}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.WriteString(c, req); err != nil {
			b.Fatal(err)
		}
		if err := skipResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

// skipResponse reads one answer's head and body from br.
func skipResponse(br *bufio.Reader) error {
	length := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := strings.CutPrefix(string(line), "Content-Length: "); ok {
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return err
			}
		}
	}
	_, err := br.Discard(length)
	return err
}
