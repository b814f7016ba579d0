package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

const secret = "current-secret"

func allKeysConfig(k *testKeys) jwt.Config {
	return jwt.Config{
		HMACSecretKey:  secret,
		RSAPublicKey:   &k.rsa.PublicKey,
		ECDSAPublicKey: &k.ec256.PublicKey,
	}
}

func TestAlgorithms(t *testing.T) {
	k := getKeys(t)
	good := claims("sub", "u1", "exp", unixIn(time.Hour))
	tests := []struct {
		name   string
		cfg    jwt.Config
		method gojwt.SigningMethod
		key    any
		ok     bool
	}{
		{"HS256", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodHS256, []byte(secret), true},
		{"HS384", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodHS384, []byte(secret), true},
		{"HS512", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodHS512, []byte(secret), true},
		{"HS256 wrong secret", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodHS256, []byte("other"), false},
		{"HS256 without HMAC key", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodHS256, []byte(secret), false},
		{"RS256", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodRS256, k.rsa, true},
		{"RS384", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodRS384, k.rsa, true},
		{"RS512", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodRS512, k.rsa, true},
		{"RS256 wrong key", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodRS256, k.rsa2, false},
		{"RS256 without RSA key", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodRS256, k.rsa, false},
		{"PS256", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodPS256, k.rsa, true},
		{"PS384", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodPS384, k.rsa, true},
		{"PS512", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodPS512, k.rsa, true},
		{"PS256 wrong key", jwt.Config{RSAPublicKey: &k.rsa.PublicKey}, gojwt.SigningMethodPS256, k.rsa2, false},
		{"ES256", jwt.Config{ECDSAPublicKey: &k.ec256.PublicKey}, gojwt.SigningMethodES256, k.ec256, true},
		{"ES384", jwt.Config{ECDSAPublicKey: &k.ec384.PublicKey}, gojwt.SigningMethodES384, k.ec384, true},
		{"ES512", jwt.Config{ECDSAPublicKey: &k.ec521.PublicKey}, gojwt.SigningMethodES512, k.ec521, true},
		{"ES256 wrong key", jwt.Config{ECDSAPublicKey: &k.ec256.PublicKey}, gojwt.SigningMethodES256, mustEC(t), false},
		{"ES384 with P-256 key configured", jwt.Config{ECDSAPublicKey: &k.ec256.PublicKey}, gojwt.SigningMethodES384, k.ec384, false},
		{"ES256 without ECDSA key", jwt.Config{HMACSecretKey: secret}, gojwt.SigningMethodES256, k.ec256, false},
		{"EdDSA without JWKS", allKeysConfig(k), gojwt.SigningMethodEdDSA, k.ed, false},
		{"all keys HS256", allKeysConfig(k), gojwt.SigningMethodHS256, []byte(secret), true},
		{"all keys RS256", allKeysConfig(k), gojwt.SigningMethodRS256, k.rsa, true},
		{"all keys ES256", allKeysConfig(k), gojwt.SigningMethodES256, k.ec256, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.cfg)
			tok := sign(t, tt.method, tt.key, good, "")
			ct, err := v.VerifyConnectToken(context.Background(), tok)
			if tt.ok {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if ct.UserID != "u1" {
					t.Fatalf("UserID = %q", ct.UserID)
				}
				return
			}
			if !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func mustEC(t *testing.T) any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAlgNoneRejected(t *testing.T) {
	k := getKeys(t)
	for _, cfg := range []jwt.Config{allKeysConfig(k), {InsecureSkipSignatureVerify: true}} {
		v := newVerifier(t, cfg)
		for _, alg := range []string{"none", "None", "NONE", ""} {
			tok := raw(`{"alg":"`+alg+`","typ":"JWT"}`, `{"sub":"u1"}`, nil)
			if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("alg %q (skip=%v): err = %v, want ErrInvalidToken", alg, cfg.InsecureSkipSignatureVerify, err)
			}
		}
		tok, err := gojwt.NewWithClaims(gojwt.SigningMethodNone, claims("sub", "u1")).SignedString(gojwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("gojwt none token: err = %v", err)
		}
	}
}

// TestHSRSConfusion signs HS256 tokens with the RSA public key PEM (and DER
// forms) as the HMAC secret: an RSA-only verifier must reject them.
func TestHSRSConfusion(t *testing.T) {
	k := getKeys(t)
	v := newVerifier(t, jwt.Config{RSAPublicKey: &k.rsa.PublicKey})
	secrets := [][]byte{k.rsaPEM, []byte(strings.TrimSpace(string(k.rsaPEM)))}
	for _, m := range []gojwt.SigningMethod{gojwt.SigningMethodHS256, gojwt.SigningMethodHS384, gojwt.SigningMethodHS512} {
		for _, s := range secrets {
			tok := sign(t, m, s, claims("sub", "attacker"), "")
			if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("%s confusion token accepted: %v", m.Alg(), err)
			}
		}
	}
	// Same for an ECDSA-only verifier.
	v = newVerifier(t, jwt.Config{ECDSAPublicKey: &k.ec256.PublicKey})
	tok := sign(t, gojwt.SigningMethodHS256, k.ec256PEM, claims("sub", "attacker"), "")
	if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("ES confusion token accepted: %v", err)
	}
}

