package httpapi

import "github.com/heraldrt/herald/internal/api/httplane"

// ServeLane serves one request read by an httplane.Lane. It answers
// exactly as ServeHTTP and ServeFast do (serveRead).
func (h *Handler) ServeLane(r *httplane.Request, resp *httplane.Response) {
	rep := h.serveRead(r.Method, r.Path, func() string { return presentedKey(r.Header, r.Query) }, r.Body, r.Header)
	resp.Status, resp.Body = rep.status, rep.body
	if rep.json {
		resp.ContentType = jsonType
		return
	}
	resp.Allow, resp.ContentType, resp.NoSniff = rep.allow, textType, true
}
