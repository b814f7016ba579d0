package jwt_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

// baseTime is the fixed "now" of most tests.
var baseTime = time.Unix(1_700_000_000, 0)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ unix atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.unix.Store(baseTime.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.unix.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.unix.Add(int64(d)) }
func fixedNow() time.Time                    { return baseTime }
func unixIn(d time.Duration) int64           { return baseTime.Add(d).Unix() }
func claims(kv ...any) gojwt.MapClaims {
	m := gojwt.MapClaims{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

type testKeys struct {
	rsa      *rsa.PrivateKey
	rsa2     *rsa.PrivateKey
	ec256    *ecdsa.PrivateKey
	ec384    *ecdsa.PrivateKey
	ec521    *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	edPub    ed25519.PublicKey
	rsaPEM   []byte
	ec256PEM []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

// getKeys generates the test keys once per test binary.
func getKeys(tb testing.TB) *testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keys.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		keys.ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(err)
		keys.edPub, keys.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		der, err := x509.MarshalPKIXPublicKey(&keys.rsa.PublicKey)
		must(err)
		keys.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		der, err = x509.MarshalPKIXPublicKey(&keys.ec256.PublicKey)
		must(err)
		keys.ec256PEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	})
	return &keys
}

// sign returns a token signed by method with key, with optional kid.
func sign(tb testing.TB, method gojwt.SigningMethod, key any, c gojwt.MapClaims, kid string) string {
	tb.Helper()
	tok := gojwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// raw builds a token from literal header and payload JSON and a signature.
func raw(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

func newVerifier(tb testing.TB, c jwt.Config) *jwt.Verifier {
	tb.Helper()
	if c.Now == nil {
		c.Now = fixedNow
	}
	v, err := jwt.New(c, nil)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return v
}

func mustRe(s string) *regexp.Regexp { return regexp.MustCompile(s) }
