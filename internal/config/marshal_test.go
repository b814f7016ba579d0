package config_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
)

// roundTrip writes c in format and loads it back.
func roundTrip(t *testing.T, c config.Config, format string, marshal func(config.Config, string) ([]byte, error)) (config.Config, config.Warnings) {
	t.Helper()
	data, err := marshal(c, format)
	if err != nil {
		t.Fatalf("marshal %s: %v", format, err)
	}
	p := writeFile(t, t.TempDir(), "out."+format, string(data))
	got, w, err := config.Load(config.LoadOptions{File: p, Strict: true})
	if err != nil {
		t.Fatalf("load %s: %v\n%s", format, err, data)
	}
	return got, w
}

func TestMarshalRoundTrip(t *testing.T) {
	full, _, err := config.Load(config.LoadOptions{File: filepath.Join("testdata", "centrifugo.json")})
	if err != nil {
		t.Fatal(err)
	}
	full.Client.PingInterval = -1
	full.Client.ExpiredCloseDelay = 1500 * time.Millisecond
	full.Broker.NATS.RawMode.ChannelReplacements = map[string]string{":": "."}
	full.Proxies = []config.NamedProxy{{Name: "backend", Proxy: config.Proxy{Endpoint: "http://b", Timeout: 3 * time.Second, HTTPHeaders: []string{"Cookie"}}}}
	full.SharedPoll = map[string]any{"mode": "versioned"}
	for _, format := range []string{"json", "yaml", "toml"} {
		for name, c := range map[string]config.Config{"defaults": config.Defaults(), "full": full} {
			t.Run(format+"/"+name, func(t *testing.T) {
				got, w := roundTrip(t, c, format, config.Marshal)
				if len(w) != 0 {
					t.Errorf("warnings: %v", w)
				}
				normalizeEmpty(&got)
				normalizeEmpty(&c)
				if !reflect.DeepEqual(got, c) {
					t.Errorf("round trip differs:\n got %+v\nwant %+v", got, c)
				}
			})
		}
	}
	if _, err := config.Marshal(config.Defaults(), "ini"); err == nil {
		t.Error("Marshal ini: no error")
	}
}

// normalizeEmpty maps empty lists and maps to nil: files cannot tell them
// apart.
func normalizeEmpty(c *config.Config) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice:
			if v.Len() == 0 {
				v.Set(reflect.Zero(v.Type()))
			}
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			if v.Len() == 0 {
				v.Set(reflect.Zero(v.Type()))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem())
}

func TestMarshalKeys(t *testing.T) {
	data, err := config.Marshal(config.Defaults(), "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ping_interval": "25s"`, `"history_meta_ttl": "720h"`, `"handler_prefix": "/connection/websocket"`, `"namespaces": []`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, b := config.Generate(), config.Generate()
	for name, pair := range map[string][2]string{
		"client.token.hmac_secret_key": {a.Client.Token.HMACSecretKey, b.Client.Token.HMACSecretKey},
		"http_api.key":                 {a.HTTPAPI.Key, b.HTTPAPI.Key},
		"admin.password":               {a.Admin.Password, b.Admin.Password},
		"admin.secret":                 {a.Admin.Secret, b.Admin.Secret},
	} {
		if len(pair[0]) < 32 || pair[0] == pair[1] {
			t.Errorf("%s not random: %q %q", name, pair[0], pair[1])
		}
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	data, err := config.MarshalChanged(a, "json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, a.Client.Token.HMACSecretKey) || !strings.Contains(s, a.Admin.Secret) || strings.Contains(s, "ping_interval") {
		t.Errorf("minimal config:\n%s", s)
	}
	for _, format := range []string{"json", "yaml", "toml"} {
		got, _ := roundTrip(t, a, format, config.MarshalChanged)
		normalizeEmpty(&got)
		normalizeEmpty(&a)
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s: minimal config does not load back to the generated one", format)
		}
	}
}
