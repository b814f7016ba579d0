package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

// jwkOf encodes a public key as a JWK member.
func jwkOf(tb testing.TB, kid, alg string, pub any) map[string]string {
	tb.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": kid, "use": "sig"}
	if alg != "" {
		m["alg"] = alg
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = enc(k.N.Bytes())
		m["e"] = enc(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		size := (len(b) - 1) / 2
		m["kty"] = "EC"
		m["crv"] = k.Curve.Params().Name
		m["x"] = enc(b[1 : 1+size])
		m["y"] = enc(b[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = enc(k)
	default:
		tb.Fatalf("unsupported key %T", pub)
	}
	return m
}

// jwksServer serves JWKS documents per path and counts requests.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	docs   map[string][]map[string]string // path → keys
	status int
	gate   chan struct{} // when non-nil, requests wait for it to close
	paths  []string
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{docs: map[string][]map[string]string{}, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		gate, status, keys := s.gate, s.status, s.docs[r.URL.Path]
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		if keys == nil {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(path string, keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[path] = keys
}

func TestJWKSAlgorithms(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t)
	srv.set("/jwks",
		jwkOf(t, "rsa", "", &k.rsa.PublicKey),
		jwkOf(t, "rsa-rs256-only", "RS256", &k.rsa2.PublicKey),
		jwkOf(t, "ec256", "", &k.ec256.PublicKey),
		jwkOf(t, "ec384", "ES384", &k.ec384.PublicKey),
		jwkOf(t, "ec521", "", &k.ec521.PublicKey),
		jwkOf(t, "ed", "EdDSA", k.edPub),
		map[string]string{"kid": "enc", "use": "enc", "kty": "RSA", "n": "AQAB", "e": "AQAB"},
		map[string]string{"kid": "junk", "kty": "oct", "k": "c2VjcmV0"},
	)
	v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks", HMACSecretKey: secret, RSAPublicKey: &k.rsa.PublicKey})
	c := claims("sub", "u")
	tests := []struct {
		name   string
		method gojwt.SigningMethod
		key    any
		kid    string
		ok     bool
	}{
		{"RS256", gojwt.SigningMethodRS256, k.rsa, "rsa", true},
		{"RS512", gojwt.SigningMethodRS512, k.rsa, "rsa", true},
		{"PS256", gojwt.SigningMethodPS256, k.rsa, "rsa", true},
		{"RS256 alg-pinned key", gojwt.SigningMethodRS256, k.rsa2, "rsa-rs256-only", true},
		{"RS384 on RS256-pinned key", gojwt.SigningMethodRS384, k.rsa2, "rsa-rs256-only", false},
		{"RS256 wrong key", gojwt.SigningMethodRS256, k.rsa2, "rsa", false},
		{"ES256", gojwt.SigningMethodES256, k.ec256, "ec256", true},
		{"ES384", gojwt.SigningMethodES384, k.ec384, "ec384", true},
		{"ES512", gojwt.SigningMethodES512, k.ec521, "ec521", true},
		{"ES384 on P-256 key", gojwt.SigningMethodES384, k.ec384, "ec256", false},
		{"EdDSA", gojwt.SigningMethodEdDSA, k.ed, "ed", true},
		{"RS256 with EC kid", gojwt.SigningMethodRS256, k.rsa, "ec256", false},
		{"encryption key skipped", gojwt.SigningMethodRS256, k.rsa, "enc", false},
		{"oct key skipped", gojwt.SigningMethodHS256, []byte("secret"), "junk", false},
		{"no kid", gojwt.SigningMethodRS256, k.rsa, "", false},
		{"static HMAC ignored with JWKS", gojwt.SigningMethodHS256, []byte(secret), "rsa", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyConnectToken(context.Background(), sign(t, tt.method, tt.key, c, tt.kid))
			if tt.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tt.ok && !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	// Static RSA key is ignored too: a token whose kid is unknown fails even
	// though it is signed with the configured static key.
	if _, err := v.VerifyConnectToken(context.Background(), sign(t, gojwt.SigningMethodRS256, k.rsa, c, "nope")); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
}

func TestJWKSCaching(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t)
	srv.set("/jwks", jwkOf(t, "k1", "", &k.rsa.PublicKey))
	clock := newClock()
	v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks", Now: clock.Now})
	ctx := context.Background()
	tok1 := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u"), "k1")
	tok2 := sign(t, gojwt.SigningMethodRS256, k.rsa2, claims("sub", "u"), "k2")

	for i := 0; i < 5; i++ {
		if _, err := v.VerifyConnectToken(ctx, tok1); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("hits after cached verifies = %d, want 1", got)
	}

	// Unknown kid within the rate-limit window: no fetch.
	if _, err := v.VerifyConnectToken(ctx, tok2); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("hits = %d, want 1 (rate limited)", got)
	}

	// The key is published; after the window an unknown kid refetches.
	srv.set("/jwks", jwkOf(t, "k1", "", &k.rsa.PublicKey), jwkOf(t, "k2", "", &k.rsa2.PublicKey))
	clock.Advance(2 * time.Second)
	if _, err := v.VerifyConnectToken(ctx, tok2); err != nil {
		t.Fatalf("after refetch: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("hits = %d, want 2", got)
	}
	// A burst of unknown kids costs at most one fetch per second.
	tok3 := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u"), "k3")
	clock.Advance(2 * time.Second)
	for i := 0; i < 20; i++ {
		if _, err := v.VerifyConnectToken(ctx, tok3); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("hits = %d, want 3", got)
	}

	// Keys expire after an hour: the next verify refetches, and a removed
	// key stops being accepted.
	srv.set("/jwks", jwkOf(t, "k2", "", &k.rsa2.PublicKey))
	clock.Advance(time.Hour)
	if _, err := v.VerifyConnectToken(ctx, tok1); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("revoked key: %v", err)
	}
	if got := srv.hits.Load(); got != 4 {
		t.Fatalf("hits = %d, want 4", got)
	}
	if _, err := v.VerifyConnectToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 4 {
		t.Fatalf("hits = %d, want 4", got)
	}
}

func TestJWKSSingleflight(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t)
	srv.set("/jwks", jwkOf(t, "k1", "", &k.ec256.PublicKey))
	gate := make(chan struct{})
	srv.mu.Lock()
	srv.gate = gate
	srv.mu.Unlock()
	v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks"})
	tok := sign(t, gojwt.SigningMethodES256, k.ec256, claims("sub", "u"), "k1")

	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.VerifyConnectToken(context.Background(), tok)
			errs <- err
		}()
	}
	waitFor(t, time.Second, func() bool { return srv.hits.Load() == 1 })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("hits = %d, want 1", got)
	}
}

