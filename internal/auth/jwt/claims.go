package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// ConnectToken holds the verified claims of a connection token.
type ConnectToken struct {
	// UserID is the sub claim, or the claim named by Config.UserIDClaim.
	// Empty means an anonymous user.
	UserID string
	// ExpireAt is the connection expiration in Unix seconds: the expire_at
	// claim when present, otherwise exp. Zero means no expiration.
	ExpireAt int64
	// ExpiresAt is the exp claim in Unix seconds; zero when absent.
	ExpiresAt int64
	// NotBefore is the nbf claim in Unix seconds; zero when absent.
	NotBefore int64
	// IssuedAt is the iat claim in Unix seconds; zero when absent.
	IssuedAt int64
	// ID is the jti claim.
	ID string
	// Issuer is the iss claim.
	Issuer string
	// Audience holds the aud claim, given as a string or an array.
	Audience []string
	// Info is the connection info: the raw JSON of the info claim, or the
	// decoded bytes of b64info, which takes precedence. Nil when absent.
	Info []byte
	// Channels lists server-side subscriptions from the channels claim.
	Channels []string
	// Subs lists server-side subscriptions with options from the subs claim;
	// it takes precedence over Channels for the same channel.
	Subs map[string]SubOptions
	// Meta is the raw JSON object of the meta claim; nil when absent.
	Meta json.RawMessage
}

// SubscribeToken holds the verified claims of a subscription token.
type SubscribeToken struct {
	// UserID is the sub claim, or the claim named by Config.UserIDClaim.
	UserID string
	// Channel is the channel claim; it is never empty.
	Channel string
	// Client, when non-empty, is the only client id allowed to use the token.
	Client string
	// ExpireAt is the subscription expiration in Unix seconds: the
	// expire_at claim when present, otherwise exp. Zero means no expiration.
	ExpireAt int64
	// ExpiresAt is the exp claim in Unix seconds; zero when absent.
	ExpiresAt int64
	// NotBefore is the nbf claim in Unix seconds; zero when absent.
	NotBefore int64
	// IssuedAt is the iat claim in Unix seconds; zero when absent.
	IssuedAt int64
	// ID is the jti claim.
	ID string
	// Issuer is the iss claim.
	Issuer string
	// Audience holds the aud claim, given as a string or an array.
	Audience []string
	// Info is the channel info: raw JSON of info, or decoded b64info (which
	// takes precedence). Nil when absent.
	Info []byte
	// Data is returned to the client in the subscribe result: raw JSON of
	// data, or decoded b64data (which takes precedence). Nil when absent.
	Data []byte
	// Override overrides namespace options; nil when absent.
	Override *Override
}

// SubOptions are the options of one server-side subscription in the subs
// claim of a connection token.
type SubOptions struct {
	// Info is the channel info: raw JSON of info, or decoded b64info (which
	// takes precedence). Nil when absent.
	Info []byte
	// Data is sent in the subscribe push: raw JSON of data, or decoded
	// b64data (which takes precedence). Nil when absent.
	Data []byte
	// Override overrides namespace options; nil when absent.
	Override *Override
}

// Override overrides namespace options for one subscription. A nil field
// keeps the namespace value. On the wire each field is an object
// {"value": bool}.
type Override struct {
	Presence           *bool
	JoinLeave          *bool
	ForcePushJoinLeave *bool
	ForceRecovery      *bool
	ForcePositioning   *bool
}

// numericDate is a JSON number of seconds; fractions are truncated.
type numericDate int64

// UnmarshalJSON accepts integer and fractional JSON numbers.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	s := string(b)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = numericDate(i)
		return nil
	}
	if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return errors.New("numeric date must be a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return errors.New("numeric date out of range")
	}
	*d = numericDate(f)
	return nil
}

// audience is the aud claim: a string or an array of strings.
type audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = ss
	return nil
}

// boolValue is an override value, {"value": bool}.
type boolValue struct {
	Value bool `json:"value"`
}

type rawOverride struct {
	Presence           *boolValue `json:"presence"`
	JoinLeave          *boolValue `json:"join_leave"`
	ForcePushJoinLeave *boolValue `json:"force_push_join_leave"`
	ForceRecovery      *boolValue `json:"force_recovery"`
	ForcePositioning   *boolValue `json:"force_positioning"`
}

func (o *rawOverride) toOverride() *Override {
	if o == nil {
		return nil
	}
	get := func(v *boolValue) *bool {
		if v == nil {
			return nil
		}
		b := v.Value
		return &b
	}
	return &Override{
		Presence:           get(o.Presence),
		JoinLeave:          get(o.JoinLeave),
		ForcePushJoinLeave: get(o.ForcePushJoinLeave),
		ForceRecovery:      get(o.ForceRecovery),
		ForcePositioning:   get(o.ForcePositioning),
	}
}

type rawSubOptions struct {
	Info     json.RawMessage `json:"info"`
	B64Info  string          `json:"b64info"`
	Data     json.RawMessage `json:"data"`
	B64Data  string          `json:"b64data"`
	Override *rawOverride    `json:"override"`
}

// rawClaims is the union of connection and subscription token claims.
type rawClaims struct {
	Sub      json.RawMessage          `json:"sub"`
	Exp      *numericDate             `json:"exp"`
	Nbf      *numericDate             `json:"nbf"`
	Iat      *numericDate             `json:"iat"`
	Jti      string                   `json:"jti"`
	Aud      audience                 `json:"aud"`
	Iss      string                   `json:"iss"`
	Info     json.RawMessage          `json:"info"`
	B64Info  string                   `json:"b64info"`
	Channels []string                 `json:"channels"`
	Subs     map[string]rawSubOptions `json:"subs"`
	Meta     json.RawMessage          `json:"meta"`
	ExpireAt *numericDate             `json:"expire_at"`
	Channel  string                   `json:"channel"`
	Client   string                   `json:"client"`
	Data     json.RawMessage          `json:"data"`
	B64Data  string                   `json:"b64data"`
	Override *rawOverride             `json:"override"`
}

// issAud is the part of the claims needed before the signature is checked
// to resolve a dynamic JWKS endpoint.
type issAud struct {
	Aud audience `json:"aud"`
	Iss string   `json:"iss"`
}

func dateOf(d *numericDate) int64 {
	if d == nil {
		return 0
	}
	return int64(*d)
}

// expireAt implements the expire_at-over-exp rule.
func (c *rawClaims) expireAt() int64 {
	if c.ExpireAt != nil {
		return int64(*c.ExpireAt)
	}
	return dateOf(c.Exp)
}

// payloadOrB64 returns the decoded b64 when non-empty, else raw (nil when
// raw is absent or JSON null).
func payloadOrB64(raw json.RawMessage, b64, name string) ([]byte, error) {
	if b64 != "" {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, invalid("bad base64 in "+name, err)
		}
		return b, nil
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return []byte(raw), nil
}

// userID extracts the user id from payload at the dotted path claim. A
// top-level member whose name contains dots wins over the nested path. The
// value must be a string or a number; absence yields "".
func userID(payload []byte, claim string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil {
		return "", invalid("malformed claims", err)
	}
	raw, ok := obj[claim]
	if !ok {
		parts := strings.Split(claim, ".")
		cur := obj
		for i, p := range parts {
			v, found := cur[p]
			if !found {
				return "", nil
			}
			if i == len(parts)-1 {
				raw = v
				break
			}
			cur = nil
			if err := json.Unmarshal(v, &cur); err != nil || cur == nil {
				return "", nil
			}
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid("malformed user id claim", err)
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", invalid("user id claim "+claim+" must be a string or a number", nil)
	}
	return n.String(), nil
}
