package origin_test

import (
	"net/http"
	"testing"

	"github.com/heraldrt/herald/internal/transport/origin"
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		origin   string
		want     bool
	}{
		{"no origin, no patterns", nil, "", true},
		{"origin, no patterns", nil, "https://example.com", false},
		{"null origin, no patterns", nil, "null", false},
		{"star allows all", []string{"*"}, "https://evil.test", true},
		{"exact", []string{"https://example.com"}, "https://example.com", true},
		{"exact other port", []string{"https://example.com"}, "https://example.com:8443", false},
		{"case-insensitive origin", []string{"https://example.com"}, "HTTPS://Example.COM", true},
		{"case-insensitive pattern", []string{"https://EXAMPLE.com"}, "https://example.com", true},
		{"subdomain wildcard", []string{"https://*.example.com"}, "https://a.b.example.com", true},
		{"subdomain wildcard apex", []string{"https://*.example.com"}, "https://example.com", false},
		{"subdomain wildcard suffix trick", []string{"https://*.example.com"}, "https://example.com.evil.test", false},
		{"scheme wildcard", []string{"*://example.com"}, "http://example.com", true},
		{"port wildcard", []string{"http://localhost:*"}, "http://localhost:3000", true},
		{"alternatives", []string{"https://{a,b}.example.com"}, "https://b.example.com", true},
		{"second pattern", []string{"https://a.test", "https://b.test"}, "https://b.test", true},
		{"no match", []string{"https://a.test"}, "https://c.test", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := origin.NewChecker(tt.patterns)
			if err != nil {
				t.Fatalf("NewChecker: %v", err)
			}
			if got := c.Allowed(tt.origin); got != tt.want {
				t.Errorf("Allowed(%q) with %q = %v, want %v", tt.origin, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestInvalidPatternFailsClosed(t *testing.T) {
	c, err := origin.NewChecker([]string{"https://[a", "https://ok.test"})
	if err == nil {
		t.Fatal("NewChecker: want error for invalid pattern")
	}
	if !c.Allowed("https://ok.test") {
		t.Error("valid pattern not applied")
	}
	if c.Allowed("https://[a") {
		t.Error("invalid pattern matched")
	}
}

func TestZeroAndNilChecker(t *testing.T) {
	var zero origin.Checker
	if zero.Allowed("https://a.test") || !zero.Allowed("") {
		t.Error("zero Checker must reject origins and accept no origin")
	}
	var nilChecker *origin.Checker
	if nilChecker.Allowed("https://a.test") || !nilChecker.Allowed("") || nilChecker.AllowsAll() {
		t.Error("nil Checker must reject origins and accept no origin")
	}
}

func TestCheckRequest(t *testing.T) {
	c, _ := origin.NewChecker([]string{"https://a.test"})
	r, _ := http.NewRequest(http.MethodGet, "http://server/", nil)
	if !c.Check(r) {
		t.Error("request without Origin rejected")
	}
	r.Header.Add("Origin", "https://a.test")
	if !c.Check(r) {
		t.Error("allowed Origin rejected")
	}
	r.Header.Add("Origin", "https://b.test")
	if c.Check(r) {
		t.Error("request with a disallowed second Origin accepted")
	}
}
