package websocket

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/wsframe"
)

// fuzzSession counts messages and records the largest.
type fuzzSession struct {
	n, max int
}

func (s *fuzzSession) HandleFrame(frame []byte) bool {
	s.n++
	s.max = max(s.max, len(frame))
	return true
}

func (s *fuzzSession) Close(protocol.Disconnect) {}

// maskedFrame builds a masked client frame; rsv is OR-ed into the first
// byte.
func maskedFrame(fin bool, rsv, opcode byte, payload []byte) []byte {
	b0 := opcode | rsv
	if fin {
		b0 |= wsframe.Fin
	}
	key := [4]byte{1, 2, 3, 4}
	f := wsframe.AppendHeader(nil, b0, len(payload), &key)
	start := len(f)
	f = append(f, payload...)
	wsframe.Mask(key, 0, f[start:])
	return f
}

// FuzzReadFrames feeds arbitrary client bytes, split in two reads, to the
// reader of a connection with and without permessage-deflate: it must
// never panic, never hand the session a message over the limits, and never
// block (control frames are answered on a connection whose peer drains).
func FuzzReadFrames(f *testing.F) {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, 1)
	_, _ = fw.Write(bytes.Repeat([]byte("hello "), 50))
	_ = fw.Flush()
	deflated := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	seeds := [][]byte{
		maskedFrame(true, 0, opText, []byte(`{"id":1}`)),
		maskedFrame(true, rsv1, opText, deflated),
		append(maskedFrame(false, rsv1, opBinary, deflated[:5]), maskedFrame(true, 0, opContinuation, deflated[5:])...),
		append(maskedFrame(false, 0, opText, []byte("a")), maskedFrame(true, 0, opPing, []byte("p"))...),
		maskedFrame(true, rsv1, opText, []byte{0xff, 0xfe, 0xfd}),
		maskedFrame(true, rsv1, opPing, nil),
		maskedFrame(true, 0, opClose, []byte{0x03, 0xe8}),
		maskedFrame(true, 0, opText, bytes.Repeat([]byte("x"), 2000)),
		{0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
	}
	for i, s := range seeds {
		f.Add(s, i%2 == 0, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, compress bool, cut uint16) {
		const limit, inflated = 1024, 4096
		h := NewHandler(nil, Config{Compression: true, MessageSizeLimit: limit, DecompressedMessageSizeLimit: inflated,
			CloseTimeout: time.Millisecond, WriteTimeout: time.Second}, nil)
		server, client := net.Pipe()
		defer client.Close()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		c := newConn(h, server, protocol.TypeJSON)
		if compress {
			c.compressed = true
		}
		s := &fuzzSession{}
		c.sess, c.deliver = s, true
		k := min(int(cut), len(data))
		for _, chunk := range [][]byte{data[:k], data[k:]} {
			if len(chunk) == 0 || c.done.Load() {
				continue
			}
			chunk = bytes.Clone(chunk)
			if bp := c.pending; bp != nil {
				c.pending = nil
				*bp = append(*bp, chunk...)
				c.process(*bp, bp)
				if c.pending != bp {
					putBuf(bp)
				}
				continue
			}
			c.process(chunk, nil)
		}
		if want := map[bool]int{false: limit, true: inflated}[compress]; s.max > want {
			t.Fatalf("session got a %d-byte message (limit %d)", s.max, want)
		}
		c.shutdown()
		c.releaseReadState()
	})
}