func TestAudienceIssuer(t *testing.T) {
	tests := []struct {
		name   string
		cfg    jwt.Config
		claims gojwt.MapClaims
		ok     bool
	}{
		{"no checks", jwt.Config{}, claims("aud", "x", "iss", "y"), true},
		{"aud exact string", jwt.Config{Audience: "herald"}, claims("aud", "herald"), true},
		{"aud exact array", jwt.Config{Audience: "herald"}, claims("aud", []string{"a", "herald"}), true},
		{"aud wrong", jwt.Config{Audience: "herald"}, claims("aud", "other"), false},
		{"aud wrong array", jwt.Config{Audience: "herald"}, claims("aud", []string{"a", "b"}), false},
		{"aud missing", jwt.Config{Audience: "herald"}, claims(), false},
		{"aud not string", jwt.Config{Audience: "herald"}, claims("aud", 5), false},
		{"aud regex", jwt.Config{AudienceRegex: regexp.MustCompile(`^herald-(eu|us)$`)}, claims("aud", "herald-eu"), true},
		{"aud regex array", jwt.Config{AudienceRegex: regexp.MustCompile(`^herald-(eu|us)$`)}, claims("aud", []string{"x", "herald-us"}), true},
		{"aud regex wrong", jwt.Config{AudienceRegex: regexp.MustCompile(`^herald-(eu|us)$`)}, claims("aud", "herald-cn"), false},
		{"iss exact", jwt.Config{Issuer: "auth.example"}, claims("iss", "auth.example"), true},
		{"iss wrong", jwt.Config{Issuer: "auth.example"}, claims("iss", "evil.example"), false},
		{"iss missing", jwt.Config{Issuer: "auth.example"}, claims(), false},
		{"iss regex", jwt.Config{IssuerRegex: regexp.MustCompile(`^https://(a|b)\.example$`)}, claims("iss", "https://b.example"), true},
		{"iss regex wrong", jwt.Config{IssuerRegex: regexp.MustCompile(`^https://(a|b)\.example$`)}, claims("iss", "https://c.example"), false},
		{"both ok", jwt.Config{Issuer: "i", Audience: "a"}, claims("iss", "i", "aud", "a"), true},
		{"both iss wrong", jwt.Config{Issuer: "i", Audience: "a"}, claims("iss", "x", "aud", "a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.HMACSecretKey = secret
			v := newVerifier(t, tt.cfg)
			tok := sign(t, gojwt.SigningMethodHS256, []byte(secret), tt.claims, "")
			_, err := v.VerifyConnectToken(context.Background(), tok)
			if tt.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tt.ok && !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestExpirationAndNotBefore(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	check := func(c gojwt.MapClaims, want error) {
		t.Helper()
		tok := sign(t, gojwt.SigningMethodHS256, []byte(secret), c, "")
		_, err := v.VerifyConnectToken(context.Background(), tok)
		if want == nil && err != nil {
			t.Fatalf("%v: unexpected error %v", c, err)
		}
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("%v: err = %v, want %v", c, err, want)
		}
		if errors.Is(err, jwt.ErrTokenExpired) && errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("error wraps both sentinels: %v", err)
		}
	}
	check(claims("sub", "u", "exp", unixIn(-time.Second)), jwt.ErrTokenExpired)
	check(claims("sub", "u", "exp", unixIn(0)), jwt.ErrTokenExpired)
	check(claims("sub", "u", "exp", unixIn(time.Second)), nil)
	check(claims("sub", "u", "exp", float64(unixIn(time.Minute))+0.5), nil)
	check(claims("sub", "u", "exp", "tomorrow"), jwt.ErrInvalidToken)
	check(claims("sub", "u", "nbf", unixIn(time.Minute)), jwt.ErrInvalidToken)
	check(claims("sub", "u", "nbf", unixIn(0)), nil)
	check(claims("sub", "u", "nbf", unixIn(-time.Minute), "exp", unixIn(time.Minute)), nil)
	check(claims("sub", "u"), nil) // no exp: never expires

	// Expiry is reported for subscription tokens too.
	tok := sign(t, gojwt.SigningMethodHS256, []byte(secret), claims("sub", "u", "channel", "c", "exp", unixIn(-time.Hour)), "")
	if _, err := v.VerifySubscribeToken(context.Background(), tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("subscribe: err = %v", err)
	}
}

func TestBadSignature(t *testing.T) {
	k := getKeys(t)
	v := newVerifier(t, allKeysConfig(k))
	for _, tok := range []string{
		sign(t, gojwt.SigningMethodHS256, []byte(secret), claims("sub", "u1"), ""),
		sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u1"), ""),
		sign(t, gojwt.SigningMethodES256, k.ec256, claims("sub", "u1"), ""),
	} {
		parts := strings.Split(tok, ".")
		// Tamper with the payload, keeping the signature.
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
		if _, err := v.VerifyConnectToken(context.Background(), forged); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("tampered payload accepted: %v", err)
		}
		// Flip a signature bit.
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[len(sig)/2] ^= 1
		flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		if _, err := v.VerifyConnectToken(context.Background(), flipped); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("flipped signature accepted: %v", err)
		}
		// Drop the signature.
		if _, err := v.VerifyConnectToken(context.Background(), parts[0]+"."+parts[1]+"."); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("empty signature accepted: %v", err)
		}
	}
}

