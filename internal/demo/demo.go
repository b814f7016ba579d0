// Package demo serves Herald's demo page: a small chat built on
// centrifuge-js that shows messages, presence, the transport in use and a
// reconnect with recovery. It is meant for development mode only (off by
// default): mount Handler under a prefix such as /demo/.
//
// The page talks to the server it was loaded from, unless the query
// parameter server=<http(s) base URL> names another one. transport=websocket,
// http_stream or sse pins one transport; without it the page tries them in
// that order. The server needs the channel namespace of config.json next to
// this file (anonymous connections, a "chat" namespace with presence,
// join/leave and history with recovery) and, when enabled, the
// http_stream and sse sections.
//
// static/centrifuge.js is the browser build of the npm package centrifuge
// (MIT licence, static/centrifuge.LICENSE), vendored so the demo works
// offline right after cloning.
package demo

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html static
var files embed.FS

// ConfigJSON is a server configuration that the demo works with, for
// `herald -c internal/demo/config.json`.
//
//go:embed config.json
var ConfigJSON []byte

// Handler returns the http.Handler of the demo page and its script. Mount
// it with the prefix stripped, e.g.
// mux.Handle("/demo/", http.StripPrefix("/demo", demo.Handler())).
func Handler() http.Handler {
	sub, err := fs.Sub(files, ".")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
