package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/valyala/fasthttp"
)

// MaxBodySize returns the largest request body the Handler accepts in
// bytes, or a negative value for no limit. A fasthttp server in front of
// ServeFast should use it as its MaxRequestBodySize, so that oversized
// bodies are refused (413) before they are read into memory.
func (h *Handler) MaxBodySize() int64 { return h.maxBody }

// reply is the answer to a request read whole (ServeFast, ServeLane): a
// JSON body, or the text of its status as http.Error writes it (with the
// Allow header's value for 405).
type reply struct {
	status int
	body   []byte
	json   bool
	allow  string
}

// Content types of replies.
const (
	jsonType = "application/json"
	textType = "text/plain; charset=utf-8"
)

// serveRead answers a request whose body was read whole, exactly as
// ServeHTTP does: the same checks, the same answer. key returns the key
// the request presents and header its header fields. body may be a
// buffer the caller reuses: a publication keeps its data, so the call
// works on a copy.
func (h *Handler) serveRead(method, path string, key func() string, body []byte, header func(string) string) reply {
	m, legacy, status := h.check(method, path, key)
	if status == 0 {
		if h.maxBody > 0 && int64(len(body)) > h.maxBody {
			status = http.StatusRequestEntityTooLarge
		} else {
			// The binding reuses its request (and a fasthttp RequestCtx is
			// a context.Context that ends with it): a context of its own.
			var out []byte
			if status, out = h.answer(context.Background(), m, legacy, bytes.Clone(body), header); out != nil {
				return reply{status: status, body: out, json: true}
			}
		}
	}
	r := reply{status: status, body: []byte(http.StatusText(status) + "\n")}
	if status == http.StatusMethodNotAllowed {
		r.allow = http.MethodPost
	}
	return r
}

// ServeFast serves one request read by a fasthttp server. It answers
// exactly as ServeHTTP does, status for status and byte for byte: the
// bindings share every check and the answer (serveRead), and differ only
// in how they read the request and write the response.
func (h *Handler) ServeFast(ctx *fasthttp.RequestCtx) {
	req := &ctx.Request
	header := func(name string) string { return string(req.Header.Peek(name)) }
	query := func(name string) string { return string(req.URI().QueryArgs().Peek(name)) }
	r := h.serveRead(string(req.Header.Method()), string(ctx.Path()),
		func() string { return presentedKey(header, query) }, req.Body(), header)
	if r.json {
		ctx.Response.Header.SetContentType(jsonType)
	} else {
		if r.allow != "" {
			ctx.Response.Header.Set("Allow", r.allow)
		}
		ctx.Response.Header.SetContentType(textType)
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	}
	ctx.SetStatusCode(r.status)
	ctx.SetBody(r.body)
}
