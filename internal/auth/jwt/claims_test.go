package jwt_test

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
)

func hs(t *testing.T, c gojwt.MapClaims) string {
	t.Helper()
	return sign(t, gojwt.SigningMethodHS256, []byte(secret), c, "")
}

func boolp(b bool) *bool { return &b }

func TestConnectClaims(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	c := claims(
		"sub", "user-1",
		"exp", unixIn(time.Hour),
		"nbf", unixIn(-time.Minute),
		"iat", unixIn(-time.Minute),
		"jti", "token-1",
		"aud", []string{"a1", "a2"},
		"iss", "issuer",
		"info", map[string]any{"name": "Alice"},
		"channels", []string{"news", "chat:lobby"},
		"meta", map[string]any{"tier": "gold"},
		"subs", map[string]any{
			"chat:1": map[string]any{
				"info": map[string]any{"role": "mod"},
				"data": []int{1, 2},
				"override": map[string]any{
					"presence":              map[string]any{"value": true},
					"join_leave":            map[string]any{"value": false},
					"force_push_join_leave": map[string]any{"value": true},
					"force_recovery":        map[string]any{"value": true},
					"force_positioning":     map[string]any{"value": false},
				},
			},
			"chat:2": map[string]any{
				"b64info": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
				"b64data": base64.StdEncoding.EncodeToString([]byte("bin")),
				"info":    "ignored because b64info wins",
			},
			"chat:3": map[string]any{},
		},
	)
	ct, err := v.VerifyConnectToken(context.Background(), hs(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if ct.UserID != "user-1" || ct.ID != "token-1" || ct.Issuer != "issuer" {
		t.Fatalf("identity claims: %+v", ct)
	}
	if ct.ExpiresAt != unixIn(time.Hour) || ct.ExpireAt != unixIn(time.Hour) {
		t.Fatalf("ExpiresAt=%d ExpireAt=%d", ct.ExpiresAt, ct.ExpireAt)
	}
	if ct.NotBefore != unixIn(-time.Minute) || ct.IssuedAt != unixIn(-time.Minute) {
		t.Fatalf("nbf/iat: %d %d", ct.NotBefore, ct.IssuedAt)
	}
	if !reflect.DeepEqual(ct.Audience, []string{"a1", "a2"}) {
		t.Fatalf("Audience = %v", ct.Audience)
	}
	if string(ct.Info) != `{"name":"Alice"}` {
		t.Fatalf("Info = %s", ct.Info)
	}
	if string(ct.Meta) != `{"tier":"gold"}` {
		t.Fatalf("Meta = %s", ct.Meta)
	}
	if !reflect.DeepEqual(ct.Channels, []string{"news", "chat:lobby"}) {
		t.Fatalf("Channels = %v", ct.Channels)
	}
	if len(ct.Subs) != 3 {
		t.Fatalf("Subs = %v", ct.Subs)
	}
	s1 := ct.Subs["chat:1"]
	if string(s1.Info) != `{"role":"mod"}` || string(s1.Data) != `[1,2]` {
		t.Fatalf("chat:1 = %+v", s1)
	}
	want := &jwt.Override{
		Presence: boolp(true), JoinLeave: boolp(false), ForcePushJoinLeave: boolp(true),
		ForceRecovery: boolp(true), ForcePositioning: boolp(false),
	}
	if !reflect.DeepEqual(s1.Override, want) {
		t.Fatalf("override = %+v", s1.Override)
	}
	s2 := ct.Subs["chat:2"]
	if !reflect.DeepEqual(s2.Info, []byte{0, 1, 2}) || string(s2.Data) != "bin" || s2.Override != nil {
		t.Fatalf("chat:2 = %+v", s2)
	}
	s3 := ct.Subs["chat:3"]
	if s3.Info != nil || s3.Data != nil || s3.Override != nil {
		t.Fatalf("chat:3 = %+v", s3)
	}
}

func TestConnectClaimsPartialOverride(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	ct, err := v.VerifyConnectToken(context.Background(), hs(t, claims("subs", map[string]any{
		"c": map[string]any{"override": map[string]any{"presence": map[string]any{"value": false}}},
	})))
	if err != nil {
		t.Fatal(err)
	}
	o := ct.Subs["c"].Override
	if o == nil || o.Presence == nil || *o.Presence || o.JoinLeave != nil || o.ForceRecovery != nil {
		t.Fatalf("override = %+v", o)
	}
}

func TestB64Info(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	ct, err := v.VerifyConnectToken(context.Background(), hs(t, claims(
		"info", map[string]any{"a": 1},
		"b64info", base64.StdEncoding.EncodeToString([]byte("\x00binary")),
	)))
	if err != nil {
		t.Fatal(err)
	}
	if string(ct.Info) != "\x00binary" {
		t.Fatalf("Info = %q", ct.Info)
	}
	// Absent info stays nil; JSON null counts as absent.
	ct, err = v.VerifyConnectToken(context.Background(), hs(t, claims("info", nil)))
	if err != nil || ct.Info != nil || ct.Meta != nil || ct.Subs != nil || ct.Channels != nil {
		t.Fatalf("got %+v, %v", ct, err)
	}
}

func TestExpireAt(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	exp := unixIn(time.Hour)
	tests := []struct {
		name string
		c    gojwt.MapClaims
		want int64
	}{
		{"neither", claims("sub", "u"), 0},
		{"exp only", claims("sub", "u", "exp", exp), exp},
		{"expire_at overrides exp", claims("sub", "u", "exp", exp, "expire_at", exp+100), exp + 100},
		{"expire_at 0 means never", claims("sub", "u", "exp", exp, "expire_at", 0), 0},
		{"expire_at null is absent", claims("sub", "u", "exp", exp, "expire_at", nil), exp},
		{"expire_at in the past is reported, not rejected", claims("sub", "u", "expire_at", unixIn(-time.Hour)), unixIn(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := v.VerifyConnectToken(context.Background(), hs(t, tt.c))
			if err != nil {
				t.Fatal(err)
			}
			if ct.ExpireAt != tt.want {
				t.Fatalf("connect ExpireAt = %d, want %d", ct.ExpireAt, tt.want)
			}
			tt.c["channel"] = "ch"
			st, err := v.VerifySubscribeToken(context.Background(), hs(t, tt.c))
			if err != nil {
				t.Fatal(err)
			}
			if st.ExpireAt != tt.want {
				t.Fatalf("subscribe ExpireAt = %d, want %d", st.ExpireAt, tt.want)
			}
		})
	}
}

func TestConnectTokenWithChannelRejected(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	_, err := v.VerifyConnectToken(context.Background(), hs(t, claims("sub", "u", "channel", "news")))
	if !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
}

func TestSubscribeClaims(t *testing.T) {
	v := newVerifier(t, jwt.Config{HMACSecretKey: secret})
	st, err := v.VerifySubscribeToken(context.Background(), hs(t, claims(
		"sub", "u",
		"channel", "$private",
		"client", "client-1",
		"info", map[string]any{"x": 1},
		"b64data", base64.StdEncoding.EncodeToString([]byte("payload")),
		"exp", unixIn(time.Minute),
		"iat", unixIn(0),
		"jti", "j",
		"aud", "a",
		"iss", "i",
		"override", map[string]any{"force_recovery": map[string]any{"value": true}},
	)))
	if err != nil {
		t.Fatal(err)
	}
	if st.UserID != "u" || st.Channel != "$private" || st.Client != "client-1" || st.ID != "j" ||
		st.Issuer != "i" || !reflect.DeepEqual(st.Audience, []string{"a"}) || st.IssuedAt != unixIn(0) {
		t.Fatalf("st = %+v", st)
	}
	if string(st.Info) != `{"x":1}` || string(st.Data) != "payload" {
		t.Fatalf("Info=%s Data=%s", st.Info, st.Data)
	}
	if st.ExpireAt != unixIn(time.Minute) || st.ExpiresAt != unixIn(time.Minute) {
		t.Fatalf("ExpireAt=%d", st.ExpireAt)
	}
	if st.Override == nil || st.Override.ForceRecovery == nil || !*st.Override.ForceRecovery || st.Override.Presence != nil {
		t.Fatalf("Override = %+v", st.Override)
	}

	st, err = v.VerifySubscribeToken(context.Background(), hs(t, claims("channel", "c", "data", map[string]any{"k": "v"})))
	if err != nil || string(st.Data) != `{"k":"v"}` || st.Override != nil {
		t.Fatalf("st = %+v, %v", st, err)
	}

	for _, c := range []gojwt.MapClaims{claims("sub", "u"), claims("sub", "u", "channel", "")} {
		if _, err := v.VerifySubscribeToken(context.Background(), hs(t, c)); !errors.Is(err, jwt.ErrInvalidToken) {
			t.Fatalf("missing channel: err = %v", err)
		}
	}
	if _, err := v.VerifySubscribeToken(context.Background(), hs(t, claims("channel", "c", "b64data", "%%"))); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("bad b64data: err = %v", err)
	}
}

func TestSubscriptionConfig(t *testing.T) {
	sub := jwt.Config{HMACSecretKey: "sub-secret", Now: fixedNow}
	v, err := jwt.New(jwt.Config{HMACSecretKey: secret, Now: fixedNow}, &sub)
	if err != nil {
		t.Fatal(err)
	}
	subTok := sign(t, gojwt.SigningMethodHS256, []byte("sub-secret"), claims("channel", "c"), "")
	connSubTok := hs(t, claims("channel", "c"))
	if _, err := v.VerifySubscribeToken(context.Background(), subTok); err != nil {
		t.Fatalf("sub key: %v", err)
	}
	if _, err := v.VerifySubscribeToken(context.Background(), connSubTok); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("conn key for sub token: %v", err)
	}
	if _, err := v.VerifyConnectToken(context.Background(), sign(t, gojwt.SigningMethodHS256, []byte("sub-secret"), claims("sub", "u"), "")); !errors.Is(err, jwt.ErrInvalidToken) {
		t.Fatalf("sub key for conn token: %v", err)
	}
	// Without a sub config, subscription tokens use the connection config.
	v = newVerifier(t, jwt.Config{HMACSecretKey: secret})
	if _, err := v.VerifySubscribeToken(context.Background(), connSubTok); err != nil {
		t.Fatalf("shared config: %v", err)
	}
}

