// Package jwt verifies Centrifugo-compatible connection and subscription
// JSON Web Tokens.
//
// A Verifier checks the signature of a token against the keys of its Config
// (an HMAC secret with optional rotation, an RSA or ECDSA public key, or the
// keys published at a JWKS endpoint), then validates the registered claims
// (exp, nbf, aud, iss) and decodes the Centrifugo-specific claims into a
// ConnectToken or a SubscribeToken.
//
// Errors: every rejection wraps ErrInvalidToken or ErrTokenExpired, so callers
// branch with errors.Is while the wrapped text keeps the reason for logs. A
// JWKS endpoint that cannot be reached yields an error wrapping
// ErrJWKSUnavailable, which is temporary.
//
// Concurrency: a Verifier is safe for concurrent use. Reload swaps its
// configuration atomically; a verification that is already running finishes
// with the configuration it started with. The package starts no goroutines:
// JWKS documents are fetched on the goroutine of the verification that needs
// them, and concurrent verifications waiting for the same document share one
// fetch.
package jwt