func TestJWKSEndpointFailures(t *testing.T) {
	k := getKeys(t)
	tok := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u"), "k1")

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: "http://" + addr + "/jwks"})
		if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrJWKSUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("hanging server times out", func(t *testing.T) {
		srv := newJWKSServer(t)
		srv.set("/jwks", jwkOf(t, "k1", "", &k.rsa.PublicKey))
		srv.mu.Lock()
		srv.gate = make(chan struct{}) // never closed
		srv.mu.Unlock()
		v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks"})
		start := time.Now()
		_, err := v.VerifyConnectToken(context.Background(), tok)
		if !errors.Is(err, jwt.ErrJWKSUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v, want about %v", d, jwt.DefaultJWKSTimeout)
		}
		// Within the next second the failure is reported without a new fetch.
		hits := srv.hits.Load()
		if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrJWKSUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if srv.hits.Load() != hits {
			t.Fatal("failed endpoint was refetched within the rate-limit window")
		}
	})

	t.Run("custom client timeout", func(t *testing.T) {
		srv := newJWKSServer(t)
		srv.mu.Lock()
		srv.gate = make(chan struct{})
		srv.mu.Unlock()
		v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks", HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		start := time.Now()
		if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrJWKSUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})

	for name, setup := range map[string]func(s *jwksServer){
		"status 500": func(s *jwksServer) { s.status = http.StatusInternalServerError },
		"not found":  func(s *jwksServer) {},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.mu.Lock()
			setup(srv)
			srv.mu.Unlock()
			v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks"})
			if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrJWKSUnavailable) {
				t.Fatalf("err = %v", err)
			}
		})
	}

	t.Run("malformed document", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys": "nope"`))
		}))
		defer srv.Close()
		v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL})
		if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrJWKSUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("caller context cancelled while waiting", func(t *testing.T) {
		srv := newJWKSServer(t)
		gate := make(chan struct{})
		srv.mu.Lock()
		srv.gate = gate
		srv.mu.Unlock()
		srv.set("/jwks", jwkOf(t, "k1", "", &k.rsa.PublicKey))
		v := newVerifier(t, jwt.Config{JWKSPublicEndpoint: srv.URL + "/jwks"})
		leaderDone := make(chan error, 1)
		go func() {
			_, err := v.VerifyConnectToken(context.Background(), tok)
			leaderDone <- err
		}()
		waitFor(t, time.Second, func() bool { return srv.hits.Load() == 1 })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, jwt.ErrJWKSUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("waiter err = %v", err)
		}
		close(gate)
		if err := <-leaderDone; err != nil {
			t.Fatalf("leader: %v", err)
		}
	})
}