func TestMalformedTokens(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	hsSig := func(h, p string) string {
		enc := base64.RawURLEncoding
		signed := enc.EncodeToString([]byte(h)) + "." + enc.EncodeToString([]byte(p))
		m := hmac.New(crypto.SHA256.New, []byte(secret))
		m.Write([]byte(signed))
		return signed + "." + enc.EncodeToString(m.Sum(nil))
	}
	good := sign(t, gojwt.SigningMethodHS256, []byte(secret), claims("sub", "u"), "")
	parts := strings.Split(good, ".")
	tests := map[string]string{
		"empty":              "",
		"garbage":            "not a token at all",
		"one segment":        parts[0],
		"two segments":       parts[0] + "." + parts[1],
		"four segments":      good + ".x",
		"bad base64 header":  "!!!." + parts[1] + "." + parts[2],
		"bad base64 payload": parts[0] + ".%%%." + parts[2],
		"bad base64 sig":     parts[0] + "." + parts[1] + ".***",
		"padded base64":      parts[0] + "=." + parts[1] + "." + parts[2],
		"header not json":    hsSig(`alg=HS256`, `{"sub":"u"}`),
		"header array":       hsSig(`["HS256"]`, `{"sub":"u"}`),
		"alg not string":     hsSig(`{"alg":256}`, `{"sub":"u"}`),
		"unknown alg":        hsSig(`{"alg":"HS1024"}`, `{"sub":"u"}`),
		"claims not json":    hsSig(`{"alg":"HS256"}`, `sub=u`),
		"claims array":       hsSig(`{"alg":"HS256"}`, `["u"]`),
		"claims null":        hsSig(`{"alg":"HS256"}`, `null`),
		"claims string":      hsSig(`{"alg":"HS256"}`, `"u"`),
		"sub not string":     hsSig(`{"alg":"HS256"}`, `{"sub":5}`),
		"channels not array": hsSig(`{"alg":"HS256"}`, `{"sub":"u","channels":"a"}`),
		"meta not object":    hsSig(`{"alg":"HS256"}`, `{"sub":"u","meta":[1]}`),
		"bad b64info":        hsSig(`{"alg":"HS256"}`, `{"sub":"u","b64info":"***"}`),
		"huge token":         strings.Repeat("a", jwt.MaxTokenLength) + "." + parts[1] + "." + parts[2],
		"huge but valid b64": hsSig(`{"alg":"HS256"}`, `{"sub":"`+strings.Repeat("u", jwt.MaxTokenLength)+`"}`),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.VerifyConnectToken(context.Background(), tok)
			if !errors.Is(err, jwt.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	// The hand-made signer is right: a well-formed token passes.
	if _, err := v.VerifyConnectToken(context.Background(), hsSig(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"u"}`)); err != nil {
		t.Fatalf("control token: %v", err)
	}
}

func TestHMACRotation(t *testing.T) {
	clock := newClock()
	cfg := jwt.Config{
		HMACSecretKey:                   "new",
		HMACPreviousSecretKey:           "old",
		HMACPreviousSecretKeyValidUntil: baseTime.Add(time.Hour),
		Now:                             clock.Now,
	}
	v := newVerifier(t, cfg)
	c := claims("sub", "u")
	for _, alg := range []gojwt.SigningMethod{gojwt.SigningMethodHS256, gojwt.SigningMethodHS512} {
		if _, err := v.VerifyConnectToken(context.Background(), sign(t, alg, []byte("new"), c, "")); err != nil {
			t.Fatalf("current key: %v", err)
		}
		if _, err := v.VerifyConnectToken(context.Background(), sign(t, alg, []byte("old"), c, "")); err != nil {
			t.Fatalf("previous key before valid-until: %v", err)
		}
		if _, err := v.VerifyConnectToken(context.Background(), sign(t, alg, []byte("other"), c, "")); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("unknown key: %v", err)
		}
	}
	clock.Advance(time.Hour)
	if _, err := v.VerifyConnectToken(context.Background(), sign(t, gojwt.SigningMethodHS256, []byte("old"), c, "")); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("previous key at valid-until: %v", err)
	}
	if _, err := v.VerifyConnectToken(context.Background(), sign(t, gojwt.SigningMethodHS256, []byte("new"), c, "")); err != nil {
		t.Fatalf("current key after valid-until: %v", err)
	}

	// Zero valid-until means no limit.
	cfg.HMACPreviousSecretKeyValidUntil = time.Time{}
	v = newVerifier(t, cfg)
	clock.Advance(1000 * time.Hour)
	if _, err := v.VerifyConnectToken(context.Background(), sign(t, gojwt.SigningMethodHS256, []byte("old"), c, "")); err != nil {
		t.Fatalf("previous key without limit: %v", err)
	}
}

func TestInsecureSkipSignatureVerify(t *testing.T) {
	v := newVerifier(t, jwt.Config{InsecureSkipSignatureVerify: true, Issuer: "i"})
	tok := sign(t, gojwt.SigningMethodHS256, []byte("whatever"), claims("sub", "u", "iss", "i"), "")
	ct, err := v.VerifyConnectToken(context.Background(), tok)
	if err != nil || ct.UserID != "u" {
		t.Fatalf("got %+v, %v", ct, err)
	}
	// Claims are still validated.
	tok = sign(t, gojwt.SigningMethodHS256, []byte("whatever"), claims("sub", "u", "iss", "x"), "")
	if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
	tok = sign(t, gojwt.SigningMethodHS256, []byte("whatever"), claims("sub", "u", "iss", "i", "exp", unixIn(-time.Second)), "")
	if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("err = %v", err)
	}
}

func TestZeroConfigRejectsEverything(t *testing.T) {
	v := newVerifier(t, jwt.Config{})
	tok := sign(t, gojwt.SigningMethodHS256, []byte(""), claims("sub", "u"), "")
	if _, err := v.VerifyConnectToken(context.Background(), tok); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorKeepsReason(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret, Issuer: "good"})
	tok := sign(t, gojwt.SigningMethodHS256, []byte(secret), claims("iss", "bad-issuer"), "")
	_, err := v.VerifyConnectToken(context.Background(), tok)
	if err == nil || !strings.Contains(err.Error(), "bad-issuer") {
		t.Fatalf("err = %v, want the reason in the text", err)
	}
}

// TestHMACConcurrent verifies good and bad HMAC tokens of every size from
// many goroutines at once: the keyed hashes are pooled and reused, so a
// state leaking from one verification into another would accept a bad
// signature or reject a good one (and -race would see a shared hash).
func TestHMACConcurrent(t *testing.T) {
	const secret = "concurrent-secret"
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	methods := []gojwt.SigningMethod{gojwt.SigningMethodHS256, gojwt.SigningMethodHS384, gojwt.SigningMethodHS512}
	var good, bad []string
	for i, m := range methods {
		good = append(good, sign(t, m, []byte(secret), claims("sub", fmt.Sprint("u", i)), ""))
		bad = append(bad, sign(t, m, []byte(secret+"x"), claims("sub", fmt.Sprint("u", i)), ""))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(methods)
				if _, err := v.VerifyConnectToken(context.Background(), good[k]); err != nil {
					errs <- fmt.Errorf("good %s token rejected: %w", methods[k].Alg(), err)
					return
				}
				if _, err := v.VerifyConnectToken(context.Background(), bad[k]); !errors.Is(err, jwt.ErrInvalidToken) {
					errs <- fmt.Errorf("bad %s token: err = %v", methods[k].Alg(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
