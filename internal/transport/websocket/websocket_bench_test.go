package websocket_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// benchmarkWriteMany measures WriteMany of 16 messages per frame to a real
// loopback client that discards what it reads (with compression, after
// decompressing it).
func benchmarkWriteMany(b *testing.B, subprotocol string, msgs [][]byte, compress bool) {
	ts := newTestServer(b, ws.Config{Compression: compress}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	d := websocket.Dialer{EnableCompression: compress, HandshakeTimeout: waitTimeout}
	var protos []string
	if subprotocol != "" {
		protos = []string{subprotocol}
	}
	d.Subprotocols = protos
	c, resp, err := d.Dial(ts.wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	_ = c.SetReadDeadline(time.Time{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	}()
	s := ts.session(b)
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.t.WriteMany(msgs...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = c.Close()
	<-readerDone
}

// pushMessages returns 16 copies of a typical publication push.
func pushMessages() [][]byte {
	msg := []byte(`{"push":{"channel":"news","pub":{"data":{"text":"hello, world","n":12345},"offset":42}}}`)
	msgs := make([][]byte, 16)
	for i := range msgs {
		msgs[i] = bytes.Clone(msg)
	}
	return msgs
}

// BenchmarkWriteManyJSON writes 16 JSON messages per text frame.
func BenchmarkWriteManyJSON(b *testing.B) { benchmarkWriteMany(b, "", pushMessages(), false) }

// BenchmarkWriteManyJSONDeflate is BenchmarkWriteManyJSON on a
// permessage-deflate connection (level 1): each frame compressed on its own.
func BenchmarkWriteManyJSONDeflate(b *testing.B) { benchmarkWriteMany(b, "", pushMessages(), true) }

// BenchmarkWriteManyProtobuf writes 16 varint-prefixed messages per binary frame.
func BenchmarkWriteManyProtobuf(b *testing.B) {
	benchmarkWriteMany(b, ws.SubprotocolProtobuf, pushMessages(), false)
}
