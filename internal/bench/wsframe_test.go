package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/wsframe"
)

// serverFrame encodes one unmasked server frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	if fin {
		op |= wsframe.Fin
	}
	return append(wsframe.AppendHeader(nil, op, len(payload), nil), payload...)
}

// recordSink records what the parser hands over.
type recordSink struct {
	msgs     []string
	controls []string
}

func (s *recordSink) message(p []byte) error {
	s.msgs = append(s.msgs, string(p))
	return nil
}

func (s *recordSink) control(op byte, p []byte) error {
	if op == wsframe.OpClose {
		return closePayload(p)
	}
	s.controls = append(s.controls, string([]byte{'0' + op})+":"+string(p))
	return nil
}

// TestFrameReaderAnySplit feeds a stream of frames (small, 16-bit and 64-bit
// lengths, a fragmented message with a ping between its fragments) in every
// two-piece split and checks that the same messages come out.
func TestFrameReaderAnySplit(t *testing.T) {
	big := strings.Repeat("b", 300)
	huge := strings.Repeat("h", 70000)
	var stream []byte
	stream = append(stream, serverFrame(true, wsframe.OpText, []byte("one"))...)
	stream = append(stream, serverFrame(true, wsframe.OpBinary, []byte(big))...)
	stream = append(stream, serverFrame(false, wsframe.OpText, []byte("fr"))...)
	stream = append(stream, serverFrame(true, wsframe.OpPing, []byte("p"))...)
	stream = append(stream, serverFrame(false, wsframe.OpContinuation, []byte("ag"))...)
	stream = append(stream, serverFrame(true, wsframe.OpContinuation, []byte("ment"))...)
	stream = append(stream, serverFrame(true, wsframe.OpText, []byte(huge))...)
	stream = append(stream, serverFrame(true, wsframe.OpText, nil)...)
	want := []string{"one", big, "fragment", huge, ""}
	for cut := 0; cut <= len(stream); cut += 1 + cut/50 {
		var r frameReader
		s := &recordSink{}
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			for len(part) > 0 {
				sp := r.space()
				n := copy(sp, part)
				r.in = r.in[:len(r.in)+n]
				part = part[n:]
				if err := r.parse(s); err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
			}
		}
		if len(s.msgs) != len(want) {
			t.Fatalf("cut %d: %d messages, want %d", cut, len(s.msgs), len(want))
		}
		for i := range want {
			if s.msgs[i] != want[i] {
				t.Fatalf("cut %d: message %d is %.20q..., want %.20q...", cut, i, s.msgs[i], want[i])
			}
		}
		if len(s.controls) != 1 || s.controls[0] != "9:p" {
			t.Fatalf("cut %d: controls %q", cut, s.controls)
		}
		if len(r.in) != 0 {
			t.Fatalf("cut %d: %d bytes left", cut, len(r.in))
		}
	}
}

// TestFrameReaderRejects checks that each protocol violation is an error,
// not a panic or a silent skip, and that a close frame ends with its code.
func TestFrameReaderRejects(t *testing.T) {
	masked := serverFrame(true, wsframe.OpText, []byte("x"))
	masked[1] |= 0x80
	rsv := serverFrame(true, wsframe.OpText, []byte("x"))
	rsv[0] |= 0x40
	tooBig := []byte{0x81, 127}
	tooBig = binary.BigEndian.AppendUint64(tooBig, maxMessageSize+1)
	for name, b := range map[string][]byte{
		"masked":                masked,
		"reserved bits":         rsv,
		"fragmented ping":       serverFrame(false, wsframe.OpPing, nil),
		"long ping":             serverFrame(true, wsframe.OpPing, bytes.Repeat([]byte("p"), 126)),
		"lone continuation":     serverFrame(true, wsframe.OpContinuation, []byte("x")),
		"message in fragmented": append(serverFrame(false, wsframe.OpText, []byte("a")), serverFrame(true, wsframe.OpText, []byte("b"))...),
		"unknown opcode":        serverFrame(true, 0x3, nil),
		"length over the limit": tooBig,
	} {
		r := frameReader{in: append([]byte(nil), b...)}
		err := r.parse(&recordSink{})
		if !errors.Is(err, errProtocol) {
			t.Errorf("%s: got %v, want a protocol error", name, err)
		}
	}
	r := frameReader{in: serverFrame(true, wsframe.OpClose, append([]byte{0x0B, 0xB9}, "shutdown"...))}
	var ce *closeError
	if err := r.parse(&recordSink{}); !errors.As(err, &ce) || ce.code != 3001 || ce.reason != "shutdown" {
		t.Fatalf("close frame: got %v", err)
	}
}

// TestClientFrameMasked checks the client frame layout: FIN, mask bit,
// each length form, and a payload that unmasks to the original.
func TestClientFrameMasked(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'z'}, n)
		f := appendClientFrame(nil, wsframe.OpText, payload)
		if f[0] != 0x81 || f[1]&0x80 == 0 {
			t.Fatalf("len %d: header % x", n, f[:2])
		}
		hdr := 2
		switch f[1] & 0x7F {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		mask := f[hdr : hdr+4]
		body := f[hdr+4:]
		if len(body) != n {
			t.Fatalf("len %d: body %d bytes", n, len(body))
		}
		for i := range body {
			if body[i]^mask[i&3] != 'z' {
				t.Fatalf("len %d: byte %d does not unmask", n, i)
			}
		}
	}
}
