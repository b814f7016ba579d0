package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
)

func TestDefaults(t *testing.T) {
	c := config.Defaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"http_server.port", c.HTTPServer.Port, 8000},
		{"log.level", c.Log.Level, "info"},
		{"engine.type", c.Engine.Type, "memory"},
		{"client.ping_interval", c.Client.PingInterval, 25 * time.Second},
		{"client.pong_timeout", c.Client.PongTimeout, 8 * time.Second},
		{"client.expired_close_delay", c.Client.ExpiredCloseDelay, 25 * time.Second},
		{"client.expired_sub_close_delay", c.Client.ExpiredSubCloseDelay, 25 * time.Second},
		{"client.stale_close_delay", c.Client.StaleCloseDelay, 10 * time.Second},
		{"client.channel_limit", c.Client.ChannelLimit, 128},
		{"client.queue_max_size", c.Client.QueueMaxSize, 1048576},
		{"client.write_delay", c.Client.WriteDelay, time.Duration(0)},
		{"client.max_messages_in_frame", c.Client.MaxMessagesInFrame, 16},
		{"client.presence_update_interval", c.Client.PresenceUpdateInterval, 27 * time.Second},
		{"client.channel_position_check_delay", c.Client.ChannelPositionCheckDelay, 40 * time.Second},
		{"client.history_max_publication_limit", c.Client.HistoryMaxPublicationLimit, 300},
		{"client.recovery_max_publication_limit", c.Client.RecoveryMaxPublicationLimit, 300},
		{"channel.history_meta_ttl", c.Channel.HistoryMetaTTL, 720 * time.Hour},
		{"channel.max_length", c.Channel.MaxLength, 255},
		{"channel.private_prefix", c.Channel.PrivatePrefix, "$"},
		{"channel.namespace_boundary", c.Channel.NamespaceBoundary, ":"},
		{"channel.user_boundary", c.Channel.UserBoundary, "#"},
		{"channel.user_separator", c.Channel.UserSeparator, ","},
		{"http_api.handler_prefix", c.HTTPAPI.HandlerPrefix, "/api"},
		{"websocket.handler_prefix", c.WebSocket.HandlerPrefix, "/connection/websocket"},
		{"websocket.write_timeout", c.WebSocket.WriteTimeout, time.Second},
		{"websocket.message_size_limit", c.WebSocket.MessageSizeLimit, 65536},
		{"websocket.compression_level", c.WebSocket.CompressionLevel, 1},
		{"health.handler_prefix", c.Health.HandlerPrefix, "/health"},
		{"prometheus.handler_prefix", c.Prometheus.HandlerPrefix, "/metrics"},
		{"shutdown.timeout", c.Shutdown.Timeout, 30 * time.Second},
		{"rpc.namespace_boundary", c.RPC.NamespaceBoundary, ":"},
		{"rpc.ping.method", c.RPC.Ping.Method, "ping"},
		{"grpc_api.port", c.GRPCAPI.Port, 10000},
		{"uni_grpc.port", c.UniGRPC.Port, 11000},
		{"sse.handler_prefix", c.SSE.HandlerPrefix, "/connection/sse"},
		{"http_stream.handler_prefix", c.HTTPStream.HandlerPrefix, "/connection/http_stream"},
		{"http_stream.max_request_body_size", c.HTTPStream.MaxRequestBodySize, 65536},
		{"uni_websocket.handler_prefix", c.UniWebSocket.HandlerPrefix, "/connection/uni_websocket"},
		{"uni_sse.handler_prefix", c.UniSSE.HandlerPrefix, "/connection/uni_sse"},
		{"uni_http_stream.handler_prefix", c.UniHTTPStream.HandlerPrefix, "/connection/uni_http_stream"},
		{"emulation.handler_prefix", c.Emulation.HandlerPrefix, "/emulation"},
		{"webtransport.handler_prefix", c.WebTransport.HandlerPrefix, "/connection/webtransport"},
		{"swagger.handler_prefix", c.Swagger.HandlerPrefix, "/swagger"},
		{"debug.handler_prefix", c.Debug.HandlerPrefix, "/debug/pprof"},
		{"init.handler_prefix", c.Init.HandlerPrefix, "/connection/init"},
		{"node.info_metrics_aggregate_interval", c.Node.InfoMetricsAggregateInterval, 60 * time.Second},
		{"engine.redis.address", c.Engine.Redis.Address, []string{"redis://127.0.0.1:6379"}},
		{"engine.redis.prefix", c.Engine.Redis.Prefix, "centrifugo"},
		{"engine.redis.presence_ttl", c.Engine.Redis.PresenceTTL, 60 * time.Second},
		{"client.proxy.connect.timeout", c.Client.Proxy.Connect.Timeout, time.Second},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
}

