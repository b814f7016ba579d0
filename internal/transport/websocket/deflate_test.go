package websocket_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"

	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// deflateMessage compresses msg as a permessage-deflate sender does: a
// sync-flushed deflate stream without its trailing 00 00 ff ff.
func deflateMessage(t testing.TB, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflateMessage undoes deflateMessage.
func inflateMessage(t testing.TB, p []byte) string {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate server message: %v", err)
	}
	return string(out)
}

// withRSV1 sets the RSV1 bit of a frame built by clientFrame.
func withRSV1(f []byte) []byte {
	f[0] |= 0x40
	return f
}

// readServerFrameRSV reads one server frame and reports its RSV1 bit.
func readServerFrameRSV(t testing.TB, br *bufio.Reader) (compressed bool, opcode byte, payload []byte) {
	t.Helper()
	b0, err := br.Peek(1)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	compressed = b0[0]&0x40 != 0
	opcode, payload = readServerFrame(t, br)
	return compressed, opcode, payload
}

func TestCompressionNegotiation(t *testing.T) {
	const accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	on := newTestServer(t, ws.Config{Compression: true})
	off := newTestServer(t, ws.Config{})
	for _, tc := range []struct {
		ts    *testServer
		offer string
		want  string
	}{
		{on, "permessage-deflate", accepted},
		{on, "permessage-deflate; client_max_window_bits", accepted},                        // Chromium's offer
		{on, "permessage-deflate; server_max_window_bits=15", accepted},                     // our window
		{on, "permessage-deflate; server_max_window_bits=10", ""},                           // a smaller window than ours
		{on, "permessage-deflate; server_max_window_bits=10, permessage-deflate", accepted}, // the second offer
		{on, "x-webkit-deflate-frame", ""},
		{off, "permessage-deflate", ""},
	} {
		_, _, got := rawHandshake(t, tc.ts, "Sec-WebSocket-Extensions: "+tc.offer+"\r\n", nil)
		if got != tc.want {
			t.Errorf("offer %q: extensions %q, want %q", tc.offer, got, tc.want)
		}
		tc.ts.session(t)
	}
}

// TestCompressedFramesOnTheWire checks the frames themselves: a compressed
// client message (whole, and fragmented with RSV1 on its first frame only)
// reaches the session decompressed; echoes at or over CompressionMinSize
// come back compressed (RSV1) and decompress to the message, shorter ones
// come back plain.
func TestCompressedFramesOnTheWire(t *testing.T) {
	ts := newTestServer(t, ws.Config{Compression: true, CompressionMinSize: 64})
	c, br, ext := rawHandshake(t, ts, "Sec-WebSocket-Extensions: permessage-deflate\r\n", nil)
	if ext == "" {
		t.Fatal("compression not negotiated")
	}
	s := ts.session(t)

	long := []byte(strings.Repeat(`{"push":{"channel":"news","pub":{"data":{"n":1}}}}`, 4))
	if _, err := c.Write(withRSV1(clientFrame(true, 0x1, deflateMessage(t, long)))); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s.frames, "decompressed message"); !bytes.Equal(got, long) {
		t.Fatalf("session got %q", got)
	}
	compressed, op, p := readServerFrameRSV(t, br)
	if !compressed || op != 0x1 || inflateMessage(t, p) != string(long) {
		t.Fatalf("echo: compressed %v, opcode %d, %d bytes", compressed, op, len(p))
	}
	if len(p) >= len(long) {
		t.Errorf("echo not smaller: %d bytes for %d", len(p), len(long))
	}

	short := []byte(`{"id":1}`)
	if _, err := c.Write(withRSV1(clientFrame(true, 0x1, deflateMessage(t, short)))); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s.frames, "short message"); !bytes.Equal(got, short) {
		t.Fatalf("session got %q", got)
	}
	if compressed, _, p := readServerFrameRSV(t, br); compressed || !bytes.Equal(p, short) {
		t.Fatalf("short echo: compressed %v, %q", compressed, p)
	}

	z := deflateMessage(t, long)
	half := len(z) / 2
	frames := withRSV1(clientFrame(false, 0x1, z[:half]))
	frames = append(frames, clientFrame(true, 0x9, []byte("ping"))...)
	frames = append(frames, clientFrame(true, 0x0, z[half:])...)
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	if op, p := readServerFrame(t, br); op != 0xa || string(p) != "ping" {
		t.Fatalf("pong: opcode %d %q", op, p)
	}
	if got := recv(t, s.frames, "fragmented message"); !bytes.Equal(got, long) {
		t.Fatalf("session got %q", got)
	}
	if compressed, _, p := readServerFrameRSV(t, br); !compressed || inflateMessage(t, p) != string(long) {
		t.Fatal("fragmented echo not compressed")
	}
}

// TestCompressionProtocolErrors: RSV1 where RFC 7692 forbids it, and data
// that does not decompress, each close the connection with 1002 and tell
// the session.
func TestCompressionProtocolErrors(t *testing.T) {
	on := newTestServer(t, ws.Config{Compression: true})
	off := newTestServer(t, ws.Config{})
	offer := "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	for _, tc := range []struct {
		name   string
		ts     *testServer
		offer  string
		frames []byte
	}{
		{"RSV1 without negotiation", off, offer, withRSV1(clientFrame(true, 0x1, deflateMessage(t, []byte("x"))))},
		{"RSV1 on a ping", on, offer, withRSV1(clientFrame(true, 0x9, nil))},
		{"RSV1 on a continuation", on, offer, append(clientFrame(false, 0x1, []byte("a")), withRSV1(clientFrame(true, 0x0, []byte("b")))...)},
		{"RSV2", on, offer, func() []byte { f := clientFrame(true, 0x1, []byte("x")); f[0] |= 0x20; return f }()},
		{"not deflate data", on, offer, withRSV1(clientFrame(true, 0x1, []byte{0xff, 0xff, 0xff, 0xff, 0x00}))},
	} {
		c, br, _ := rawHandshake(t, tc.ts, tc.offer, nil)
		s := tc.ts.session(t)
		if _, err := c.Write(tc.frames); err != nil {
			t.Fatal(err)
		}
		op, p := readServerFrame(t, br)
		if op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16(p) != 1002 {
			t.Errorf("%s: opcode %d payload %q, want close 1002", tc.name, op, p)
		}
		recv(t, s.closes, tc.name+": Session.Close")
	}
}
