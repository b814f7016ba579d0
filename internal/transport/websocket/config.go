package websocket

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/transport/origin"
)

// Defaults applied by Config.withDefaults to zero-valued fields.
const (
	// DefaultMessageSizeLimit is the default MessageSizeLimit (64 KiB).
	DefaultMessageSizeLimit = 65536
	// DefaultWriteTimeout is the default WriteTimeout.
	DefaultWriteTimeout = time.Second
	// DefaultCloseTimeout is the default CloseTimeout.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultCompressionLevel is the default CompressionLevel.
	DefaultCompressionLevel = 1
)

// Config configures the bidirectional WebSocket endpoint. Every field's zero
// value is a documented default, so Config{} is a working configuration that
// accepts only requests without an Origin header.
type Config struct {
	// MessageSizeLimit is the largest message, in bytes, accepted from a
	// client. A larger message closes the connection with WebSocket code 1009
	// "message too big". With compression negotiated it bounds the
	// compressed (wire) size. Zero means 65536.
	MessageSizeLimit int

	// DecompressedMessageSizeLimit bounds the size of a message after
	// permessage-deflate decompression; it only applies when compression
	// was negotiated. Zero means 10 × MessageSizeLimit.
	DecompressedMessageSizeLimit int

	// WriteTimeout bounds every write to the client: a WriteMany that cannot
	// complete within it fails (the engine then disconnects with 3009), and
	// Close waits at most this long to send its close frame. Zero means 1s.
	WriteTimeout time.Duration

	// CloseTimeout is how long, after sending a close frame, the server waits
	// for the client's close frame before dropping the TCP connection. The
	// wait never blocks the caller of Close. Zero means 5s.
	CloseTimeout time.Duration

	// Compression enables negotiation of permessage-deflate (RFC 7692, no
	// context takeover). Zero means disabled.
	Compression bool

	// CompressionLevel is the flate level (1-9) for compressed writes. Zero
	// means 1 (best speed).
	CompressionLevel int

	// CompressionMinSize is the smallest frame payload, in bytes, that is
	// compressed; smaller frames are sent uncompressed even on a compressed
	// connection. Zero means every frame is compressed.
	CompressionMinSize int

	// Unidirectional, when set, makes the Handler serve uni_websocket; see
	// UniConfig. Nil serves the bidirectional transport.
	Unidirectional *UniConfig

	// AllowedOrigins lists glob patterns (e.g. "https://*.example.com")
	// matched against the lowercased Origin header; see package origin.
	// Requests without an Origin header always pass. Zero (empty) means
	// every request carrying an Origin header is rejected with 403; ["*"]
	// allows all origins.
	AllowedOrigins []string
}

// UniConfig is what differs on uni_websocket (COMPAT.md §3.6): no
// subprotocol (always JSON), client messages after the ConnectRequest
// discarded by the session, pushes written as bare text messages, a
// disconnect push before the close frame, and native WebSocket pings.
type UniConfig struct {
	// JoinPushMessages joins the pushes of one write with '\n' into one text
	// message instead of writing one message per push.
	JoinPushMessages bool
	// DisconnectPush encodes the push written before the close frame; nil
	// writes none.
	DisconnectPush func(d protocol.Disconnect) []byte
	// DisableClosingHandshake closes the TCP connection after the
	// disconnect push instead of sending a close frame.
	DisableClosingHandshake bool
	// PingInterval is the period of native ping frames, once the session
	// called StartPings (after a successful connect), rounded up to the
	// 50 ms tick of the Handler's time wheel. Zero means 25s; negative
	// disables them.
	PingInterval time.Duration
	// PongWait: a connection from which nothing arrived for PingInterval +
	// PongWait after pings started is dropped. Zero means 10s.
	PongWait time.Duration
}

// withDefaults returns c with zero-valued fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Unidirectional != nil {
		u := *c.Unidirectional
		if u.PingInterval == 0 {
			u.PingInterval = 25 * time.Second
		}
		if u.PongWait == 0 {
			u.PongWait = 10 * time.Second
		}
		c.Unidirectional = &u
	}
	if c.MessageSizeLimit == 0 {
		c.MessageSizeLimit = DefaultMessageSizeLimit
	}
	if c.DecompressedMessageSizeLimit == 0 {
		c.DecompressedMessageSizeLimit = 10 * c.MessageSizeLimit
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = DefaultCompressionLevel
	}
	return c
}

// Validate reports configuration errors: negative sizes or durations, a
// compression level outside 1-9, and origin patterns that are not valid
// globs. NewHandler does not call it; callers validate at startup.
func (c Config) Validate() error {
	var errs []error
	if c.MessageSizeLimit < 0 {
		errs = append(errs, fmt.Errorf("websocket: negative message size limit %d", c.MessageSizeLimit))
	}
	if c.DecompressedMessageSizeLimit < 0 {
		errs = append(errs, fmt.Errorf("websocket: negative decompressed message size limit %d", c.DecompressedMessageSizeLimit))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("websocket: negative write timeout %s", c.WriteTimeout))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, fmt.Errorf("websocket: negative close timeout %s", c.CloseTimeout))
	}
	if c.CompressionLevel < 0 || c.CompressionLevel > 9 {
		errs = append(errs, fmt.Errorf("websocket: compression level %d out of range 1-9", c.CompressionLevel))
	}
	if c.CompressionMinSize < 0 {
		errs = append(errs, fmt.Errorf("websocket: negative compression min size %d", c.CompressionMinSize))
	}
	if _, err := origin.NewChecker(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
