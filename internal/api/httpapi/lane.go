package httpapi

import (
	"net/http"

	"github.com/heraldrt/herald/internal/api/httplane"
)

// ServeLane serves one request read by an httplane.Lane. It answers
// exactly as ServeHTTP and ServeFast do (serveRead).
func (h *Handler) ServeLane(r *httplane.Request, resp *httplane.Response) {
	rep := h.serveRead(r.Method, r.Path, func() string { return presentedKey(r.Header, r.Query) }, r.Body, r.Header)
	resp.Status, resp.Body = rep.status, rep.body
	if rep.json {
		resp.ContentType = jsonType
		return
	}
	if rep.status == http.StatusMethodNotAllowed {
		resp.Allow = http.MethodPost
	}
	resp.ContentType, resp.NoSniff = textType, true
}
