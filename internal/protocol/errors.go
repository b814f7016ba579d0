package protocol

import "errors"

// MaxCommandsPerFrame is the largest number of commands DecodeCommands,
// DecodeCommandsJSON and DecodeCommandsProtobuf accept in one frame; a frame
// with more commands fails with ErrTooManyCommands.
const MaxCommandsPerFrame = 1024

// Codec errors. Every error returned by a command decoder is ErrEmptyFrame,
// ErrTooManyCommands or wraps ErrMalformed, and the engine maps all of them
// to DisconnectBadRequest (3501). Encoders fail only with errors wrapping
// ErrInvalidJSONPayload (mapped to DisconnectInappropriateProtocol, 3506) or,
// for Protobuf, with errors from the protobuf runtime.
var (
	// ErrEmptyFrame means a frame held no command at all.
	ErrEmptyFrame = errors.New("protocol: empty frame")
	// ErrTooManyCommands means a frame held more than MaxCommandsPerFrame
	// commands.
	ErrTooManyCommands = errors.New("protocol: too many commands in frame")
	// ErrMalformed means a frame or message could not be decoded. Decoders
	// wrap it with the position and cause.
	ErrMalformed = errors.New("protocol: malformed data")
	// ErrInvalidJSONPayload means a bytes field (data, conn_info, chan_info,
	// ...) did not hold valid UTF-8 JSON and so cannot be embedded in a JSON
	// reply or push.
	ErrInvalidJSONPayload = errors.New("protocol: payload is not valid JSON")
)
