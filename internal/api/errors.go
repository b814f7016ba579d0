package api

import (
	"context"
	"errors"
	"log/slog"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
)

// ErrUnknownMethod is returned by Executor.Call and Executor.Do for a method
// that does not exist. HTTP per-method routes answer it with 404; inside the
// legacy route it becomes a 104 method not found reply.
var ErrUnknownMethod = errors.New("api: unknown method")

// DecodeError reports params that are not valid JSON or do not match the
// request type of Method. Bindings answer it as a malformed request (HTTP
// 400, 107 bad request where a per-command reply is needed).
type DecodeError struct {
	Method Method
	Err    error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return "api: decode " + e.Method.String() + " params: " + e.Err.Error()
}

// Unwrap returns the underlying JSON error.
func (e *DecodeError) Unwrap() error { return e.Err }

// ProtocolError converts an error returned by Executor.Call or Executor.Do
// into the error reported to API callers: a *protocol.Error (possibly
// wrapped) is returned as is, ErrUnknownMethod becomes 104, a *DecodeError
// 107, the broker sentinels ErrBadRequest, ErrNotAvailable and
// ErrUnrecoverablePosition 107, 108 and 112, and anything else 100. It
// returns nil for a nil err.
func ProtocolError(err error) *protocol.Error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) && pe != nil {
		return pe
	}
	var de *DecodeError
	switch {
	case errors.Is(err, ErrUnknownMethod):
		return ErrNotFound
	case errors.As(err, &de):
		return protocol.ErrBadRequest
	case errors.Is(err, broker.ErrBadRequest):
		return protocol.ErrBadRequest
	case errors.Is(err, broker.ErrNotAvailable):
		return protocol.ErrNotAvailable
	case errors.Is(err, broker.ErrUnrecoverablePosition):
		return protocol.ErrUnrecoverablePosition
	default:
		return protocol.ErrInternal
	}
}

// engineError converts an Engine error into the error reported to callers,
// logging the errors that become 100 internal server error (the only place
// their cause is still known).
func (e *Executor) engineError(ctx context.Context, m Method, ch string, err error) *protocol.Error {
	pe := ProtocolError(err)
	if pe.Code == protocol.ErrInternal.Code {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelDebug
		}
		if e.logger.Enabled(ctx, level) {
			e.logger.LogAttrs(ctx, level, "server API call failed",
				slog.String("method", m.String()), slog.String("channel", ch), slog.Any("error", err))
		}
	}
	return pe
}

// ErrNotFound is the server API's 104 error. Its message differs from the
// client protocol's 104 "method not found" (COMPAT §2.6).
var ErrNotFound = &protocol.Error{Code: 104, Message: "not found"}
