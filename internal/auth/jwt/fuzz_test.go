package jwt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

// fuzzSecret is the HMAC key of FuzzVerifyConnectToken; the seed corpus in
// testdata/fuzz/FuzzVerifyConnectToken holds tokens signed with it.
const fuzzSecret = "fuzz-secret"

// FuzzVerifyConnectToken checks that arbitrary input never panics and that
// every error wraps one of the package sentinels.
func FuzzVerifyConnectToken(f *testing.F) {
	f.Add("")
	f.Add("a.b.c")
	f.Add(raw(`{"alg":"none"}`, `{"sub":"u"}`, nil))
	v, err := jwt.New(jwt.Config{HMACSecretKey: fuzzSecret, UserIDClaim: "user.id", Now: fixedNow}, nil)
	if err != nil {
		f.Fatal(err)
	}
	skip, err := jwt.New(jwt.Config{InsecureSkipSignatureVerify: true, Now: fixedNow}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, ver := range []*jwt.Verifier{v, skip} {
			if _, err := ver.VerifyConnectToken(context.Background(), tok); err != nil &&
				!errors.Is(err, jwt.ErrInvalidToken) && !errors.Is(err, jwt.ErrTokenExpired) {
				t.Fatalf("connect: error without sentinel: %v", err)
			}
			if _, err := ver.VerifySubscribeToken(context.Background(), tok); err != nil &&
				!errors.Is(err, jwt.ErrInvalidToken) && !errors.Is(err, jwt.ErrTokenExpired) {
				t.Fatalf("subscribe: error without sentinel: %v", err)
			}
		}
	})
}
