package protocol

import "strconv"

// Error is an error reply code sent to a client in Reply.error (codes below
// 3000), or returned by the server API. Values of the predefined errors are
// shared and must not be mutated.
type Error struct {
	Code      uint32
	Message   string
	Temporary bool
}

// Error implements error.
func (e *Error) Error() string {
	return strconv.FormatUint(uint64(e.Code), 10) + ": " + e.Message
}

// Client error codes (COMPAT.md §2.1).
var (
	ErrInternal              = &Error{Code: 100, Message: "internal server error", Temporary: true}
	ErrUnauthorized          = &Error{Code: 101, Message: "unauthorized"}
	ErrUnknownChannel        = &Error{Code: 102, Message: "unknown channel"}
	ErrPermissionDenied      = &Error{Code: 103, Message: "permission denied"}
	ErrMethodNotFound        = &Error{Code: 104, Message: "method not found"}
	ErrAlreadySubscribed     = &Error{Code: 105, Message: "already subscribed"}
	ErrLimitExceeded         = &Error{Code: 106, Message: "limit exceeded"}
	ErrBadRequest            = &Error{Code: 107, Message: "bad request"}
	ErrNotAvailable          = &Error{Code: 108, Message: "not available"}
	ErrTokenExpired          = &Error{Code: 109, Message: "token expired"}
	ErrExpired               = &Error{Code: 110, Message: "expired"}
	ErrTooManyRequests       = &Error{Code: 111, Message: "too many requests", Temporary: true}
	ErrUnrecoverablePosition = &Error{Code: 112, Message: "unrecoverable position"}
)

// Disconnect tells a client why its connection is closed (codes 3000-4999).
type Disconnect struct {
	Code   uint32
	Reason string
}

// Error implements error.
func (d Disconnect) Error() string {
	return "disconnect " + strconv.FormatUint(uint64(d.Code), 10) + ": " + d.Reason
}

// Reconnect reports whether a client should reconnect after d, by code range:
// 3000-3499 and 4000-4499 reconnect, 3500-3999 and 4500-4999 are terminal,
// 5000 and above reconnect.
func (d Disconnect) Reconnect() bool {
	switch {
	case d.Code >= 3500 && d.Code < 4000, d.Code >= 4500 && d.Code < 5000:
		return false
	default:
		return true
	}
}

// Disconnect codes (COMPAT.md §2.3).
var (
	DisconnectConnectionClosed      = Disconnect{Code: 3000, Reason: "connection closed"}
	DisconnectShutdown              = Disconnect{Code: 3001, Reason: "shutdown"}
	DisconnectServerError           = Disconnect{Code: 3004, Reason: "internal server error"}
	DisconnectExpired               = Disconnect{Code: 3005, Reason: "connection expired"}
	DisconnectSubExpired            = Disconnect{Code: 3006, Reason: "subscription expired"}
	DisconnectSlow                  = Disconnect{Code: 3008, Reason: "slow"}
	DisconnectWriteError            = Disconnect{Code: 3009, Reason: "write error"}
	DisconnectInsufficientState     = Disconnect{Code: 3010, Reason: "insufficient state"}
	DisconnectForceReconnect        = Disconnect{Code: 3011, Reason: "force reconnect"}
	DisconnectNoPong                = Disconnect{Code: 3012, Reason: "no pong"}
	DisconnectTooManyRequests       = Disconnect{Code: 3013, Reason: "too many requests"}
	DisconnectInvalidToken          = Disconnect{Code: 3500, Reason: "invalid token"}
	DisconnectBadRequest            = Disconnect{Code: 3501, Reason: "bad request"}
	DisconnectStale                 = Disconnect{Code: 3502, Reason: "stale"}
	DisconnectForceNoReconnect      = Disconnect{Code: 3503, Reason: "force disconnect"}
	DisconnectConnectionLimit       = Disconnect{Code: 3504, Reason: "connection limit"}
	DisconnectChannelLimit          = Disconnect{Code: 3505, Reason: "channel limit"}
	DisconnectInappropriateProtocol = Disconnect{Code: 3506, Reason: "inappropriate protocol"}
	DisconnectPermissionDenied      = Disconnect{Code: 3507, Reason: "permission denied"}
	DisconnectNotAvailable          = Disconnect{Code: 3508, Reason: "not available"}
	DisconnectTooManyErrors         = Disconnect{Code: 3509, Reason: "too many errors"}
)

// Unsubscribe tells a client why the server unsubscribed it from a channel
// (codes 2000-2999; >= 2500 means the client resubscribes).
type Unsubscribe struct {
	Code   uint32
	Reason string
}

// Unsubscribe codes (COMPAT.md §2.2).
var (
	UnsubscribeServer            = Unsubscribe{Code: 2000, Reason: "server unsubscribe"}
	UnsubscribeInsufficientState = Unsubscribe{Code: 2500, Reason: "insufficient state"}
	UnsubscribeExpired           = Unsubscribe{Code: 2501, Reason: "subscription expired"}
)
