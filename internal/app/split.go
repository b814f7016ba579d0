package app

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/heraldrt/herald/internal/api/httplane"
	"github.com/heraldrt/herald/internal/connsplit"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/rawio"
	"github.com/heraldrt/herald/internal/rawtcp"
	"github.com/heraldrt/herald/internal/transport/websocket"
)

// split shares ln, a plain-TCP listener whose net/http handler is h, and
// returns the listener of the connections net/http serves. When api is
// set, connections that open with a server-API request are served by a
// fasthttp server, which costs a fraction of net/http per request
// (docs/benchmarks.md); a fast-lane connection that later asks for a path
// outside the API is answered by h through an adaptor, so a backend may
// share one keep-alive connection between /api and, say, /health. When ws
// is set, connections that open with the WebSocket upgrade request are
// upgraded without net/http's per-connection state
// (websocket.ServeConn). With neither, ln is returned as it is.
//
// With the API at the root path ("/") the API is not split off: every POST
// would look like an API call.
func (a *App) split(ln net.Listener, addr string, h http.Handler, api, ws bool) net.Listener {
	prefix := strings.TrimRight(a.cfg.HTTPAPI.HandlerPrefix, "/")
	api = api && prefix != ""
	if !api && !ws {
		return ln
	}
	cfg := connsplit.Config{}
	if ws {
		cfg.DirectPrefix = "GET " + a.cfg.WebSocket.HandlerPrefix
		cfg.Direct = func(c *connsplit.Conn) { websocket.ServeConn(a.wsHandler, c, a.log) }
	}
	if api {
		cfg.FastPrefix = "POST " + prefix
	}
	// Accepted raw (internal/rawtcp): a WebSocket connection of the
	// reactor then never enters the scheduler's system-call path.
	split := connsplit.New(rawtcp.NewListener(ln), cfg)
	a.wg.Go(func() {
		if err := split.Serve(); err != nil {
			a.log.Error("http listener", "addr", addr, "error", err)
		}
	})
	if api {
		a.serveFastAPI(split.Fast(), addr, h, prefix)
	}
	return split.Slow()
}

// serveFastAPI serves the server API on ln with fasthttp; other paths are
// answered by h through an adaptor.
func (a *App) serveFastAPI(ln net.Listener, addr string, h http.Handler, prefix string) {
	maxBody := a.api.MaxBodySize()
	if maxBody <= 0 || maxBody > math.MaxInt32 {
		maxBody = math.MaxInt32
	}
	apiPath := []byte(prefix)
	other := fasthttpadaptor.NewFastHTTPHandler(h)
	fs := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			p := ctx.Path()
			if rest, ok := bytes.CutPrefix(p, apiPath); ok && (len(rest) == 0 || rest[0] == '/') {
				a.api.ServeFast(ctx)
				return
			}
			other(ctx)
		},
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           int(maxBody),
		ReadBufferSize:               16 << 10,
		Logger:                       fastLogger{a.log},
		ErrorHandler:                 fastRequestError,
	}
	a.fast = append(a.fast, fs)
	if a.inlineAPI {
		// No API call waits on the network: serve the connections on a
		// reactor, and give fasthttp those that need more of HTTP/1.1.
		lane, err := httplane.New(httplane.Config{
			Prefix:   prefix,
			Handler:  a.api.ServeLane,
			Fallback: func(c net.Conn) { _ = fs.ServeConn(c) },
			Logger:   a.log,
		})
		if err == nil {
			a.lanes = append(a.lanes, lane)
			a.wg.Go(func() {
				if err := lane.Serve(ln); err != nil {
					a.log.Error("server API reactor lane", "addr", addr, "error", err)
				}
			})
			return
		}
		if !errors.Is(err, netpoll.ErrUnsupported) {
			a.log.Error("server API reactor lane unavailable; using fasthttp", "error", err)
		}
	}
	a.wg.Go(func() {
		if err := fs.Serve(rawio.Listener{Listener: ln}); err != nil {
			a.log.Error("server API fast lane", "addr", addr, "error", err)
		}
	})
}

// fastRequestError answers a request fasthttp could not read: 413 for a
// body over the limit, 431 for headers over the read buffer, 408 for a
// timeout and 400 for anything malformed. fasthttp then closes the
// connection.
func fastRequestError(ctx *fasthttp.RequestCtx, err error) {
	status := http.StatusBadRequest
	var (
		ne    net.Error
		small *fasthttp.ErrSmallBuffer
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &small):
		status = http.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		status = http.StatusRequestTimeout
	}
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(http.StatusText(status) + "\n")
}

// fastLogger logs fasthttp's messages (malformed requests and the like) at
// debug level, as the net/http server's ErrorLog does.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("server API fast lane: " + fmt.Sprintf(format, args...))
}
