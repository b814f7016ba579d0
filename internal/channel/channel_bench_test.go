package channel_test

import "testing"

func BenchmarkResolve(b *testing.B) {
	r := testRules(b)
	for _, bc := range []struct{ name, ch string }{
		{"namespace", "chat:room1"},
		{"private", "$chat:room1"},
		{"without_namespace", "news"},
		{"regex", "strict:abcdef"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Resolve(bc.ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUserAllowed(b *testing.B) {
	r := testRules(b)
	b.ReportAllocs()
	for b.Loop() {
		if !r.UserAllowed("dialog:#42,43,44", "44") {
			b.Fatal("not allowed")
		}
	}
}
