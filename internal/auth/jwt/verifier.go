package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/jsonscan"
)

// MaxTokenLength is the length in bytes above which a token is rejected
// without being decoded.
const MaxTokenLength = 1 << 20

// methods maps every supported JWS alg to its implementation. "none" is
// deliberately absent.
var methods = map[string]gojwt.SigningMethod{
	"HS256": gojwt.SigningMethodHS256,
	"HS384": gojwt.SigningMethodHS384,
	"HS512": gojwt.SigningMethodHS512,
	"RS256": gojwt.SigningMethodRS256,
	"RS384": gojwt.SigningMethodRS384,
	"RS512": gojwt.SigningMethodRS512,
	"PS256": gojwt.SigningMethodPS256,
	"PS384": gojwt.SigningMethodPS384,
	"PS512": gojwt.SigningMethodPS512,
	"ES256": gojwt.SigningMethodES256,
	"ES384": gojwt.SigningMethodES384,
	"ES512": gojwt.SigningMethodES512,
	"EdDSA": gojwt.SigningMethodEdDSA,
}

// Verifier verifies connection and subscription tokens. It is safe for
// concurrent use, including concurrently with Reload.
type Verifier struct {
	state atomic.Pointer[verifierState]
}

// verifierState is an immutable pair of compiled configurations.
type verifierState struct {
	conn *keySet
	sub  *keySet
}

// keySet is a compiled Config.
type keySet struct {
	cfg      Config
	now      func() time.Time
	hmacCur  *hmacKey
	hmacPrev *hmacKey
	jwks     *jwksCache // nil unless cfg.JWKSPublicEndpoint is set
	dynamic  bool       // the endpoint has placeholders
}

// New returns a Verifier for connection tokens using conn and for
// subscription tokens using sub; a nil sub means subscription tokens are
// verified with conn. It fails when a Config breaks an invariant documented
// on its fields.
func New(conn Config, sub *Config) (*Verifier, error) {
	v := &Verifier{}
	if err := v.Reload(conn, sub); err != nil {
		return nil, err
	}
	return v, nil
}

// Reload replaces the configuration of v atomically, e.g. on SIGHUP. On
// error v keeps its previous configuration. Verifications already running
// finish with the configuration they started with. The JWKS cache starts
// empty after a reload.
func (v *Verifier) Reload(conn Config, sub *Config) error {
	cs, err := compile(conn)
	if err != nil {
		return err
	}
	st := &verifierState{conn: cs, sub: cs}
	if sub != nil {
		ss, err := compile(*sub)
		if err != nil {
			return fmt.Errorf("subscription token: %w", err)
		}
		st.sub = ss
	}
	v.state.Store(st)
	return nil
}

func compile(c Config) (*keySet, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ks := &keySet{cfg: c, now: c.Now}
	if ks.now == nil {
		ks.now = time.Now
	}
	if c.HMACSecretKey != "" {
		ks.hmacCur = newHMACKey([]byte(c.HMACSecretKey))
	}
	if c.HMACPreviousSecretKey != "" {
		ks.hmacPrev = newHMACKey([]byte(c.HMACPreviousSecretKey))
	}
	if c.JWKSPublicEndpoint != "" {
		client := c.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultJWKSTimeout}
		}
		ks.jwks = newJWKSCache(client, ks.now)
		ks.dynamic = placeholderRe.MatchString(c.JWKSPublicEndpoint)
	}
	return ks, nil
}

// VerifyConnectToken verifies a connection token and returns its claims.
// ctx bounds a JWKS fetch, if one is needed. The error wraps ErrTokenExpired,
// ErrInvalidToken or ErrJWKSUnavailable. A token with a channel claim is a
// subscription token and is rejected with ErrInvalidToken.
func (v *Verifier) VerifyConnectToken(ctx context.Context, token string) (ConnectToken, error) {
	ks := v.state.Load().conn
	c, payload, err := ks.verify(ctx, token)
	if err != nil {
		return ConnectToken{}, err
	}
	if c.Channel != "" {
		return ConnectToken{}, invalid("connection token must not have a channel claim", nil)
	}
	uid, err := ks.userID(c, payload)
	if err != nil {
		return ConnectToken{}, err
	}
	ct := ConnectToken{
		UserID:    uid,
		ExpireAt:  c.expireAt(),
		ExpiresAt: dateOf(c.Exp),
		NotBefore: dateOf(c.Nbf),
		IssuedAt:  dateOf(c.Iat),
		ID:        c.Jti,
		Issuer:    c.Iss,
		Audience:  []string(c.Aud),
		Channels:  c.Channels,
	}
	if ct.Info, err = payloadOrB64(c.Info, c.B64Info, "b64info"); err != nil {
		return ConnectToken{}, err
	}
	if len(c.Meta) > 0 && string(c.Meta) != "null" {
		if c.Meta[0] != '{' {
			return ConnectToken{}, invalid("meta must be a JSON object", nil)
		}
		ct.Meta = c.Meta
	}
	if len(c.Subs) > 0 {
		ct.Subs = make(map[string]SubOptions, len(c.Subs))
		for ch, rs := range c.Subs {
			var so SubOptions
			if so.Info, err = payloadOrB64(rs.Info, rs.B64Info, "subs."+ch+".b64info"); err != nil {
				return ConnectToken{}, err
			}
			if so.Data, err = payloadOrB64(rs.Data, rs.B64Data, "subs."+ch+".b64data"); err != nil {
				return ConnectToken{}, err
			}
			so.Override = rs.Override.toOverride()
			ct.Subs[ch] = so
		}
	}
	return ct, nil
}