func TestUserIDClaim(t *testing.T) {
	tests := []struct {
		name  string
		claim string
		c     gojwt.MapClaims
		want  string
		ok    bool
	}{
		{"default sub", "", claims("sub", "s"), "s", true},
		{"explicit sub", "sub", claims("sub", "s"), "s", true},
		{"top level", "user_id", claims("sub", "s", "user_id", "u"), "u", true},
		{"number", "uid", claims("uid", 42), "42", true},
		{"nested", "user.id", claims("user", map[string]any{"id": "nested"}), "nested", true},
		{"deep", "a.b.c", claims("a", map[string]any{"b": map[string]any{"c": "deep"}}), "deep", true},
		{"dotted key wins", "user.id", claims("user.id", "flat", "user", map[string]any{"id": "nested"}), "flat", true},
		{"missing", "user.id", claims("sub", "s"), "", true},
		{"path through scalar", "user.id", claims("user", "x"), "", true},
		{"sub ignored when non-string", "uid", claims("sub", 5, "uid", "u"), "u", true},
		{"object value", "user", claims("user", map[string]any{"id": 1}), "", false},
		{"bool value", "admin", claims("admin", true), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, jwt.Config{HMACSecretKey: secret, UserIDClaim: tt.claim})
			ct, err := v.VerifyConnectToken(context.Background(), hs(t, tt.c))
			if !tt.ok {
				if !errors.Is(err, jwt.ErrInvalidToken) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ct.UserID != tt.want {
				t.Fatalf("UserID = %q, want %q", ct.UserID, tt.want)
			}
		})
	}
}
