// Package bench implements `herald bench`, a load tool for any server that
// speaks the Centrifugo client protocol v2 over WebSocket and the Centrifugo
// HTTP server API (Herald and Centrifugo alike).
//
// It has four scenarios, each a function taking a context and returning a
// *Report:
//
//   - Fanout: C subscribers on K channels, publishes through the API at R/s;
//     measures delivery rate, loss, duplicates, order violations and
//     publish-to-receipt latency.
//   - Conns: N idle connections, each connected and subscribed, held for a
//     duration while server pings are answered; measures connect rate and
//     the server's memory, descriptors, threads and idle CPU per connection.
//   - Pubrate: P keep-alive workers publishing as fast as possible to M
//     channels, optionally with subscribers; measures requests/s, errors,
//     request latency and server CPU per request.
//   - Churn: rounds of connect–subscribe–close cycles; measures cycles/s and
//     the server's RSS and descriptor count after every round.
//
// The tool is its own client, and never a Centrifugo SDK: a small WebSocket
// client side and reply decoder of its own (wsframe.go, reply.go) that
// parse frames in place, and an inline epoll reactor (internal/netpoll)
// that reads every plain-TCP connection from one goroutine per processor,
// so that the tool's CPU per received message stays below the servers'
// (both share the machine). TLS connections get a goroutine each. Server resource figures
// come from /proc/PID when Options.ServerPID is set, so they are available
// only on Linux and for a server on the same host.
//
// Every loop is bounded in count and in time, every connection is closed
// before a scenario returns, and cancelling the context stops a scenario
// early (the report then covers the part that ran). Targets must be loopback
// addresses unless Options.AllowRemote is set.
//
// Concurrency: a scenario function may be called from any goroutine, and
// several scenarios may run at once with distinct Options; a Report is owned
// by its caller once returned.
package bench
