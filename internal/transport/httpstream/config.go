package httpstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldrt/herald/internal/transport/origin"
)

// DefaultMaxRequestBodySize is the default Config.MaxRequestBodySize.
const DefaultMaxRequestBodySize = 65536

// Config configures one emulation endpoint. Its zero value is a working
// configuration that accepts only requests without an Origin header.
type Config struct {
	// MaxRequestBodySize bounds the request body (the first command frame
	// or an /emulation request); a larger body gets 413. Zero means 65536.
	MaxRequestBodySize int
	// WriteTimeout bounds each write to the stream; a write that cannot
	// complete fails and the engine disconnects with 3009. Zero means 1s.
	WriteTimeout time.Duration
	// AllowedOrigins are the client.allowed_origins glob patterns (see
	// package origin). Zero (empty) rejects requests carrying an Origin.
	AllowedOrigins []string
	// Reactor, when set, detaches HTTP/1.x streams over plain TCP from
	// their net/http goroutines once they are running (Stream.Detach).
	// Nil keeps every stream in its request's goroutine.
	Reactor *Reactor
}

func (c Config) withDefaults() Config {
	if c.MaxRequestBodySize == 0 {
		c.MaxRequestBodySize = DefaultMaxRequestBodySize
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Second
	}
	return c
}

// Validate reports negative limits and invalid origin patterns.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("httpstream: negative max request body size %d", c.MaxRequestBodySize))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("httpstream: negative write timeout %s", c.WriteTimeout))
	}
	if _, err := origin.NewChecker(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
