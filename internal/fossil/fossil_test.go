package fossil_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/heraldrt/herald/internal/fossil"
)

func TestDeltaRoundTrip(t *testing.T) {
	cases := [][2]string{
		{"", ""},
		{"", "hello"},
		{"hello", ""},
		{"hello", "hello"},
		{`{"price":100,"symbol":"ABC"}`, `{"price":101,"symbol":"ABC"}`},
		{"abcdef", "abcXYZdef"},
		{"aaaa", "aaaaaa"},
		{"aaaaaa", "aaaa"},
		{"café!", "cafè!"},
		{"日本", "日未"},
	}
	for _, c := range cases {
		d := fossil.Delta([]byte(c[0]), []byte(c[1]))
		got, err := fossil.Apply([]byte(c[0]), d)
		if !utf8.Valid(d) {
			t.Fatalf("%q→%q: delta %q is not valid UTF-8", c[0], c[1], d)
		}
		if err != nil || string(got) != c[1] {
			t.Fatalf("%q→%q: delta %q applied to %q, %v", c[0], c[1], d, got, err)
		}
	}
}

// TestDeltaKnownEncoding pins the wire format (a copy, an insert, a copy and
// the checksum) that the SDKs' decoders read.
func TestDeltaKnownEncoding(t *testing.T) {
	d := fossil.Delta([]byte("abcdef"), []byte("abcXYZdef"))
	if want := "9\n3@0,3:XYZ3@3,"; !bytes.HasPrefix(d, []byte(want)) || d[len(d)-1] != ';' {
		t.Fatalf("delta %q", d)
	}
}

func TestDeltaRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		src := make([]byte, r.IntN(300))
		for j := range src {
			src[j] = byte(r.IntN(4) + 'a')
		}
		dst := append([]byte(nil), src...)
		if len(dst) > 0 {
			for k := r.IntN(3); k >= 0; k-- {
				dst[r.IntN(len(dst))] = byte(r.IntN(256))
			}
		}
		dst = append(dst, make([]byte, r.IntN(5))...)
		got, err := fossil.Apply(src, fossil.Delta(src, dst))
		if err != nil || !bytes.Equal(got, dst) {
			t.Fatalf("round trip failed: %v", err)
		}
	}
}

func TestApplyRejectsGarbage(t *testing.T) {
	for _, d := range []string{"", "x", "5\n", "5\n2@9,", "3\n3:abc0;", "3\n9:ab", "2\n1@0,1@0,1@0,0;"} {
		if _, err := fossil.Apply([]byte("source"), []byte(d)); err == nil {
			t.Fatalf("accepted %q", d)
		}
	}
}

func FuzzApply(f *testing.F) {
	f.Add([]byte("abcdef"), []byte("9\n3@0,3:XYZ3@3,2cIIqN;"))
	f.Fuzz(func(t *testing.T, src, delta []byte) {
		_, _ = fossil.Apply(src, delta)
	})
}

func BenchmarkDelta1KiB(b *testing.B) {
	src := bytes.Repeat([]byte(`{"k":"v"},`), 100)
	dst := append([]byte(nil), src...)
	dst[500] = 'X'
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		fossil.Delta(src, dst)
	}
}
