package jwt

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap exactly one of them,
// with the reason appended, so use errors.Is to branch.
var (
	// ErrInvalidToken means the token is malformed, its signature does not
	// verify, its algorithm has no configured key, or one of its claims is
	// not acceptable (including nbf in the future). Clients map it to
	// disconnect 3500 (connection) or error 103 (subscription).
	ErrInvalidToken = errors.New("invalid token")
	// ErrTokenExpired means the token's exp claim is in the past. Clients
	// map it to error 109 so that SDKs fetch a fresh token.
	ErrTokenExpired = errors.New("token expired")
	// ErrJWKSUnavailable means the JWKS endpoint could not be fetched or
	// returned an unusable document. The failure is temporary; the token
	// itself may be valid.
	ErrJWKSUnavailable = errors.New("jwks unavailable")
)

// invalid returns an error wrapping ErrInvalidToken with reason and, when
// non-nil, cause.
func invalid(reason string, cause error) error {
	if cause != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidToken, reason, cause)
	}
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}
