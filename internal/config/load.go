package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"
)

// Environment variable prefixes. A variable with EnvPrefix wins over the same
// variable with EnvAliasPrefix.
const (
	// EnvPrefix is Herald's own environment variable prefix.
	EnvPrefix = "HERALD_"
	// EnvAliasPrefix is accepted for drop-in compatibility with Centrifugo.
	EnvAliasPrefix = "CENTRIFUGO_"
	// DefaultFile is the config file looked for in the working directory
	// when LoadOptions.File is empty.
	DefaultFile = "config.json"
)

// LoadOptions says where Load takes configuration from.
type LoadOptions struct {
	// File is the config file. Its extension selects the format: .json,
	// .yaml/.yml or .toml. Empty means DefaultFile in the working directory.
	// A missing file is a warning, not an error (as in Centrifugo).
	File string
	// Env is the environment in os.Environ form ("KEY=value"). Nil means no
	// environment variables; the CLI passes os.Environ().
	Env []string
	// Flags maps dotted keys to values, e.g. "http_server.port": "9000". The
	// values are parsed like environment variable values. An unknown key is an
	// error.
	Flags map[string]string
	// Strict turns unknown keys in the file and unknown HERALD_/CENTRIFUGO_
	// environment variables into an error.
	Strict bool
}

// Warnings are non-fatal problems found while loading, one per line, each
// naming the key, variable or file concerned.
type Warnings []string

// Load builds the configuration: Defaults, overlaid by the file, then the
// environment, then the flags. It does not call Validate.
//
// File values may be written loosely as Centrifugo accepts them: numbers and
// booleans as strings, a single string for a list of strings, durations as
// strings ("25s", "720h", "-1") or integer nanoseconds. Sections are merged
// key by key; lists and maps replace the default whole. Keys match exactly,
// then case-insensitively.
//
// Environment variables are the prefix plus the upper-cased dotted key with
// "_" for ".", e.g. HERALD_CLIENT_TOKEN_HMAC_SECRET_KEY. Empty values are
// ignored. Lists of strings are space-separated (or a JSON array); maps,
// sections and lists of objects are JSON. Items of named lists
// (channel.namespaces, rpc.namespaces, proxies, consumers) can be overridden
// one option at a time after the whole-list value is applied:
// CENTRIFUGO_CHANNEL_NAMESPACES_<NAME>_<OPTION>, where <NAME> is the item
// name upper-cased with characters other than letters and digits as "_".
//
// On error the returned Config is the zero value. Value errors are
// *KeyError values, joined with errors.Join when there are several.
func Load(opts LoadOptions) (Config, Warnings, error) {
	cfg := Defaults()
	var warnings Warnings
	var unknown []string

	path := opts.File
	if path == "" {
		path = DefaultFile
	}
	raw, err := readFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		warnings = append(warnings, fmt.Sprintf("config file %q not found, continuing with environment and flags", path))
	case err != nil:
		return Config{}, warnings, err
	default:
		d := &decoder{}
		d.decode(reflect.ValueOf(&cfg).Elem(), raw, "")
		if len(d.errs) > 0 {
			return Config{}, warnings, fmt.Errorf("config file %s: %w", path, joinErrs(d.errs))
		}
		for _, k := range d.unknown {
			msg := fmt.Sprintf("unknown config key %q in %s", k, path)
			warnings = append(warnings, msg)
			unknown = append(unknown, msg)
		}
	}

	envUnknown, err := applyEnv(&cfg, opts.Env)
	if err != nil {
		return Config{}, warnings, err
	}
	warnings = append(warnings, envUnknown...)
	unknown = append(unknown, envUnknown...)

	if err := applyFlags(&cfg, opts.Flags); err != nil {
		return Config{}, warnings, err
	}

	if opts.Strict && len(unknown) > 0 {
		return Config{}, warnings, fmt.Errorf("strict mode: %s", strings.Join(unknown, "; "))
	}
	return cfg, warnings, nil
}

// readFile reads and parses a config file into generic values. Errors wrap
// fs.ErrNotExist when the file does not exist.
func readFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := parseFile(data, filepath.Ext(path))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return raw, nil
}

// parseFile parses data in the format selected by ext (".json", ".yaml",
// ".yml", ".toml") into a generic object.
func parseFile(data []byte, ext string) (map[string]any, error) {
	var raw any
	switch strings.ToLower(ext) {
	case ".json":
		if len(bytes.TrimSpace(data)) == 0 {
			return map[string]any{}, nil
		}
		v, err := parseJSON(data)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		raw = v
	case ".yaml", ".yml":
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		raw = normalize(v)
	case ".toml":
		var v map[string]any
		if err := toml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("invalid TOML: %w", err)
		}
		raw = normalize(v)
	default:
		return nil, fmt.Errorf("unsupported config file extension %q (want .json, .yaml, .yml or .toml)", ext)
	}
	switch m := raw.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	default:
		return nil, fmt.Errorf("top level must be an object, got %s", describe(raw))
	}
}

