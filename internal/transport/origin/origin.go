// Package origin checks the Origin header of browser requests against the
// configured client.allowed_origins glob patterns (COMPAT.md §3.1, §14).
//
// Semantics:
//   - A request without an Origin header always passes (it does not come from
//     a browser page, so there is no cross-site risk to guard against).
//   - With no patterns, every request carrying an Origin header is rejected.
//   - Patterns are glob patterns (github.com/gobwas/glob syntax without
//     separators: `*` matches any run of characters, including dots, `?` one
//     character, `[abc]` and `{a,b}` alternatives), matched against the
//     lowercased Origin value. The pattern "*" allows every origin.
//
// A Checker is immutable after construction and safe for concurrent use.
package origin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gobwas/glob"
)

// Checker matches request origins against a set of glob patterns.
// The zero value rejects every request that carries an Origin header.
type Checker struct {
	patterns []*glob.Pattern
	allowAll bool
}

// NewChecker compiles patterns (case-insensitively) into a Checker. It returns
// an error naming every pattern that is not a valid glob; the returned
// Checker is still usable and matches with the valid patterns only, so a
// caller that cannot fail fails closed for the broken ones.
func NewChecker(patterns []string) (*Checker, error) {
	c := &Checker{}
	var errs []error
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "*" {
			c.allowAll = true
			continue
		}
		g, err := glob.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowed origin %q: %w", p, err))
			continue
		}
		c.patterns = append(c.patterns, g)
	}
	return c, errors.Join(errs...)
}

// AllowsAll reports whether the patterns include "*", i.e. every origin is
// accepted. Callers typically log a warning about it at startup.
func (c *Checker) AllowsAll() bool { return c != nil && c.allowAll }

// Allowed reports whether the Origin header value origin is acceptable.
// An empty origin (no header) is always allowed.
func (c *Checker) Allowed(origin string) bool {
	if origin == "" {
		return true
	}
	if c == nil {
		return false
	}
	if c.allowAll {
		return true
	}
	origin = strings.ToLower(origin)
	for _, g := range c.patterns {
		if g.Match(origin) {
			return true
		}
	}
	return false
}

// Check reports whether r's Origin header is acceptable. A request carrying
// several Origin headers is rejected unless all of them are allowed.
func (c *Checker) Check(r *http.Request) bool {
	values := r.Header.Values("Origin")
	for _, v := range values {
		if !c.Allowed(v) {
			return false
		}
	}
	return true
}
