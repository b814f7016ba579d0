package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// JWKS cache tuning.
const (
	// jwksTTL is how long a fetched document's keys are trusted.
	jwksTTL = time.Hour
	// jwksMinRefetchInterval rate-limits fetches of one endpoint, including
	// refetches for an unknown kid and retries after a failure.
	jwksMinRefetchInterval = time.Second
	// jwksMaxBody bounds the size of a JWKS document.
	jwksMaxBody = 1 << 20
	// jwksMaxEndpoints bounds the number of cached endpoints (dynamic
	// endpoints create one entry per distinct URL).
	jwksMaxEndpoints = 1024
)

// jwk is one usable key of a JWKS document.
type jwk struct {
	alg string // the key's alg member; "" accepts any compatible algorithm
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// compatible reports whether alg may be verified with k.
func (k *jwk) compatible(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return ecdsaAlg(key) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// jwksCache caches the keys of JWKS endpoints by kid. It is safe for
// concurrent use.
type jwksCache struct {
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu        sync.Mutex
	endpoints map[string]*jwksEntry // guarded by mu
}

// jwksEntry is the state of one endpoint; guarded by jwksCache.mu.
type jwksEntry struct {
	keys        map[string]*jwk
	fetchedAt   time.Time  // zero until a fetch succeeds
	lastAttempt time.Time  // start of the last fetch
	lastErr     error      // error of the last fetch, nil on success
	inflight    *fetchCall // non-nil while a fetch runs
}

// fetchCall lets concurrent lookups share one fetch; done is closed when the
// fetch ends.
type fetchCall struct {
	done chan struct{}
}

func newJWKSCache(client *http.Client, now func() time.Time) *jwksCache {
	return &jwksCache{
		client:    client,
		timeout:   DefaultJWKSTimeout,
		now:       now,
		endpoints: make(map[string]*jwksEntry),
	}
}

// key returns the key kid of the document at endpoint, fetching it when the
// cached document is missing, older than jwksTTL, or lacks kid. Fetches of
// one endpoint are shared between concurrent callers and start at most once
// per jwksMinRefetchInterval.
func (c *jwksCache) key(ctx context.Context, endpoint, kid string) (*jwk, error) {
	waited := false
	for {
		c.mu.Lock()
		e := c.entry(endpoint)
		now := c.now()
		fresh := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < jwksTTL
		if fresh {
			if k, ok := e.keys[kid]; ok {
				c.mu.Unlock()
				return k, nil
			}
		}
		if call := e.inflight; call != nil && !waited {
			c.mu.Unlock()
			select {
			case <-call.done:
				waited = true
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: waiting for %s: %w", ErrJWKSUnavailable, endpoint, ctx.Err())
			}
		}
		if waited || (!e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < jwksMinRefetchInterval) {
			// A fetch just happened; do not hammer the endpoint.
			lastErr := e.lastErr
			c.mu.Unlock()
			if lastErr != nil && !fresh {
				return nil, fmt.Errorf("%w: %s: %w", ErrJWKSUnavailable, endpoint, lastErr)
			}
			return nil, invalid(fmt.Sprintf("no key with kid %q at %s", kid, endpoint), nil)
		}
		call := &fetchCall{done: make(chan struct{})}
		e.inflight = call
		e.lastAttempt = now
		c.mu.Unlock()

		keys, err := c.fetch(ctx, endpoint)

		c.mu.Lock()
		e.inflight = nil
		e.lastErr = err
		if err == nil {
			e.keys = keys
			e.fetchedAt = c.now()
		}
		close(call.done)
		c.mu.Unlock()
		waited = true
	}
}

// entry returns the entry of endpoint, creating it and evicting another
// entry when the cache is full. Lock mu must be held.
func (c *jwksCache) entry(endpoint string) *jwksEntry {
	if e, ok := c.endpoints[endpoint]; ok {
		return e
	}
	if len(c.endpoints) >= jwksMaxEndpoints {
		for k, v := range c.endpoints {
			if v.inflight == nil {
				delete(c.endpoints, k)
				break
			}
		}
	}
	e := &jwksEntry{}
	c.endpoints[endpoint] = e
	return e
}

// fetch downloads and parses the document at endpoint. It ignores the
// cancellation of ctx, whose fetch other callers may share, and is bounded
// by c.timeout instead.
func (c *jwksCache) fetch(ctx context.Context, endpoint string) (map[string]*jwk, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBody {
		return nil, errors.New("document larger than 1 MiB")
	}
	return parseJWKS(body)
}

// rawJWK is one member of a JWKS "keys" array.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a JWKS document. Keys without kid, with a use other than
// "sig", or of an unsupported type are skipped.
func parseJWKS(body []byte) (map[string]*jwk, error) {
	var doc struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("malformed document: %w", err)
	}
	keys := make(map[string]*jwk, len(doc.Keys))
	for _, rk := range doc.Keys {
		if rk.Kid == "" || (rk.Use != "" && rk.Use != "sig") {
			continue
		}
		key, err := rk.publicKey()
		if err != nil {
			continue
		}
		keys[rk.Kid] = &jwk{alg: rk.Alg, key: key}
	}
	return keys, nil
}

// b64url decodes base64url with or without padding.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func (rk *rawJWK) publicKey() (any, error) {
	switch rk.Kty {
	case "RSA":
		n, err := b64url(rk.N)
		if err != nil || len(n) == 0 {
			return nil, errors.New("bad n")
		}
		e, err := b64url(rk.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad e")
		}
		exp := new(big.Int).SetBytes(e)
		if exp.Int64() < 3 {
			return nil, errors.New("bad e")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch rk.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errors.New("unsupported curve")
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64url(rk.X)
		y, err2 := b64url(rk.Y)
		if err1 != nil || err2 != nil || len(x) > size || len(y) > size {
			return nil, errors.New("bad point")
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(x):1+size], x)
		copy(point[1+2*size-len(y):], y)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	case "OKP":
		if rk.Crv != "Ed25519" {
			return nil, errors.New("unsupported curve")
		}
		x, err := b64url(rk.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad x")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("unsupported key type")
}
