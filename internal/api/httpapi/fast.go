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

// ServeFast serves one request read by a fasthttp server. It answers
// exactly as ServeHTTP does, status for status and byte for byte: the two
// bindings share every check and the answer, and differ only in how they
// read the request and write the response.
func (h *Handler) ServeFast(ctx *fasthttp.RequestCtx) {
	req := &ctx.Request
	m, legacy, status := h.check(string(req.Header.Method()), string(ctx.Path()), func() string { return fastRequestKey(req) })
	if status == 0 {
		if h.maxBody > 0 && int64(len(req.Body())) > h.maxBody {
			status = http.StatusRequestEntityTooLarge
		} else {
			// fasthttp reuses the request (its body and the RequestCtx, a
			// context.Context) once ServeFast returns, and a publication
			// keeps its data: copy the body, and run the call on a context
			// of its own.
			body := bytes.Clone(req.Body())
			header := func(name string) string { return string(req.Header.Peek(name)) }
			var out []byte
			status, out = h.answer(context.Background(), m, legacy, body, header)
			if out != nil {
				ctx.Response.Header.SetContentTypeBytes(jsonContentTypeBytes)
				ctx.SetStatusCode(status)
				ctx.SetBody(out)
				return
			}
		}
	}
	if status == http.StatusMethodNotAllowed {
		ctx.Response.Header.Set("Allow", http.MethodPost)
	}
	// As http.Error writes it.
	ctx.Response.Header.SetContentTypeBytes(textContentTypeBytes)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(http.StatusText(status) + "\n")
}

var (
	jsonContentTypeBytes = []byte("application/json")
	textContentTypeBytes = []byte("text/plain; charset=utf-8")
)

// fastRequestKey is requestKey for a fasthttp request.
func fastRequestKey(req *fasthttp.Request) string {
	if got := req.Header.Peek("X-API-Key"); len(got) > 0 {
		return string(got)
	}
	if got := authorizationKey(string(req.Header.Peek("Authorization"))); got != "" {
		return got
	}
	if got := req.URI().QueryArgs().Peek("api_key"); len(got) > 0 {
		return string(got)
	}
	return ""
}
