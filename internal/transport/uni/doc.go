// Package uni serves the unidirectional transports of the client protocol
// (COMPAT.md §3.6): uni_sse (/connection/uni_sse), uni_http_stream
// (/connection/uni_http_stream) and uni_websocket
// (/connection/uni_websocket). A client sends one ConnectRequest (the
// cf_connect query parameter, the request body or the first WebSocket
// message) and then only receives bare Push messages: the Connect push first,
// then publications, join/leave, server-side subscribe/unsubscribe,
// refresh and disconnect pushes, and {} pings. Recovery works through the
// `subs` positions of the ConnectRequest.
//
// A connect failure becomes a disconnect push (COMPAT.md §2.5); for uni_sse
// and uni_http_stream it can instead become an HTTP status and body through
// HTTPConfig.ConnectCodeToHTTPResponse.
//
// Concurrency: Handlers are safe for concurrent use. A uni_sse or
// uni_http_stream connection is served in the net/http goroutine of its
// request; uni_websocket connections are served by the WebSocket reactor
// (package websocket in its unidirectional mode) and hold no goroutine
// while idle (native pings come from a shared time wheel).
package uni
