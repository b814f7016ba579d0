package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/api/apitest"
	"github.com/heraldrt/herald/internal/api/httpapi"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/valyala/fasthttp"
)

// discardWriter is a minimal http.ResponseWriter so the benchmark measures
// the handler rather than httptest.ResponseRecorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkHTTPPublish measures an authenticated publish through the
// in-process handler against an engine that does nothing.
func BenchmarkHTTPPublish(b *testing.B) {
	eng := &apitest.Engine{NoRecord: true}
	eng.PublishFunc = func(context.Context, string, []byte, engine.PublishOptions) (broker.PublishResult, error) {
		return broker.PublishResult{Position: broker.StreamPosition{Offset: 12345, Epoch: "AbCdEfGh"}}, nil
	}
	for _, bc := range []struct{ name, path, body string }{
		{"method", "/api/publish", `{"channel":"chat:index","data":{"text":"hello, world","user":"42"}}`},
		{"legacy", "/api", `{"method":"publish","params":{"channel":"chat:index","data":{"text":"hello, world","user":"42"}}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := httpapi.NewHandler(api.New(eng, api.Config{}), httpapi.Config{Key: testKey}, nil)
			body := []byte(bc.body)
			rd := bytes.NewReader(body)
			r := httptest.NewRequest(http.MethodPost, bc.path, rd)
			r.Header.Set("X-API-Key", testKey)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rd.Reset(body)
				w.status = 0
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkFastPublish is BenchmarkHTTPPublish through ServeFast, the
// fasthttp binding of the fast lane.
func BenchmarkFastPublish(b *testing.B) {
	eng := &apitest.Engine{NoRecord: true}
	eng.PublishFunc = func(context.Context, string, []byte, engine.PublishOptions) (broker.PublishResult, error) {
		return broker.PublishResult{Position: broker.StreamPosition{Offset: 12345, Epoch: "AbCdEfGh"}}, nil
	}
	h := httpapi.NewHandler(api.New(eng, api.Config{}), httpapi.Config{Key: testKey}, nil)
	body := []byte(`{"channel":"chat:index","data":{"text":"hello, world","user":"42"}}`)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(http.MethodPost)
		ctx.Request.SetRequestURI("/api/publish")
		ctx.Request.Header.Set("X-API-Key", testKey)
		ctx.Request.SetBody(body)
		h.ServeFast(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}
