package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KeyError is a problem with the value of one configuration key. Load and
// Validate return KeyErrors (possibly joined with errors.Join).
type KeyError struct {
	// Key is the dotted configuration key, e.g. "client.ping_interval" or
	// "channel.namespaces[chat].history_ttl".
	Key string
	// Reason says what is wrong, e.g. `invalid duration "abc"`.
	Reason string
}

// Error returns "<key>: <reason>".
func (e *KeyError) Error() string { return e.Key + ": " + e.Reason }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

var durationType = reflect.TypeFor[time.Duration]()

// structField is a field of a config struct with its key, after squashing
// embedded structs.
type structField struct {
	key   string
	index []int
	typ   reflect.Type
}

// fieldsOf lists the keyed fields of struct type t, flattening `key:",squash"`
// fields. Fields without a key tag are skipped.
func fieldsOf(t reflect.Type) []structField {
	var out []structField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("key")
		if !ok || !f.IsExported() {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		if opt == "squash" && f.Type.Kind() == reflect.Struct {
			for _, sf := range fieldsOf(f.Type) {
				sf.index = append([]int{i}, sf.index...)
				out = append(out, sf)
			}
			continue
		}
		if name == "" {
			continue
		}
		out = append(out, structField{key: name, index: []int{i}, typ: f.Type})
	}
	return out
}

// lookupField finds the field for key in t: exact match first, then
// case-insensitive.
func lookupField(fields []structField, key string) (structField, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.key, key) {
			return f, true
		}
	}
	return structField{}, false
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// isStruct reports whether t is a config section (a struct that is walked
// field by field) rather than a leaf value.
func isStruct(t reflect.Type) bool { return t.Kind() == reflect.Struct }

// decoder overlays generic values (from JSON, YAML, TOML or JSON in env
// values) onto config structs.
type decoder struct {
	unknown []string
	errs    []error
}

// decode overlays raw onto v. Structs are merged key by key, everything else
// (including slices and maps) is replaced. A nil raw leaves v unchanged.
func (d *decoder) decode(v reflect.Value, raw any, key string) {
	if raw == nil {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		dur, err := durationFrom(raw)
		if err != nil {
			d.errs = append(d.errs, keyErr(key, "%s", err.Error()))
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.errs = append(d.errs, keyErr(key, "expected an object, got %s", describe(raw)))
			return
		}
		fields := fieldsOf(t)
		for _, k := range sortedKeys(m) {
			f, ok := lookupField(fields, k)
			if !ok {
				d.unknown = append(d.unknown, joinKey(key, k))
				continue
			}
			d.decode(v.FieldByIndex(f.index), m[k], joinKey(key, f.key))
		}
	case t.Kind() == reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			if s, isStr := raw.(string); isStr && t.Elem().Kind() == reflect.String {
				// A single string where a list is expected is a one-item list.
				items = []any{s}
			} else {
				d.errs = append(d.errs, keyErr(key, "expected a list, got %s", describe(raw)))
				return
			}
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			d.decode(out.Index(i), item, fmt.Sprintf("%s[%d]", key, i))
		}
		v.Set(out)
	case t.Kind() == reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			d.errs = append(d.errs, keyErr(key, "expected an object, got %s", describe(raw)))
			return
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for _, k := range sortedKeys(m) {
			ev := reflect.New(t.Elem()).Elem()
			d.decode(ev, m[k], joinKey(key, k))
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		v.Set(out)
	case t.Kind() == reflect.Interface:
		v.Set(reflect.ValueOf(raw))
	default:
		if err := setScalar(v, raw); err != nil {
			d.errs = append(d.errs, keyErr(key, "%s", err.Error()))
		}
	}
}

// setScalar sets a string, bool, integer or float value from a generic value,
// accepting the weak conversions Centrifugo configs rely on (numbers written
// as strings and the like).
func setScalar(v reflect.Value, raw any) error {
	switch v.Kind() {
	case reflect.String:
		switch x := raw.(type) {
		case string:
			v.SetString(x)
		case bool:
			v.SetString(strconv.FormatBool(x))
		case int64:
			v.SetString(strconv.FormatInt(x, 10))
		case float64:
			v.SetString(strconv.FormatFloat(x, 'f', -1, 64))
		default:
			return fmt.Errorf("expected a string, got %s", describe(raw))
		}
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			v.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("invalid boolean %q", x)
			}
			v.SetBool(b)
		case int64:
			v.SetBool(x != 0)
		default:
			return fmt.Errorf("expected a boolean, got %s", describe(raw))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := intFrom(raw)
		if err != nil {
			return err
		}
		if v.OverflowInt(n) {
			return fmt.Errorf("integer %d out of range", n)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := intFrom(raw)
		if err != nil {
			return err
		}
		if n < 0 || v.OverflowUint(uint64(n)) {
			return fmt.Errorf("integer %d out of range", n)
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch x := raw.(type) {
		case int64:
			v.SetFloat(float64(x))
		case float64:
			v.SetFloat(x)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return fmt.Errorf("invalid number %q", x)
			}
			v.SetFloat(f)
		default:
			return fmt.Errorf("expected a number, got %s", describe(raw))
		}
	default:
		return fmt.Errorf("unsupported config field type %s", v.Type())
	}
	return nil
}

