package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/config"
)

// DefaultJWKSTimeout bounds one JWKS fetch when Config.HTTPClient is nil.
const DefaultJWKSTimeout = time.Second

// Config is the parsed form of config.Token: keys are decoded and regular
// expressions compiled. Build one with ConfigFromToken, or by hand in tests.
// The zero value accepts no token (no algorithm has a key).
type Config struct {
	// HMACSecretKey enables HS256, HS384 and HS512. Empty disables HMAC.
	HMACSecretKey string
	// HMACPreviousSecretKey is tried when a HS* signature does not verify
	// with HMACSecretKey, to allow key rotation. Empty disables it.
	HMACPreviousSecretKey string
	// HMACPreviousSecretKeyValidUntil ends the acceptance of
	// HMACPreviousSecretKey. The zero value means no limit.
	HMACPreviousSecretKeyValidUntil time.Time
	// RSAPublicKey enables RS256/384/512 and PS256/384/512. Nil disables them.
	RSAPublicKey *rsa.PublicKey
	// ECDSAPublicKey enables the ES* algorithm matching its curve (ES256 for
	// P-256, ES384 for P-384, ES512 for P-521). Nil disables ECDSA.
	ECDSAPublicKey *ecdsa.PublicKey
	// JWKSPublicEndpoint is the URL of a JWKS document. When set, only keys
	// from that document are used and the static keys above are ignored. It
	// may contain {{name}} placeholders, filled from the named groups of
	// IssuerRegex (matched against iss) or AudienceRegex (matched against
	// aud). Empty disables JWKS.
	JWKSPublicEndpoint string
	// Audience, when non-empty, must be one of the token's aud values.
	Audience string
	// AudienceRegex, when non-nil, must match one of the token's aud values.
	// It is mutually exclusive with Audience.
	AudienceRegex *regexp.Regexp
	// Issuer, when non-empty, must equal the token's iss.
	Issuer string
	// IssuerRegex, when non-nil, must match the token's iss. It is mutually
	// exclusive with Issuer.
	IssuerRegex *regexp.Regexp
	// UserIDClaim names the claim holding the user id. A dotted path
	// ("user.id") selects a member of nested objects. Empty means "sub".
	UserIDClaim string
	// InsecureSkipSignatureVerify accepts tokens without verifying their
	// signature. For testing only; claims are still validated.
	InsecureSkipSignatureVerify bool
	// HTTPClient fetches JWKS documents. Nil means a client with a
	// DefaultJWKSTimeout timeout.
	HTTPClient *http.Client
	// Now returns the current time for exp/nbf checks, HMAC rotation and the
	// JWKS cache. Nil means time.Now.
	Now func() time.Time
}