// VerifySubscribeToken verifies a subscription token and returns its
// claims. ctx bounds a JWKS fetch, if one is needed. The error wraps
// ErrTokenExpired, ErrInvalidToken or ErrJWKSUnavailable. A token without a
// channel claim is rejected with ErrInvalidToken.
func (v *Verifier) VerifySubscribeToken(ctx context.Context, token string) (SubscribeToken, error) {
	ks := v.state.Load().sub
	c, payload, err := ks.verify(ctx, token)
	if err != nil {
		return SubscribeToken{}, err
	}
	if c.Channel == "" {
		return SubscribeToken{}, invalid("subscription token must have a channel claim", nil)
	}
	uid, err := ks.userID(c, payload)
	if err != nil {
		return SubscribeToken{}, err
	}
	st := SubscribeToken{
		UserID:    uid,
		Channel:   c.Channel,
		Client:    c.Client,
		ExpireAt:  c.expireAt(),
		ExpiresAt: dateOf(c.Exp),
		NotBefore: dateOf(c.Nbf),
		IssuedAt:  dateOf(c.Iat),
		ID:        c.Jti,
		Issuer:    c.Iss,
		Audience:  []string(c.Aud),
		Override:  c.Override.toOverride(),
	}
	if st.Info, err = payloadOrB64(c.Info, c.B64Info, "b64info"); err != nil {
		return SubscribeToken{}, err
	}
	if st.Data, err = payloadOrB64(c.Data, c.B64Data, "b64data"); err != nil {
		return SubscribeToken{}, err
	}
	return st, nil
}

func (ks *keySet) userID(c *rawClaims, payload []byte) (string, error) {
	if ks.cfg.UserIDClaim == "" || ks.cfg.UserIDClaim == "sub" {
		if len(c.Sub) == 0 || string(c.Sub) == "null" {
			return "", nil
		}
		if s, ok := jsonscan.PlainString(c.Sub); ok {
			return s, nil
		}
		var s string
		if err := json.Unmarshal(c.Sub, &s); err != nil {
			return "", invalid("sub must be a string", err)
		}
		return s, nil
	}
	return userID(payload, ks.cfg.UserIDClaim)
}

