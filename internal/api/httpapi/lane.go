package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/heraldrt/herald/internal/api/httplane"
)

// ServeLane serves one request read by an httplane.Lane. It answers
// exactly as ServeHTTP and ServeFast do, status for status and byte for
// byte of the body.
func (h *Handler) ServeLane(r *httplane.Request, resp *httplane.Response) {
	m, legacy, status := h.check(r.Method, r.Path, func() string { return laneRequestKey(r) })
	if status == 0 {
		if h.maxBody > 0 && int64(len(r.Body)) > h.maxBody {
			status = http.StatusRequestEntityTooLarge
		} else {
			// The body is the lane's read buffer, and a publication keeps
			// its data: copy it.
			var out []byte
			status, out = h.answer(context.Background(), m, legacy, bytes.Clone(r.Body), r.Header)
			if out != nil {
				resp.Status, resp.ContentType, resp.Body = status, jsonContentType[0], out
				return
			}
		}
	}
	if status == http.StatusMethodNotAllowed {
		resp.Allow = http.MethodPost
	}
	// As http.Error writes it.
	resp.Status, resp.ContentType, resp.NoSniff = status, string(textContentTypeBytes), true
	resp.Body = []byte(http.StatusText(status) + "\n")
}

// laneRequestKey is requestKey for a lane request.
func laneRequestKey(r *httplane.Request) string {
	if got := r.HeaderBytes("X-API-Key"); len(got) > 0 {
		return string(got)
	}
	if got := authorizationKey(string(r.HeaderBytes("Authorization"))); got != "" {
		return got
	}
	return r.Query("api_key")
}