func intFrom(raw any) (int64, error) {
	switch x := raw.(type) {
	case int64:
		return x, nil
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt64 || x < math.MinInt64 || math.IsNaN(x) {
			return 0, fmt.Errorf("expected an integer, got %v", x)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid integer %q", x)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("expected an integer, got %s", describe(raw))
	}
}

// durationFrom converts a string such as "25s" or "720h", or an integer
// number of nanoseconds, to a duration. The string "-1" is accepted as -1ns,
// the conventional "disabled" value.
func durationFrom(raw any) (time.Duration, error) {
	switch x := raw.(type) {
	case string:
		return parseDuration(x)
	case int64, float64:
		n, err := intFrom(x)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %v", x)
		}
		return time.Duration(n), nil
	default:
		return 0, fmt.Errorf("expected a duration such as \"25s\", got %s", describe(raw))
	}
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// setFromString sets v from an environment variable or flag value: strings
// as is, []string space-separated (or a JSON array), durations, booleans and
// numbers parsed, maps, lists of objects and sections as JSON.
func setFromString(v reflect.Value, s, key string) error {
	t := v.Type()
	switch {
	case t == durationType:
		dur, err := parseDuration(s)
		if err != nil {
			return keyErr(key, "%s", err.Error())
		}
		v.SetInt(int64(dur))
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(s), "["):
		fields := strings.Fields(s)
		out := reflect.MakeSlice(t, len(fields), len(fields))
		for i, f := range fields {
			out.Index(i).SetString(f)
		}
		v.Set(out)
		return nil
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Struct || t.Kind() == reflect.Interface:
		raw, err := parseJSON([]byte(s))
		if err != nil {
			return keyErr(key, "invalid JSON value: %v", err)
		}
		d := &decoder{}
		d.decode(v, raw, key)
		for _, u := range d.unknown {
			d.errs = append(d.errs, keyErr(u, "unknown key"))
		}
		return joinErrs(d.errs)
	default:
		if err := setScalar(v, s); err != nil {
			return keyErr(key, "%s", err.Error())
		}
		return nil
	}
}

// parseJSON decodes JSON into generic values (numbers become int64 when
// integral, float64 otherwise) and rejects trailing data.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return normalize(raw), nil
}

// normalize converts decoder-specific values to the generic set the decoder
// understands: map[string]any, []any, string, bool, int64, float64, nil.
func normalize(raw any) any {
	switch x := raw.(type) {
	case map[string]any:
		for k, v := range x {
			x[k] = normalize(v)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[fmt.Sprint(k)] = normalize(v)
		}
		return m
	case []any:
		for i, v := range x {
			x[i] = normalize(v)
		}
		return x
	case []map[string]any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = normalize(v)
		}
		return out
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return uintToGeneric(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return uintToGeneric(x)
	case float32:
		return float64(x)
	default:
		return raw
	}
}

func uintToGeneric(u uint64) any {
	if u > math.MaxInt64 {
		return float64(u)
	}
	return int64(u)
}

func describe(raw any) string {
	switch raw.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("string %q", raw)
	case bool:
		return fmt.Sprintf("boolean %v", raw)
	case int64, float64:
		return fmt.Sprintf("number %v", raw)
	default:
		return fmt.Sprintf("%T", raw)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// leaf is a settable configuration key: anything that is not a section.
type leaf struct {
	key   string
	index []int
	typ   reflect.Type
}

// leaves lists every leaf key of struct type t under prefix, keyed by the
// dotted key.
func leaves(t reflect.Type, prefix string) []leaf {
	var out []leaf
	for _, f := range fieldsOf(t) {
		k := joinKey(prefix, f.key)
		if isStruct(f.typ) {
			for _, l := range leaves(f.typ, k) {
				l.index = append(append([]int{}, f.index...), l.index...)
				out = append(out, l)
			}
			continue
		}
		out = append(out, leaf{key: k, index: f.index, typ: f.typ})
	}
	return out
}

// envName converts a dotted key to its environment variable suffix:
// "client.token.hmac_secret_key" → "CLIENT_TOKEN_HMAC_SECRET_KEY".
func envName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envToken converts a list item name to its form in per-item environment
// variables: upper case, every character other than A-Z and 0-9 replaced by
// "_".
func envToken(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// KnownKeys returns every leaf configuration key in dotted form, sorted.
// Lists of objects (channel.namespaces, proxies, …) are single keys.
func KnownKeys() []string {
	ls := leaves(reflect.TypeFor[Config](), "")
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.key
	}
	sort.Strings(out)
	return out
}

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
