package config

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"
)

// Marshal encodes c as a config file in format "json", "yaml" (or "yml") or
// "toml", with the Centrifugo v6 key names and durations written as strings
// such as "25s". Loading the output yields c again.
func Marshal(c Config, format string) ([]byte, error) {
	return marshalTree(toTree(reflect.ValueOf(c)), format)
}

// MarshalChanged is like Marshal but writes only the keys whose values differ
// from Defaults, which makes a minimal config (used by genconfig).
func MarshalChanged(c Config, format string) ([]byte, error) {
	tree, _ := toTree(reflect.ValueOf(c)).(map[string]any)
	base, _ := toTree(reflect.ValueOf(Defaults())).(map[string]any)
	diff := diffTree(tree, base)
	if diff == nil {
		diff = map[string]any{}
	}
	return marshalTree(diff, format)
}

func marshalTree(tree any, format string) ([]byte, error) {
	switch strings.ToLower(strings.TrimPrefix(format, ".")) {
	case "json":
		out, err := json.MarshalIndent(tree, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(out, '\n'), nil
	case "yaml", "yml":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(tree); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case "toml":
		return toml.Marshal(tree)
	default:
		return nil, fmt.Errorf("unsupported config format %q (want json, yaml or toml)", format)
	}
}

// toTree converts a config value to generic maps, lists and scalars keyed by
// the `key` tags. Nil lists and maps become empty ones so every key appears.
func toTree(v reflect.Value) any {
	t := v.Type()
	switch {
	case t == durationType:
		return formatDuration(time.Duration(v.Int()))
	case t.Kind() == reflect.Struct:
		m := map[string]any{}
		for _, f := range fieldsOf(t) {
			m[f.key] = toTree(v.FieldByIndex(f.index))
		}
		return m
	case t.Kind() == reflect.Slice:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = toTree(v.Index(i))
		}
		return out
	case t.Kind() == reflect.Map:
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[fmt.Sprint(iter.Key().Interface())] = toTree(iter.Value())
		}
		return m
	case t.Kind() == reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return v.Elem().Interface()
	default:
		return v.Interface()
	}
}

// diffTree returns the parts of tree that differ from base (nil if none).
// Lists and leaves are compared whole.
func diffTree(tree, base map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range tree {
		bv := base[k]
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := bv.(map[string]any); ok {
				if d := diffTree(vm, bm); d != nil {
					out[k] = d
				}
				continue
			}
		}
		if !reflect.DeepEqual(v, bv) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// formatDuration writes d in the largest whole unit ("720h", "25s", "500ms"),
// falling back to time.Duration.String. It round-trips through Load.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < 0:
		if d == -1 {
			return "-1"
		}
		return d.String()
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	default:
		return d.String()
	}
}

// Generate returns Defaults with fresh random secrets, for genconfig:
// client.token.hmac_secret_key, http_api.key, admin.password and
// admin.secret. Admin stays disabled. Write it with MarshalChanged for a
// minimal file.
func Generate() Config {
	c := Defaults()
	c.Client.Token.HMACSecretKey = randomSecret()
	c.HTTPAPI.Key = randomSecret()
	c.Admin.Password = randomSecret()
	c.Admin.Secret = randomSecret()
	return c
}

// randomSecret returns 256 bits of randomness as text. crypto/rand.Text
// never fails.
func randomSecret() string { return rand.Text() + rand.Text() }
