// Package cors is the browser-facing middleware shared by Herald's HTTP
// connection endpoints (HTTP-streaming, SSE, /emulation, uni_sse,
// uni_http_stream; COMPAT.md §3): it checks the Origin header against
// client.allowed_origins, answers CORS preflight requests and restricts the
// HTTP methods an endpoint accepts.
//
// A request carrying an allowed Origin gets Access-Control-Allow-Origin set
// to that origin, Access-Control-Allow-Credentials: true (so cookies reach
// the connect path) and Access-Control-Allow-Headers echoing
// Access-Control-Request-Headers. A request whose Origin is not allowed is
// rejected with 403 before the endpoint runs. A Handler is immutable and safe
// for concurrent use.
package cors

import (
	"net/http"
	"slices"
	"strings"

	"github.com/heraldrt/herald/internal/transport/origin"
)

// PreflightMaxAge is the Access-Control-Max-Age, in seconds, of preflight
// responses.
const PreflightMaxAge = "300"

// Handler wraps an endpoint with the origin check, CORS headers and method
// filter.
type Handler struct {
	checker *origin.Checker
	methods []string
	allow   string // methods joined, plus OPTIONS
	next    http.Handler
}

// New returns a Handler serving next for the given methods (e.g. "POST"). An
// OPTIONS request is answered with 204 and the preflight headers; any other
// method not in methods gets 405. A nil checker rejects every request that
// carries an Origin header.
func New(checker *origin.Checker, methods []string, next http.Handler) *Handler {
	allow := append(slices.Clone(methods), http.MethodOptions)
	return &Handler{checker: checker, methods: methods, allow: strings.Join(allow, ", "), next: next}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.checker.Check(r) {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	hdr := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		hdr.Set("Access-Control-Allow-Origin", o)
		hdr.Set("Access-Control-Allow-Credentials", "true")
		hdr.Add("Vary", "Origin")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			hdr.Set("Access-Control-Allow-Headers", rh)
		}
	}
	if r.Method == http.MethodOptions {
		hdr.Set("Access-Control-Allow-Methods", h.allow)
		hdr.Set("Access-Control-Max-Age", PreflightMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !slices.Contains(h.methods, r.Method) {
		hdr.Set("Allow", h.allow)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h.next.ServeHTTP(w, r)
}
