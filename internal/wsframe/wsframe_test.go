package wsframe_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/heraldrt/herald/internal/wsframe"
)

// TestAppendHeaderLayout checks each length form (7-bit, 16-bit, 64-bit),
// the mask bit and key, and the first byte as given.
func TestAppendHeaderLayout(t *testing.T) {
	key := [4]byte{9, 8, 7, 6}
	for _, tc := range []struct {
		n    int
		want []byte // without the first byte
	}{
		{0, []byte{0}},
		{125, []byte{125}},
		{126, []byte{126, 0, 126}},
		{65535, []byte{126, 0xff, 0xff}},
		{65536, append([]byte{127}, binary.BigEndian.AppendUint64(nil, 65536)...)},
	} {
		b0 := byte(wsframe.Fin | wsframe.RSV1 | wsframe.OpText)
		if got := wsframe.AppendHeader(nil, b0, tc.n, nil); !bytes.Equal(got, append([]byte{b0}, tc.want...)) {
			t.Errorf("len %d unmasked: % x", tc.n, got)
		}
		masked := append([]byte{b0}, tc.want...)
		masked[1] |= 0x80
		masked = append(masked, key[:]...)
		if got := wsframe.AppendHeader(nil, b0, tc.n, &key); !bytes.Equal(got, masked) {
			t.Errorf("len %d masked: % x", tc.n, got)
		}
		if l := len(wsframe.AppendHeader(nil, b0, tc.n, &key)); l > wsframe.MaxHeaderLen {
			t.Errorf("len %d: header of %d bytes", tc.n, l)
		}
	}
}

// TestMaskMatchesBytewise checks the word-at-a-time masking against the
// byte-by-byte definition for every length up to 40 and every key offset,
// and that masking twice gives the input back.
func TestMaskMatchesBytewise(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := range 41 {
		for pos := range 4 {
			in := make([]byte, n)
			for i := range in {
				in[i] = byte(i*7 + 3)
			}
			got := bytes.Clone(in)
			end := wsframe.Mask(key, pos, got)
			for i := range in {
				if got[i] != in[i]^key[(pos+i)%4] {
					t.Fatalf("n %d pos %d: byte %d", n, pos, i)
				}
			}
			if end != (pos+n)%4 {
				t.Fatalf("n %d pos %d: end offset %d", n, pos, end)
			}
			wsframe.Mask(key, pos, got)
			if !bytes.Equal(got, in) {
				t.Fatalf("n %d pos %d: masking twice", n, pos)
			}
		}
	}
}

// TestLengthReadsAppendHeader: Length reads back every header AppendHeader
// writes (each length form, masked or not), and reports the size to wait
// for while the header is incomplete.
func TestLengthReadsAppendHeader(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
		for _, m := range []*[4]byte{nil, &mask} {
			h := wsframe.AppendHeader(nil, wsframe.Fin|wsframe.OpBinary, n, m)
			hdr, payload, ok := wsframe.Length(h)
			if !ok || hdr != len(h) || payload != uint64(n) {
				t.Fatalf("length %d, masked %v: Length = %d, %d, %v; want %d, %d, true", n, m != nil, hdr, payload, ok, len(h), n)
			}
			for k := range len(h) {
				wantHdr := len(h)
				if k < 2 {
					wantHdr = 0
				}
				if hdr, _, ok := wsframe.Length(h[:k]); ok || hdr != wantHdr {
					t.Fatalf("length %d, masked %v, %d of %d header bytes: Length = %d, %v; want %d, false", n, m != nil, k, len(h), hdr, ok, wantHdr)
				}
			}
		}
	}
}