// placeholderRe matches one {{name}} placeholder of a JWKS endpoint template.
var placeholderRe = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}`)

// ConfigFromToken parses t into a Config.
//
// RSAPublicKey and ECDSAPublicKey may each be a PEM block, the standard
// base64 encoding of a PEM block, or the path of a file holding a PEM block.
// Issuer and IssuerRegex, and Audience and AudienceRegex, are mutually
// exclusive. Every {{name}} placeholder of JWKSPublicEndpoint must be a named
// group of IssuerRegex or AudienceRegex, and unless
// t.InsecureSkipJWKSEndpointSafetyCheck that group must be an explicit
// alternation of literals such as (?P<tenant>acme|globex), so that a token
// cannot steer the server to an arbitrary URL.
//
// insecureSkipVerify sets Config.InsecureSkipSignatureVerify. The returned
// error names the offending option.
func ConfigFromToken(t config.Token, insecureSkipVerify bool) (Config, error) {
	c := Config{
		HMACSecretKey:               t.HMACSecretKey,
		HMACPreviousSecretKey:       t.HMACPreviousSecretKey,
		JWKSPublicEndpoint:          t.JWKSPublicEndpoint,
		Audience:                    t.Audience,
		Issuer:                      t.Issuer,
		UserIDClaim:                 t.UserIDClaim,
		InsecureSkipSignatureVerify: insecureSkipVerify,
	}
	if t.HMACPreviousSecretKeyValidUntil > 0 {
		c.HMACPreviousSecretKeyValidUntil = time.Unix(t.HMACPreviousSecretKeyValidUntil, 0)
	} else if t.HMACPreviousSecretKeyValidUntil < 0 {
		return Config{}, errors.New("hmac_previous_secret_key_valid_until: must not be negative")
	}
	if t.RSAPublicKey != "" {
		pemBytes, err := loadPEM(t.RSAPublicKey)
		if err != nil {
			return Config{}, fmt.Errorf("rsa_public_key: %w", err)
		}
		key, err := gojwt.ParseRSAPublicKeyFromPEM(pemBytes)
		if err != nil {
			return Config{}, fmt.Errorf("rsa_public_key: invalid RSA public key PEM: %w", err)
		}
		c.RSAPublicKey = key
	}
	if t.ECDSAPublicKey != "" {
		pemBytes, err := loadPEM(t.ECDSAPublicKey)
		if err != nil {
			return Config{}, fmt.Errorf("ecdsa_public_key: %w", err)
		}
		key, err := gojwt.ParseECPublicKeyFromPEM(pemBytes)
		if err != nil {
			return Config{}, fmt.Errorf("ecdsa_public_key: invalid ECDSA public key PEM: %w", err)
		}
		c.ECDSAPublicKey = key
	}
	if t.AudienceRegex != "" {
		re, err := regexp.Compile(t.AudienceRegex)
		if err != nil {
			return Config{}, fmt.Errorf("audience_regex: %w", err)
		}
		c.AudienceRegex = re
	}
	if t.IssuerRegex != "" {
		re, err := regexp.Compile(t.IssuerRegex)
		if err != nil {
			return Config{}, fmt.Errorf("issuer_regex: %w", err)
		}
		c.IssuerRegex = re
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	if !t.InsecureSkipJWKSEndpointSafetyCheck {
		for _, m := range placeholderRe.FindAllStringSubmatch(t.JWKSPublicEndpoint, -1) {
			name := m[1]
			if !groupIsLiteralAlternation(t.IssuerRegex, name) && !groupIsLiteralAlternation(t.AudienceRegex, name) {
				return Config{}, fmt.Errorf("jwks_public_endpoint: placeholder {{%s}} must be a named group of issuer_regex or audience_regex written as an explicit alternation of literals, e.g. (?P<%s>a|b) (or set insecure_skip_jwks_endpoint_safety_check)", name, name)
			}
		}
	}
	return c, nil
}

// validate checks the invariants that New relies on.
func (c *Config) validate() error {
	if c.Issuer != "" && c.IssuerRegex != nil {
		return errors.New("issuer and issuer_regex are mutually exclusive")
	}
	if c.Audience != "" && c.AudienceRegex != nil {
		return errors.New("audience and audience_regex are mutually exclusive")
	}
	if c.HMACPreviousSecretKey != "" && c.HMACSecretKey == "" {
		return errors.New("hmac_previous_secret_key requires hmac_secret_key")
	}
	if c.ECDSAPublicKey != nil && ecdsaAlg(c.ECDSAPublicKey) == "" {
		return errors.New("ecdsa_public_key: unsupported curve (want P-256, P-384 or P-521)")
	}
	if c.JWKSPublicEndpoint != "" {
		probe := placeholderRe.ReplaceAllString(c.JWKSPublicEndpoint, "x")
		if strings.Contains(probe, "{{") || strings.Contains(probe, "}}") {
			return errors.New("jwks_public_endpoint: malformed {{placeholder}}")
		}
		u, err := url.Parse(probe)
		if err != nil {
			return fmt.Errorf("jwks_public_endpoint: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("jwks_public_endpoint: must be an absolute http or https URL")
		}
		for _, m := range placeholderRe.FindAllStringSubmatch(c.JWKSPublicEndpoint, -1) {
			if !hasGroup(c.IssuerRegex, m[1]) && !hasGroup(c.AudienceRegex, m[1]) {
				return fmt.Errorf("jwks_public_endpoint: placeholder {{%s}} is not a named group of issuer_regex or audience_regex", m[1])
			}
		}
	}
	return nil
}

// hasGroup reports whether re has a capture group called name.
func hasGroup(re *regexp.Regexp, name string) bool {
	return re != nil && re.SubexpIndex(name) >= 0
}

// ecdsaAlg returns the JWS algorithm matching the curve of k, or "".
func ecdsaAlg(k *ecdsa.PublicKey) string {
	switch k.Curve {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// loadPEM returns the PEM bytes designated by v: v itself when it holds a
// PEM block, its base64 decoding when that holds one, otherwise the contents
// of the file named v.
func loadPEM(v string) ([]byte, error) {
	const marker = "-----BEGIN"
	if strings.Contains(v, marker) {
		return []byte(v), nil
	}
	compact := strings.Join(strings.Fields(v), "")
	if b, err := base64.StdEncoding.DecodeString(compact); err == nil && strings.Contains(string(b), marker) {
		return b, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("neither a PEM block, base64 of a PEM block, nor a readable file: %w", err)
	}
	if !strings.Contains(string(b), marker) {
		return nil, fmt.Errorf("file %q holds no PEM block", v)
	}
	return b, nil
}

// groupIsLiteralAlternation reports whether the regular expression source
// expr has a group named name whose body is an alternation of one or more
// non-empty literals made of URL-safe characters (letters, digits, '_', '-',
// '~' and escaped '.'), such as (?P<tenant>acme|globex\.eu).
func groupIsLiteralAlternation(expr, name string) bool {
	if expr == "" {
		return false
	}
	var body string
	found := false
	for _, open := range []string{"(?P<" + name + ">", "(?<" + name + ">"} {
		i := strings.Index(expr, open)
		if i < 0 {
			continue
		}
		rest := expr[i+len(open):]
		end := -1
		for j := 0; j < len(rest); j++ {
			if rest[j] == '\\' {
				j++
				continue
			}
			if rest[j] == ')' {
				end = j
				break
			}
		}
		if end < 0 {
			return false
		}
		body, found = rest[:end], true
		break
	}
	if !found {
		return false
	}
	for _, alt := range strings.Split(body, "|") {
		if alt == "" {
			return false
		}
		for j := 0; j < len(alt); j++ {
			ch := alt[j]
			switch {
			case ch == '\\':
				if j+1 >= len(alt) || (alt[j+1] != '.' && alt[j+1] != '-') {
					return false
				}
				j++
			case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
				ch == '_', ch == '-', ch == '~':
			default:
				return false
			}
		}
	}
	return true
}
