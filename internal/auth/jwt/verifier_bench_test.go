package jwt_test

import (
	"context"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

func benchClaims() gojwt.MapClaims {
	return claims(
		"sub", "user-12345",
		"exp", unixIn(time.Hour),
		"iat", unixIn(0),
		"info", map[string]any{"name": "Alice", "avatar": "https://example.com/a.png"},
		"channels", []string{"news", "chat:lobby"},
	)
}

func BenchmarkVerifyConnectTokenHS256(b *testing.B) {
	v := newVerifier(b, jwt.Config{HMACSecretKey: secret})
	tok := sign(b, gojwt.SigningMethodHS256, []byte(secret), benchClaims(), "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyConnectTokenRS256(b *testing.B) {
	k := getKeys(b)
	v := newVerifier(b, jwt.Config{RSAPublicKey: &k.rsa.PublicKey})
	tok := sign(b, gojwt.SigningMethodRS256, k.rsa, benchClaims(), "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