func TestJWKSDynamicEndpoint(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t)
	srv.set("/acme/jwks", jwkOf(t, "acme-key", "", &k.rsa.PublicKey))
	srv.set("/globex/jwks", jwkOf(t, "globex-key", "", &k.ec256.PublicKey))
	srv.set("/eu/acme/jwks", jwkOf(t, "eu-key", "", k.edPub))
	v := newVerifier(t, jwt.Config{
		JWKSPublicEndpoint: srv.URL + "/{{tenant}}/jwks",
		IssuerRegex:        regexp.MustCompile(`^https://(?P<tenant>acme|globex)\.example$`),
	})
	ctx := context.Background()
	acme := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u", "iss", "https://acme.example"), "acme-key")
	if _, err := v.VerifyConnectToken(ctx, acme); err != nil {
		t.Fatalf("acme: %v", err)
	}
	globex := sign(t, gojwt.SigningMethodES256, k.ec256, claims("sub", "u", "iss", "https://globex.example"), "globex-key")
	if _, err := v.VerifyConnectToken(ctx, globex); err != nil {
		t.Fatalf("globex: %v", err)
	}
	// A token claiming globex but using acme's kid: globex's JWKS has no such key.
	cross := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u", "iss", "https://globex.example"), "acme-key")
	if _, err := v.VerifyConnectToken(ctx, cross); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("cross-tenant: %v", err)
	}
	for _, iss := range []string{"https://evil.example", "https://acme.example/../x", ""} {
		tok := sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u", "iss", iss), "acme-key")
		if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("iss %q: %v", iss, err)
		}
	}
	srv.mu.Lock()
	paths := strings.Join(srv.paths, ",")
	srv.mu.Unlock()
	if paths != "/acme/jwks,/globex/jwks,/globex/jwks" && paths != "/acme/jwks,/globex/jwks" {
		t.Fatalf("fetched paths = %s", paths)
	}

	// Placeholders from both issuer and audience regexps.
	v = newVerifier(t, jwt.Config{
		JWKSPublicEndpoint: srv.URL + "/{{region}}/{{tenant}}/jwks",
		IssuerRegex:        regexp.MustCompile(`^(?P<tenant>acme|globex)$`),
		AudienceRegex:      regexp.MustCompile(`^api-(?P<region>eu|us)$`),
	})
	tok := sign(t, gojwt.SigningMethodEdDSA, k.ed, claims("sub", "u", "iss", "acme", "aud", []string{"other", "api-eu"}), "eu-key")
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		t.Fatalf("region+tenant: %v", err)
	}
	tok = sign(t, gojwt.SigningMethodEdDSA, k.ed, claims("sub", "u", "iss", "acme"), "eu-key")
	if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("missing aud: %v", err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}
