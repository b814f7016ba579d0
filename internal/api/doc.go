// Package api is Herald's transport-agnostic server API: publish, broadcast,
// subscribe, unsubscribe, disconnect, refresh, presence, presence_stats,
// history, history_remove, channels, info, rpc and batch, with the request and
// result types of Centrifugo v6's api.proto in their HTTP JSON form
// (COMPAT.md §4).
//
// An Executor validates requests, converts them into calls on an Engine (the
// slice of the engine Node the API needs) and converts engine errors into
// *protocol.Error values with the server API codes of COMPAT.md §2.6. The
// HTTP binding lives in package httpapi; a gRPC binding calls the typed
// methods (Publish, Broadcast, …) directly.
//
// Error model: typed methods return a nil *protocol.Error on success and
// otherwise one of the predefined protocol errors (or one returned by the
// engine). Engine errors that are not *protocol.Error values are logged once
// by the Executor and reported as 100 internal server error; the broker
// sentinels ErrBadRequest, ErrNotAvailable and ErrUnrecoverablePosition map to
// 107, 108 and 112.
//
// Concurrency: an Executor is safe for concurrent use. Broadcast and parallel
// batches start goroutines bounded by Config.MaxConcurrency and wait for all
// of them before returning; nothing outlives a call.
//
// Payload ownership: the data, info and b64-decoded byte slices and the tags
// maps handed to the Engine may alias the request (and so the buffer it was
// decoded from) and, for a broadcast, are shared by several Publish calls
// running concurrently. The Engine may retain them but must not modify them;
// callers must not modify a request or its buffer once it has been passed to
// an Executor.
package api