type envValue struct {
	name  string // full variable name, for messages
	value string
}

// applyEnv applies HERALD_* and CENTRIFUGO_* variables to cfg and returns
// warnings for the variables that name no key.
func applyEnv(cfg *Config, env []string) (Warnings, error) {
	vars := map[string]envValue{}
	for _, prefix := range []string{EnvAliasPrefix, EnvPrefix} { // later wins
		for _, kv := range env {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || value == "" || !strings.HasPrefix(name, prefix) {
				continue
			}
			vars[strings.TrimPrefix(name, prefix)] = envValue{name: name, value: value}
		}
	}
	if len(vars) == 0 {
		return nil, nil
	}

	root := reflect.ValueOf(cfg).Elem()
	byEnv := map[string]leaf{}
	var lists []leaf
	for _, l := range leaves(root.Type(), "") {
		if _, ok := byEnv[envName(l.key)]; !ok {
			byEnv[envName(l.key)] = l
		}
		if isNamedList(l.typ) {
			lists = append(lists, l)
		}
	}

	suffixes := make([]string, 0, len(vars))
	for s := range vars {
		suffixes = append(suffixes, s)
	}
	sort.Strings(suffixes)

	var errs []error
	var rest []string
	for _, s := range suffixes {
		l, ok := byEnv[s]
		if !ok {
			rest = append(rest, s)
			continue
		}
		if err := setFromString(root.FieldByIndex(l.index), vars[s].value, l.key); err != nil {
			errs = append(errs, fmt.Errorf("%w (from %s)", err, vars[s].name))
		}
	}

	// Per-item overrides such as CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_PRESENCE
	// apply after whole-list values.
	var warnings Warnings
	for _, s := range rest {
		applied, err := applyItemEnv(root, lists, s, vars[s].value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (from %s)", err, vars[s].name))
			continue
		}
		if !applied {
			warnings = append(warnings, fmt.Sprintf("unknown environment variable %s", vars[s].name))
		}
	}
	return warnings, joinErrs(errs)
}

// isNamedList reports whether t is a list of objects with a "name" key, which
// supports per-item environment overrides.
func isNamedList(t reflect.Type) bool {
	if t.Kind() != reflect.Slice || !isStruct(t.Elem()) {
		return false
	}
	_, ok := lookupField(fieldsOf(t.Elem()), "name")
	return ok
}

// applyItemEnv applies suffix (e.g. CHANNEL_NAMESPACES_CHAT_PRESENCE) to the
// list item it names. The longest matching item name wins, so that items
// "chat" and "chat_x" can be told apart.
func applyItemEnv(root reflect.Value, lists []leaf, suffix, value string) (bool, error) {
	for _, l := range lists {
		listPrefix := envName(l.key) + "_"
		if !strings.HasPrefix(suffix, listPrefix) {
			continue
		}
		itemPart := strings.TrimPrefix(suffix, listPrefix)
		elemType := l.typ.Elem()
		nameField, _ := lookupField(fieldsOf(elemType), "name")
		opts := map[string]leaf{}
		for _, ol := range leaves(elemType, "") {
			opts[envName(ol.key)] = ol
		}
		list := root.FieldByIndex(l.index)
		best, bestLen := -1, -1
		var bestOpt leaf
		for i := range list.Len() {
			tok := envToken(list.Index(i).FieldByIndex(nameField.index).String())
			if tok == "" || !strings.HasPrefix(itemPart, tok+"_") || len(tok) <= bestLen {
				continue
			}
			ol, ok := opts[strings.TrimPrefix(itemPart, tok+"_")]
			if !ok {
				continue
			}
			best, bestLen, bestOpt = i, len(tok), ol
		}
		if best < 0 {
			continue
		}
		item := list.Index(best)
		name := item.FieldByIndex(nameField.index).String()
		key := fmt.Sprintf("%s[%s].%s", l.key, name, bestOpt.key)
		return true, setFromString(item.FieldByIndex(bestOpt.index), value, key)
	}
	return false, nil
}

// applyFlags applies dotted-key flag values to cfg.
func applyFlags(cfg *Config, flags map[string]string) error {
	if len(flags) == 0 {
		return nil
	}
	root := reflect.ValueOf(cfg).Elem()
	byKey := map[string]leaf{}
	for _, l := range leaves(root.Type(), "") {
		byKey[l.key] = l
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		l, ok := byKey[k]
		if !ok {
			errs = append(errs, keyErr(k, "unknown key (from flag)"))
			continue
		}
		if err := setFromString(root.FieldByIndex(l.index), flags[k], k); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}
