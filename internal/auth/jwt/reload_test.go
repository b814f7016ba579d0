package jwt_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

func TestReload(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: "a"})
	tokA := sign(t, gojwt.SigningMethodHS256, []byte("a"), claims("sub", "u"), "")
	tokB := sign(t, gojwt.SigningMethodHS256, []byte("b"), claims("sub", "u"), "")
	if _, err := v.VerifyConnectToken(context.Background(), tokA); err != nil {
		t.Fatal(err)
	}
	if err := v.Reload(jwt.Config{HMACSecretKey: "b", Now: fixedNow}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyConnectToken(context.Background(), tokA); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("old key after reload: %v", err)
	}
	if _, err := v.VerifyConnectToken(context.Background(), tokB); err != nil {
		t.Fatalf("new key after reload: %v", err)
	}
	// A failed reload keeps the previous configuration.
	if err := v.Reload(jwt.Config{Issuer: "x", IssuerRegex: mustRe("y")}, nil); err == nil {
		t.Fatal("invalid reload accepted")
	}
	if _, err := v.VerifyConnectToken(context.Background(), tokB); err != nil {
		t.Fatalf("after failed reload: %v", err)
	}
}

// TestReloadConcurrent verifies tokens while the key alternates; run with
// -race. Every verification must see one whole configuration: a token is
// accepted iff it is signed with one of the two keys.
func TestReloadConcurrent(t *testing.T) {
	cfgA := jwt.Config{HMACSecretKey: "a", Now: fixedNow}
	cfgB := jwt.Config{HMACSecretKey: "b", Now: fixedNow}
	v := newVerifier(t, cfgA)
	tokA := sign(t, gojwt.SigningMethodHS256, []byte("a"), claims("sub", "u", "channel", "c"), "")
	tokB := sign(t, gojwt.SigningMethodHS256, []byte("b"), claims("sub", "u", "channel", "c"), "")
	tokC := sign(t, gojwt.SigningMethodHS256, []byte("c"), claims("sub", "u", "channel", "c"), "")

	var stop atomic.Bool
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// At least one round each, however soon the reloads end.
			for first := true; first || !stop.Load(); first = false {
				okA := subErr(v, tokA) == nil
				okB := subErr(v, tokB) == nil
				if okA || okB {
					accepted.Add(1)
				}
				if subErr(v, tokC) == nil {
					t.Error("token with unknown key accepted")
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		cfg := cfgA
		if i%2 == 1 {
			cfg = cfgB
		}
		if err := v.Reload(cfg, &cfg); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if accepted.Load() == 0 {
		t.Fatal("no verification succeeded")
	}
}

func subErr(v *jwt.Verifier, tok string) error {
	_, err := v.VerifySubscribeToken(context.Background(), tok)
	return err
}
