package jwt_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/config"
)

func TestConfigFromTokenKeyForms(t *testing.T) {
	k := getKeys(t)
	dir := t.TempDir()
	rsaFile := filepath.Join(dir, "rsa.pem")
	ecFile := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(rsaFile, k.rsaPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ecFile, k.ec256PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	forms := map[string][2]string{
		"raw PEM":    {string(k.rsaPEM), string(k.ec256PEM)},
		"base64 PEM": {base64.StdEncoding.EncodeToString(k.rsaPEM), base64.StdEncoding.EncodeToString(k.ec256PEM)},
		"file path":  {rsaFile, ecFile},
	}
	for name, f := range forms {
		t.Run(name, func(t *testing.T) {
			c, err := jwt.ConfigFromToken(config.Token{RSAPublicKey: f[0], ECDSAPublicKey: f[1]}, false)
			if err != nil {
				t.Fatal(err)
			}
			if c.RSAPublicKey == nil || !c.RSAPublicKey.Equal(&k.rsa.PublicKey) {
				t.Fatal("RSA key not parsed")
			}
			if c.ECDSAPublicKey == nil || !c.ECDSAPublicKey.Equal(&k.ec256.PublicKey) {
				t.Fatal("ECDSA key not parsed")
			}
			c.Now = fixedNow
			v, err := jwt.New(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{
				sign(t, gojwt.SigningMethodRS256, k.rsa, claims("sub", "u"), ""),
				sign(t, gojwt.SigningMethodES256, k.ec256, claims("sub", "u"), ""),
			} {
				if _, err := v.VerifyConnectToken(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestConfigFromTokenFields(t *testing.T) {
	c, err := jwt.ConfigFromToken(config.Token{
		HMACSecretKey:                   "a",
		HMACPreviousSecretKey:           "b",
		HMACPreviousSecretKeyValidUntil: 1_800_000_000,
		Audience:                        "aud",
		IssuerRegex:                     `^iss-(x|y)$`,
		UserIDClaim:                     "user.id",
		JWKSPublicEndpoint:              "https://jwks.example/keys",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.HMACSecretKey != "a" || c.HMACPreviousSecretKey != "b" || !c.HMACPreviousSecretKeyValidUntil.Equal(time.Unix(1_800_000_000, 0)) ||
		c.Audience != "aud" || c.IssuerRegex == nil || c.IssuerRegex.String() != `^iss-(x|y)$` || c.UserIDClaim != "user.id" ||
		c.JWKSPublicEndpoint != "https://jwks.example/keys" || !c.InsecureSkipSignatureVerify {
		t.Fatalf("c = %+v", c)
	}
	c, err = jwt.ConfigFromToken(config.Token{HMACSecretKey: "a"}, false)
	if err != nil || !c.HMACPreviousSecretKeyValidUntil.IsZero() || c.InsecureSkipSignatureVerify {
		t.Fatalf("c = %+v, %v", c, err)
	}
}

func TestConfigFromTokenErrors(t *testing.T) {
	k := getKeys(t)
	notPEMFile := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(notPEMFile, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
	tests := []struct {
		name string
		tok  config.Token
		want string // substring of the error
	}{
		{"bad RSA PEM", config.Token{RSAPublicKey: bad}, "rsa_public_key"},
		{"bad RSA base64 PEM", config.Token{RSAPublicKey: base64.StdEncoding.EncodeToString([]byte(bad))}, "rsa_public_key"},
		{"missing RSA file", config.Token{RSAPublicKey: "/nonexistent/key.pem"}, "rsa_public_key"},
		{"RSA file without PEM", config.Token{RSAPublicKey: notPEMFile}, "rsa_public_key"},
		{"EC PEM given as RSA", config.Token{RSAPublicKey: string(k.ec256PEM)}, "rsa_public_key"},
		{"bad ECDSA PEM", config.Token{ECDSAPublicKey: bad}, "ecdsa_public_key"},
		{"RSA PEM given as ECDSA", config.Token{ECDSAPublicKey: string(k.rsaPEM)}, "ecdsa_public_key"},
		{"issuer pair", config.Token{Issuer: "a", IssuerRegex: "b"}, "issuer"},
		{"audience pair", config.Token{Audience: "a", AudienceRegex: "b"}, "audience"},
		{"bad issuer regex", config.Token{IssuerRegex: "("}, "issuer_regex"},
		{"bad audience regex", config.Token{AudienceRegex: "("}, "audience_regex"},
		{"previous without current", config.Token{HMACPreviousSecretKey: "x"}, "hmac_previous_secret_key"},
		{"negative valid until", config.Token{HMACSecretKey: "x", HMACPreviousSecretKeyValidUntil: -1}, "valid_until"},
		{"jwks not a URL", config.Token{JWKSPublicEndpoint: "jwks.json"}, "jwks_public_endpoint"},
		{"jwks ftp", config.Token{JWKSPublicEndpoint: "ftp://x/jwks"}, "jwks_public_endpoint"},
		{"jwks unknown placeholder", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^(?P<other>a|b)$`}, "tenant"},
		{"jwks placeholder without regex", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks"}, "tenant"},
		{"jwks unsafe group", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^https://(?P<tenant>[a-z]+)\.example$`}, "tenant"},
		{"jwks unsafe wildcard alt", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^(?P<tenant>a|.+)$`}, "tenant"},
		{"jwks unsafe nested", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", AudienceRegex: `^(?P<tenant>(a|b)c)$`}, "tenant"},
		{"jwks unsafe empty alt", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", AudienceRegex: `^(?P<tenant>a|)$`}, "tenant"},
		{"jwks unsafe slash", config.Token{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", AudienceRegex: `^(?P<tenant>a|b/c)$`}, "tenant"},
		{"jwks malformed placeholder", config.Token{JWKSPublicEndpoint: "https://x/{{ten-ant}}/jwks"}, "jwks_public_endpoint"},
		{"jwks unsafe even with skip verify needs group", config.Token{JWKSPublicEndpoint: "https://x/{{t}}/jwks", InsecureSkipJWKSEndpointSafetyCheck: true}, "{{t}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwt.ConfigFromToken(tt.tok, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestConfigFromTokenJWKSSafety(t *testing.T) {
	ok := []config.Token{
		{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^https://(?P<tenant>acme|globex)\.example$`},
		{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^(?<tenant>one)$`},
		{JWKSPublicEndpoint: "https://{{region}}.x/{{tenant}}/jwks", IssuerRegex: `^(?P<tenant>a_b|c-d|e\.f)$`, AudienceRegex: `^(?P<region>eu|us)$`},
		{JWKSPublicEndpoint: "https://x/{{tenant}}/jwks", IssuerRegex: `^(?P<tenant>[a-z]+)$`, InsecureSkipJWKSEndpointSafetyCheck: true},
		{JWKSPublicEndpoint: "https://x/static/jwks"},
	}
	for i, tok := range ok {
		c, err := jwt.ConfigFromToken(tok, false)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if _, err := jwt.New(c, nil); err != nil {
			t.Fatalf("%d: New: %v", i, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	bad := []jwt.Config{
		{Issuer: "a", IssuerRegex: mustRe(`b`)},
		{Audience: "a", AudienceRegex: mustRe(`b`)},
		{HMACPreviousSecretKey: "x"},
		{JWKSPublicEndpoint: "https://x/{{t}}"},
	}
	for i, c := range bad {
		if _, err := jwt.New(c, nil); err == nil {
			t.Fatalf("%d: New accepted an invalid config", i)
		}
		if _, err := jwt.New(jwt.Config{}, &c); err == nil {
			t.Fatalf("%d: New accepted an invalid sub config", i)
		}
	}
}
