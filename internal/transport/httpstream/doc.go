// Package httpstream serves the bidirectional emulation transports of the
// client protocol (COMPAT.md §3.2-3.4): HTTP-streaming
// (/connection/http_stream), SSE (/connection/sse) and the /emulation
// endpoint that carries the client's later commands to its session.
//
// A connection is one long HTTP response: the request holds the first
// command frame (normally connect), the engine's replies and pushes are
// streamed back (JSON lines or varint-delimited Protobuf for
// HTTP-streaming, "data:" events for SSE), and every other command arrives
// as a separate POST to /emulation naming the session and node from the
// connect reply. A SessionRouter delivers those frames to the owning
// session, so that with several nodes sharing a broker a request landing on
// the wrong node can be forwarded.
//
// Stream, the engine.Transport over a streaming response, is exported for
// the unidirectional transports (package uni), which share its framing.
//
// Concurrency: Handlers are safe for concurrent use and start no goroutines.
// A connection starts in the net/http goroutine of its request. With a
// Reactor (Config.Reactor, what the server uses), a running HTTP/1.x stream
// over plain TCP is then detached (Stream.Detach, detach.go): the
// connection is hijacked, the handler returns, later replies and pushes are
// written as chunks straight to the connection, and an epoll reactor only
// watches for the client going away, so an idle stream holds no goroutine
// and none of net/http's per-connection buffers. HTTP/2 and TLS streams,
// and every stream without a Reactor, keep their goroutine, which waits
// until the session ends (server shutdown included, with a disconnect push)
// or the client goes away.
package httpstream
