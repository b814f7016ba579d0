package fossil_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
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

// TestDeltaKnownEncoding pins the wire format (copies, an insert and the
// checksum) that the SDKs' decoders read.
func TestDeltaKnownEncoding(t *testing.T) {
	src := []byte("0123456789abcdef0123456789ABCDEF")
	dst := []byte("0123456789abcdef!0123456789ABCDEF")
	d := fossil.Delta(src, dst)
	if want := "X\nG@0,1:!G@G,"; !bytes.HasPrefix(d, []byte(want)) || d[len(d)-1] != ';' {
		t.Fatalf("delta %q", d)
	}
	if d := fossil.Delta([]byte("abc"), []byte("abd")); !bytes.HasPrefix(d, []byte("3\n3:abd")) {
		t.Fatalf("small delta %q", d)
	}
}

// TestDeltaTwoDistantChanges: changes far apart in a large document still
// give a small delta (copies between them).
func TestDeltaTwoDistantChanges(t *testing.T) {
	doc := []byte(`{"a":1,"text":"` + strings.Repeat("lorem ipsum dolor sit amet ", 400) + `","z":1}`)
	next := bytes.Replace(bytes.Replace(doc, []byte(`"a":1`), []byte(`"a":2`), 1), []byte(`"z":1`), []byte(`"z":2`), 1)
	d := fossil.Delta(doc, next)
	if len(d) > 100 {
		t.Fatalf("delta of %d bytes for two one-byte changes in %d bytes", len(d), len(doc))
	}
	got, err := fossil.Apply(doc, d)
	if err != nil || !bytes.Equal(got, next) {
		t.Fatal("round trip failed")
	}
}

func TestDeltaRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		src := make([]byte, r.IntN(600))
		for j := range src {
			src[j] = byte(r.IntN(4) + 'a')
			if r.IntN(10) == 0 {
				src[j] = byte(r.IntN(256))
			}
		}
		dst := append([]byte(nil), src...)
		if len(dst) > 0 {
			for k := r.IntN(3); k >= 0; k-- {
				dst[r.IntN(len(dst))] = byte(r.IntN(256))
			}
		}
		dst = append(dst, make([]byte, r.IntN(5))...)
		if r.IntN(2) == 0 && len(dst) > 40 { // move a chunk
			k := r.IntN(len(dst) - 20)
			dst = append(append(append([]byte(nil), dst[k:k+20]...), dst[:k]...), dst[k+20:]...)
		}
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

// TestDeltaUTF8 checks that deltas of valid UTF-8 documents are valid UTF-8
// (inserted runs never split a character).
func TestDeltaUTF8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("aé日本語€😀 ,:\"{}")
	gen := func(n int) []byte {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return []byte(b.String())
	}
	for i := 0; i < 2000; i++ {
		src := gen(r.IntN(200))
		dst := []rune(string(src))
		for k := r.IntN(4); k >= 0 && len(dst) > 0; k-- {
			dst[r.IntN(len(dst))] = alphabet[r.IntN(len(alphabet))]
		}
		target := []byte(string(dst) + string(gen(r.IntN(10))))
		d := fossil.Delta(src, target)
		if !utf8.Valid(d) {
			t.Fatalf("delta %q of valid UTF-8 is not valid UTF-8", d)
		}
		if got, err := fossil.Apply(src, d); err != nil || !bytes.Equal(got, target) {
			t.Fatalf("round trip: %v", err)
		}
	}
}