// header is the part of the JOSE header this package reads.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// verify checks the token's signature and registered claims and returns its
// decoded claims and raw payload.
func (ks *keySet) verify(ctx context.Context, token string) (*rawClaims, []byte, error) {
	if len(token) > MaxTokenLength {
		return nil, nil, invalid(fmt.Sprintf("token longer than %d bytes", MaxTokenLength), nil)
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, nil, invalid("token must have three segments", nil)
	}
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	if err != nil {
		return nil, nil, invalid("malformed header encoding", err)
	}
	var h header
	if err := decodeHeader(hb, &h); err != nil {
		return nil, nil, invalid("malformed header", err)
	}
	method, ok := methods[h.Alg]
	if !ok {
		return nil, nil, invalid(fmt.Sprintf("unsupported alg %q", h.Alg), nil)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return nil, nil, invalid("malformed payload encoding", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil {
		return nil, nil, invalid("malformed signature encoding", err)
	}
	if !ks.cfg.InsecureSkipSignatureVerify {
		if err := ks.verifySignature(ctx, method, h, token[:len(h64)+1+len(p64)], sig, payload); err != nil {
			return nil, nil, err
		}
	}
	c := &rawClaims{}
	if err := decodeClaims(payload, c); err != nil {
		return nil, nil, invalid("malformed claims", err)
	}
	if err := ks.validate(c); err != nil {
		return nil, nil, err
	}
	return c, payload, nil
}

// verifySignature checks sig over signed with the key that the
// configuration designates for h.
func (ks *keySet) verifySignature(ctx context.Context, method gojwt.SigningMethod, h header, signed string, sig, payload []byte) error {
	alg := h.Alg
	if ks.jwks != nil {
		if h.Kid == "" {
			return invalid("token has no kid header but a JWKS endpoint is configured", nil)
		}
		endpoint, err := ks.endpoint(payload)
		if err != nil {
			return err
		}
		k, err := ks.jwks.key(ctx, endpoint, h.Kid)
		if err != nil {
			return err
		}
		if !k.compatible(alg) {
			return invalid(fmt.Sprintf("alg %s does not match JWKS key %q", alg, h.Kid), nil)
		}
		if err := method.Verify(signed, sig, k.key); err != nil {
			return invalid("bad signature", err)
		}
		return nil
	}
	switch alg[:2] {
	case "HS":
		if ks.hmacCur == nil {
			return invalid("no HMAC key configured for "+alg, nil)
		}
		ok := ks.hmacCur.verify(alg, signed, sig)
		if !ok && ks.hmacPrev != nil {
			until := ks.cfg.HMACPreviousSecretKeyValidUntil
			if until.IsZero() || ks.now().Before(until) {
				ok = ks.hmacPrev.verify(alg, signed, sig)
			}
		}
		if !ok {
			return invalid("bad signature", gojwt.ErrSignatureInvalid)
		}
		return nil
	case "RS", "PS":
		if ks.cfg.RSAPublicKey == nil {
			return invalid("no RSA key configured for "+alg, nil)
		}
		if err := method.Verify(signed, sig, ks.cfg.RSAPublicKey); err != nil {
			return invalid("bad signature", err)
		}
		return nil
	case "ES":
		if ks.cfg.ECDSAPublicKey == nil {
			return invalid("no ECDSA key configured for "+alg, nil)
		}
		if ecdsaAlg(ks.cfg.ECDSAPublicKey) != alg {
			return invalid("ECDSA key curve does not match "+alg, nil)
		}
		if err := method.Verify(signed, sig, ks.cfg.ECDSAPublicKey); err != nil {
			return invalid("bad signature", err)
		}
		return nil
	}
	return invalid("no key configured for "+alg+" (EdDSA needs a JWKS endpoint)", nil)
}

// endpoint returns the JWKS URL for a token with the given payload, filling
// placeholders from the named groups of the issuer and audience regexps.
func (ks *keySet) endpoint(payload []byte) (string, error) {
	tmpl := ks.cfg.JWKSPublicEndpoint
	if !ks.dynamic {
		return tmpl, nil
	}
	var ia issAud
	if err := decodeObject(payload, &ia); err != nil {
		return "", invalid("malformed claims", err)
	}
	groups := map[string]string{}
	if re := ks.cfg.IssuerRegex; re != nil {
		if m := re.FindStringSubmatch(ia.Iss); m != nil {
			for i, name := range re.SubexpNames() {
				if name != "" && m[i] != "" {
					groups[name] = m[i]
				}
			}
		}
	}
	if re := ks.cfg.AudienceRegex; re != nil {
		for _, aud := range ia.Aud {
			if m := re.FindStringSubmatch(aud); m != nil {
				for i, name := range re.SubexpNames() {
					if _, ok := groups[name]; !ok && name != "" && m[i] != "" {
						groups[name] = m[i]
					}
				}
				break
			}
		}
	}
	var missing string
	u := placeholderRe.ReplaceAllStringFunc(tmpl, func(p string) string {
		name := p[2 : len(p)-2]
		val, ok := groups[name]
		if !ok {
			missing = name
		}
		return url.PathEscape(val)
	})
	if missing != "" {
		return "", invalid("cannot resolve JWKS endpoint placeholder {{"+missing+"}} from iss/aud", nil)
	}
	return u, nil
}

// validate checks exp, nbf, aud and iss.
func (ks *keySet) validate(c *rawClaims) error {
	now := ks.now().Unix()
	if c.Exp != nil && now >= int64(*c.Exp) {
		return fmt.Errorf("%w: exp %d is not after now %d", ErrTokenExpired, int64(*c.Exp), now)
	}
	if c.Nbf != nil && now < int64(*c.Nbf) {
		return invalid(fmt.Sprintf("nbf %d is in the future (now %d)", int64(*c.Nbf), now), nil)
	}
	cfg := &ks.cfg
	if cfg.Audience != "" || cfg.AudienceRegex != nil {
		ok := false
		for _, a := range c.Aud {
			if (cfg.Audience != "" && a == cfg.Audience) || (cfg.AudienceRegex != nil && cfg.AudienceRegex.MatchString(a)) {
				ok = true
				break
			}
		}
		if !ok {
			return invalid(fmt.Sprintf("aud %q not accepted", []string(c.Aud)), nil)
		}
	}
	if cfg.Issuer != "" && c.Iss != cfg.Issuer {
		return invalid(fmt.Sprintf("iss %q not accepted", c.Iss), nil)
	}
	if cfg.IssuerRegex != nil && !cfg.IssuerRegex.MatchString(c.Iss) {
		return invalid(fmt.Sprintf("iss %q not accepted", c.Iss), nil)
	}
	return nil
}