// chdir moves the test into a temporary directory so that the implicit
// config.json lookup sees nothing.
func chdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, opts config.LoadOptions) (config.Config, config.Warnings) {
	t.Helper()
	c, w, err := config.Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, w
}

func TestLoadFileFormats(t *testing.T) {
	for _, name := range []string{"centrifugo.json", "centrifugo.yaml", "centrifugo.toml"} {
		t.Run(name, func(t *testing.T) {
			c, w := mustLoad(t, config.LoadOptions{File: filepath.Join("testdata", name)})
			if len(w) != 0 {
				t.Errorf("warnings: %v", w)
			}
			ext := strings.TrimPrefix(filepath.Ext(name), ".")
			if c.Client.Token.HMACSecretKey != "secret-"+ext || c.HTTPAPI.Key != "api-key-"+ext {
				t.Errorf("secrets = %q, %q", c.Client.Token.HMACSecretKey, c.HTTPAPI.Key)
			}
			if c.HTTPServer.Port != 9000 || c.HTTPServer.InternalPort != 9001 || c.Log.Level != "debug" {
				t.Errorf("http_server/log = %+v %+v", c.HTTPServer, c.Log)
			}
			if c.Client.PingInterval != 20*time.Second || c.Client.PongTimeout != 5*time.Second || c.Client.ChannelLimit != 64 {
				t.Errorf("client timings = %v %v %d", c.Client.PingInterval, c.Client.PongTimeout, c.Client.ChannelLimit)
			}
			if want := []string{"http://localhost:3000", "https://*.example.com"}; !reflect.DeepEqual(c.Client.AllowedOrigins, want) {
				t.Errorf("allowed_origins = %v", c.Client.AllowedOrigins)
			}
			if c.Client.StaleCloseDelay != 10*time.Second {
				t.Errorf("untouched default lost: stale_close_delay = %v", c.Client.StaleCloseDelay)
			}
			if !c.Client.SubscribeToUserPersonalChannel.Enabled || c.Client.SubscribeToUserPersonalChannel.PersonalChannelNamespace != "personal" {
				t.Errorf("personal channel = %+v", c.Client.SubscribeToUserPersonalChannel)
			}
			if c.Channel.HistoryMetaTTL != 168*time.Hour || !c.Channel.WithoutNamespace.Presence {
				t.Errorf("channel = %+v", c.Channel)
			}
			if len(c.Channel.Namespaces) != 2 {
				t.Fatalf("namespaces = %+v", c.Channel.Namespaces)
			}
			chat := c.Channel.Namespaces[0]
			if chat.Name != "chat" || chat.HistorySize != 100 || chat.HistoryTTL != 300*time.Second ||
				!chat.ForceRecovery || !chat.JoinLeave || !chat.ForcePushJoinLeave ||
				!reflect.DeepEqual(chat.AllowedDeltaTypes, []string{"fossil"}) || chat.ChannelRegex != "^[a-z0-9_]+$" {
				t.Errorf("chat = %+v", chat)
			}
			if p := c.Channel.Namespaces[1]; p.Name != "personal" || !p.AllowUserLimitedChannels {
				t.Errorf("personal = %+v", p)
			}
			if !c.RPC.Ping.Enabled || c.RPC.Ping.Method != "ping" || len(c.RPC.Namespaces) != 1 || !c.RPC.Namespaces[0].ProxyEnabled {
				t.Errorf("rpc = %+v", c.RPC)
			}
			if !c.Admin.Enabled || !c.Prometheus.Enabled || !c.Prometheus.InstrumentHTTPHandlers || c.Prometheus.HandlerPrefix != "/metrics" || !c.Health.Enabled {
				t.Errorf("admin/prometheus/health = %+v %+v %+v", c.Admin, c.Prometheus, c.Health)
			}
			if !reflect.DeepEqual(c.Engine.Redis.Address, []string{"redis://redis:6379"}) || c.Engine.Redis.PresenceTTL != 30*time.Second || c.Engine.Redis.Prefix != "centrifugo" {
				t.Errorf("engine.redis = %+v", c.Engine.Redis)
			}
			// The sample enables the admin UI and an RPC proxy, which Herald
			// does not have yet: Validate names exactly those.
			want := "admin.enabled: the admin web UI is not supported yet\nrpc.namespaces[backend].proxy_enabled: proxies are not supported yet"
			if err := c.Validate(); err == nil || err.Error() != want {
				t.Errorf("Validate: %v, want %q", err, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	chdir(t)
	c, w := mustLoad(t, config.LoadOptions{})
	if len(w) != 1 || !strings.Contains(w[0], "config.json") {
		t.Errorf("warnings = %v, want one about config.json", w)
	}
	if !reflect.DeepEqual(c, config.Defaults()) {
		t.Error("config without sources differs from Defaults()")
	}
	_, w = mustLoad(t, config.LoadOptions{File: "nope.yaml"})
	if len(w) != 1 || !strings.Contains(w[0], "nope.yaml") {
		t.Errorf("warnings = %v", w)
	}
}

func TestLoadImplicitConfigJSON(t *testing.T) {
	dir := chdir(t)
	writeFile(t, dir, "config.json", `{"http_server":{"port":8123}}`)
	c, w := mustLoad(t, config.LoadOptions{})
	if c.HTTPServer.Port != 8123 || len(w) != 0 {
		t.Errorf("port = %d, warnings = %v", c.HTTPServer.Port, w)
	}
}

func TestLoadEnv(t *testing.T) {
	chdir(t)
	env := []string{
		"CENTRIFUGO_HTTP_SERVER_PORT=9100",
		"CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=from-alias",
		"HERALD_CLIENT_TOKEN_HMAC_SECRET_KEY=from-herald",
		"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=http://a.com  http://b.com",
		"CENTRIFUGO_CLIENT_INSECURE=1",
		"CENTRIFUGO_CLIENT_PING_INTERVAL=40s",
		"CENTRIFUGO_CHANNEL_HISTORY_META_TTL=720h",
		"HERALD_LOG_LEVEL=",         // empty: unset
		"CENTRIFUGO_LOG_LEVEL=warn", // so the alias applies
		"CENTRIFUGO_BROKER_NATS_RAW_MODE_CHANNEL_REPLACEMENTS={\":\":\".\"}",
		"CENTRIFUGO_CHANNEL_NAMESPACES=[{\"name\":\"chat\",\"presence\":true},{\"name\":\"chat_x\"}]",
		"CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_HISTORY_SIZE=10",
		"CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_HISTORY_TTL=60s",
		"HERALD_CHANNEL_NAMESPACES_CHAT_X_JOIN_LEAVE=true",
		"CENTRIFUGO_RPC_NAMESPACES=[{\"name\":\"rpc1\"}]",
		"CENTRIFUGO_RPC_NAMESPACES_RPC1_PROXY_ENABLED=true",
		"PATH=/usr/bin",
		"OTHER_HTTP_SERVER_PORT=1",
	}
	c, w := mustLoad(t, config.LoadOptions{Env: env})
	if len(w) != 1 { // the config.json warning only
		t.Errorf("warnings = %v", w)
	}
	if c.HTTPServer.Port != 9100 {
		t.Errorf("port = %d", c.HTTPServer.Port)
	}
	if c.Client.Token.HMACSecretKey != "from-herald" {
		t.Errorf("HERALD_ should win, got %q", c.Client.Token.HMACSecretKey)
	}
	if !reflect.DeepEqual(c.Client.AllowedOrigins, []string{"http://a.com", "http://b.com"}) {
		t.Errorf("allowed_origins = %q", c.Client.AllowedOrigins)
	}
	if !c.Client.Insecure || c.Client.PingInterval != 40*time.Second || c.Log.Level != "warn" {
		t.Errorf("client.insecure=%v ping=%v log=%q", c.Client.Insecure, c.Client.PingInterval, c.Log.Level)
	}
	if got := c.Broker.NATS.RawMode.ChannelReplacements; !reflect.DeepEqual(got, map[string]string{":": "."}) {
		t.Errorf("channel_replacements = %v", got)
	}
	ns := c.Channel.Namespaces
	if len(ns) != 2 || !ns[0].Presence || ns[0].HistorySize != 10 || ns[0].HistoryTTL != time.Minute || ns[0].JoinLeave || !ns[1].JoinLeave {
		t.Errorf("namespaces = %+v", ns)
	}
	if len(c.RPC.Namespaces) != 1 || !c.RPC.Namespaces[0].ProxyEnabled {
		t.Errorf("rpc.namespaces = %+v", c.RPC.Namespaces)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := chdir(t)
	file := writeFile(t, dir, "c.yaml", "http_server:\n  port: 1001\n  address: file\nlog:\n  level: debug\nclient:\n  channel_limit: 7\n")
	env := []string{"CENTRIFUGO_HTTP_SERVER_PORT=1002", "HERALD_HTTP_SERVER_ADDRESS=env", "CENTRIFUGO_LOG_LEVEL=warn"}
	flags := map[string]string{"http_server.port": "1003", "client.insecure": "true"}
	c, _ := mustLoad(t, config.LoadOptions{File: file, Env: env, Flags: flags})
	if c.HTTPServer.Port != 1003 {
		t.Errorf("flag should win: port = %d", c.HTTPServer.Port)
	}
	if c.HTTPServer.Address != "env" || c.Log.Level != "warn" {
		t.Errorf("env should beat file: address=%q level=%q", c.HTTPServer.Address, c.Log.Level)
	}
	if c.Client.ChannelLimit != 7 || !c.Client.Insecure {
		t.Errorf("file value / flag bool lost: %d %v", c.Client.ChannelLimit, c.Client.Insecure)
	}

	_, _, err := config.Load(config.LoadOptions{File: file, Flags: map[string]string{"http_server.nope": "1"}})
	var ke *config.KeyError
	if !errors.As(err, &ke) || ke.Key != "http_server.nope" {
		t.Errorf("unknown flag: err = %v", err)
	}
	_, _, err = config.Load(config.LoadOptions{File: file, Flags: map[string]string{"http_server.port": "x"}})
	if err == nil || !strings.Contains(err.Error(), "http_server.port") {
		t.Errorf("bad flag value: err = %v", err)
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	dir := chdir(t)
	file := writeFile(t, dir, "c.json", `{"http_server":{"port":8001,"prot":1},"bogus":true,
		"channel":{"namespaces":[{"name":"chat","presense":true}]}}`)
	env := []string{"CENTRIFUGO_NOT_A_KEY=1", "HERALD_CHANNEL_NAMESPACES_NOPE_PRESENCE=true"}
	c, w := mustLoad(t, config.LoadOptions{File: file, Env: env})
	if c.HTTPServer.Port != 8001 {
		t.Errorf("port = %d", c.HTTPServer.Port)
	}
	joined := strings.Join(w, "\n")
	for _, want := range []string{`"http_server.prot"`, `"bogus"`, `"channel.namespaces[0].presense"`, "CENTRIFUGO_NOT_A_KEY", "HERALD_CHANNEL_NAMESPACES_NOPE_PRESENCE"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %s:\n%s", want, joined)
		}
	}
	_, _, err := config.Load(config.LoadOptions{File: file, Env: env, Strict: true})
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), "CENTRIFUGO_NOT_A_KEY") {
		t.Errorf("strict: err = %v", err)
	}
	// Strict with a clean file is fine.
	clean := writeFile(t, dir, "ok.json", `{"http_server":{"port":8001}}`)
	if _, _, err := config.Load(config.LoadOptions{File: clean, Strict: true}); err != nil {
		t.Errorf("strict clean: %v", err)
	}
}

func TestLoadBadValues(t *testing.T) {
	dir := chdir(t)
	cases := []struct {
		name, file, content string
		env                 []string
		want                []string
	}{
		{"duration", "a.json", `{"client":{"ping_interval":"abc"}}`, nil, []string{`client.ping_interval: invalid duration "abc"`}},
		{"duration env", "b.json", `{}`, []string{"HERALD_CLIENT_PING_INTERVAL=abc"}, []string{`client.ping_interval: invalid duration "abc"`, "HERALD_CLIENT_PING_INTERVAL"}},
		{"int type", "c.json", `{"http_server":{"port":"eighty"}}`, nil, []string{"http_server.port", `invalid integer "eighty"`}},
		{"int overflow", "d.json", `{"client":{"channel_limit":1e30}}`, nil, []string{"client.channel_limit"}},
		{"fraction", "e.json", `{"client":{"channel_limit":1.5}}`, nil, []string{"client.channel_limit", "expected an integer"}},
		{"object for scalar", "f.json", `{"log":{"level":{"x":1}}}`, nil, []string{"log.level", "expected a string"}},
		{"scalar for section", "g.json", `{"client":5}`, nil, []string{"client", "expected an object"}},
		{"list type", "h.json", `{"channel":{"namespaces":{"name":"x"}}}`, nil, []string{"channel.namespaces", "expected a list"}},
		{"item field", "i.yaml", "channel:\n  namespaces:\n    - name: chat\n      history_ttl: forever\n", nil, []string{"channel.namespaces[0].history_ttl", `invalid duration "forever"`}},
		{"bool", "j.toml", "[client]\ninsecure = \"maybe\"\n", nil, []string{"client.insecure", `invalid boolean "maybe"`}},
		{"env bool", "k.json", `{}`, []string{"CENTRIFUGO_CLIENT_INSECURE=maybe"}, []string{"client.insecure"}},
		{"env json", "l.json", `{}`, []string{"CENTRIFUGO_CHANNEL_NAMESPACES=[{"}, []string{"channel.namespaces", "invalid JSON"}},
		{"env json unknown", "m.json", `{}`, []string{`CENTRIFUGO_CHANNEL_NAMESPACES=[{"name":"a1","nope":1}]`}, []string{"channel.namespaces[0].nope", "unknown key"}},
		{"env item", "n.json", `{"channel":{"namespaces":[{"name":"chat"}]}}`, []string{"CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_HISTORY_SIZE=ten"}, []string{"channel.namespaces[chat].history_size"}},
		{"several", "o.json", `{"client":{"ping_interval":"x","pong_timeout":"y"}}`, nil, []string{"client.ping_interval", "client.pong_timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.file, tc.content)
			_, _, err := config.Load(config.LoadOptions{File: p, Env: tc.env})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadGarbageFiles(t *testing.T) {
	dir := chdir(t)
	cases := map[string]string{
		"a.json":  `{"http_server": {`,
		"b.json":  `{} {}`,
		"c.json":  `[1,2]`,
		"d.json":  "\x00\x01garbage",
		"e.yaml":  "http_server: [\n  - :",
		"f.yaml":  "- just\n- a list\n",
		"g.yml":   "\t\tbad: indentation:\n: :",
		"h.toml":  "[http_server\nport = ",
		"i.toml":  "port = 1\nport = 2\n",
		"j.conf":  "port = 1",
		"noext":   "{}",
		"k.json":  `"string"`,
		"l.yaml":  "just a string",
		"m.toml":  "[http_server]\nport = 1979-05-27\n",
		"n.json":  `{"http_server":{"port":true}}`,
		"o.yaml":  "http_server:\n  port: [1, 2]\n",
		"p.json":  `{"channel":{"namespaces":[1,2]}}`,
		"q.json":  `{"shared_poll": 5}`,
		"r.yaml":  "client:\n  allowed_origins: {a: 1}\n",
		"s.toml":  "[[client]]\nx = 1\n",
		"t.json":  `{"http_server":{"port":-99999999999999999999}}`,
		"u.yaml":  "a: &a [*a]\n",
		"v.json":  `{"client":{"token":null,"ping_interval":[]}}`,
		"w.json":  `{"engine":{"redis":{"address":[1,{}]}}}`,
		"x.yaml":  "? [complex, key]\n: value\n",
		"y.json":  `{"graphite":{"port":99999999999999999999999}}`,
		"z.toml":  "[client]\nping_interval = 1.5\n",
		"aa.json": `{"client":{"subscription_token":{"enabled":true,"hmac_secret_key":7}}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, dir, name, content)
			c, w, err := config.Load(config.LoadOptions{File: p})
			if err != nil {
				if strings.TrimSpace(err.Error()) == "" {
					t.Fatal("empty error message")
				}
				return
			}
			// The few inputs that load must still produce something usable.
			_ = c.Validate()
			t.Logf("loaded with warnings %v", w)
		})
	}
	// Spot-check that the clearly broken ones fail, with the file named.
	for _, name := range []string{"a.json", "b.json", "c.json", "e.yaml", "f.yaml", "h.toml", "i.toml", "j.conf", "noext", "k.json", "n.json", "o.yaml", "p.json", "q.json", "t.json", "u.yaml"} {
		_, _, err := config.Load(config.LoadOptions{File: filepath.Join(dir, name)})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}

func TestLoadDurationForms(t *testing.T) {
	dir := chdir(t)
	p := writeFile(t, dir, "d.yaml", "client:\n  ping_interval: -1\n  pong_timeout: 8000000000\n  expired_close_delay: 1m30s\n  stale_close_delay: \"-1\"\nchannel:\n  history_meta_ttl: 0\n")
	c, _ := mustLoad(t, config.LoadOptions{File: p})
	if c.Client.PingInterval != -1 || c.Client.PongTimeout != 8*time.Second || c.Client.ExpiredCloseDelay != 90*time.Second || c.Client.StaleCloseDelay != -1 || c.Channel.HistoryMetaTTL != 0 {
		t.Errorf("durations = %v %v %v %v %v", c.Client.PingInterval, c.Client.PongTimeout, c.Client.ExpiredCloseDelay, c.Client.StaleCloseDelay, c.Channel.HistoryMetaTTL)
	}
	c, _ = mustLoad(t, config.LoadOptions{File: p, Env: []string{"CENTRIFUGO_CLIENT_PING_INTERVAL=-1", "CENTRIFUGO_CLIENT_PONG_TIMEOUT=-1"}})
	if c.Client.PingInterval != -1 || c.Client.PongTimeout != -1 {
		t.Errorf("env -1: %v %v", c.Client.PingInterval, c.Client.PongTimeout)
	}
}

func TestLoadWeakTypes(t *testing.T) {
	dir := chdir(t)
	p := writeFile(t, dir, "w.json", `{"http_server":{"port":"8080"},"client":{"insecure":"true","allowed_origins":"*"},"http_api":{"key":12345}}`)
	c, _ := mustLoad(t, config.LoadOptions{File: p})
	if c.HTTPServer.Port != 8080 || !c.Client.Insecure || !reflect.DeepEqual(c.Client.AllowedOrigins, []string{"*"}) || c.HTTPAPI.Key != "12345" {
		t.Errorf("weak types: %d %v %v %q", c.HTTPServer.Port, c.Client.Insecure, c.Client.AllowedOrigins, c.HTTPAPI.Key)
	}
}

func TestKnownKeys(t *testing.T) {
	keys := config.KnownKeys()
	set := map[string]bool{}
	for _, k := range keys {
		set[k] = true
	}
	for _, want := range []string{
		"http_server.port", "client.token.hmac_secret_key", "client.subscription_token.hmac_secret_key",
		"channel.namespaces", "rpc.namespaces", "proxies", "consumers", "engine.redis.address",
		"prometheus.handler_prefix", "prometheus.native_histograms", "admin.secret", "grpc_api.port",
		"uni_websocket.join_push_messages", "usage_stats.disabled", "opentelemetry.api", "graphite.host",
		"broker.nats.raw_mode.channel_replacements", "client.proxy.connect.endpoint", "channel.proxy.subscribe.timeout",
		"init.enabled", "swagger.enabled", "debug.enabled", "emulation.max_request_body_size", "enable_unreleased_features",
	} {
		if !set[want] {
			t.Errorf("KnownKeys lacks %s", want)
		}
	}
}
