package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
)

func withNamespace(opts config.ChannelOptions) func(*config.Config) {
	return func(c *config.Config) {
		c.Channel.Namespaces = append(c.Channel.Namespaces, config.Namespace{Name: "chat", ChannelOptions: opts})
	}
}

func TestValidate(t *testing.T) {
	history := config.ChannelOptions{HistorySize: 10, HistoryTTL: time.Minute}
	cases := []struct {
		name   string
		mutate func(*config.Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"ping equals pong", func(c *config.Config) { c.Client.PingInterval = 8 * time.Second }, "client.ping_interval: must be greater"},
		{"ping below pong", func(c *config.Config) { c.Client.PingInterval = time.Second }, "client.ping_interval"},
		{"ping disabled", func(c *config.Config) { c.Client.PingInterval = -1 }, ""},
		{"pong disabled", func(c *config.Config) { c.Client.PingInterval = time.Second; c.Client.PongTimeout = -1 }, ""},
		{"port zero", func(c *config.Config) { c.HTTPServer.Port = 0 }, "http_server.port"},
		{"port high", func(c *config.Config) { c.HTTPServer.Port = 70000 }, "http_server.port"},
		{"internal port", func(c *config.Config) { c.HTTPServer.InternalPort = -1 }, "http_server.internal_port"},
		{"grpc port when enabled", func(c *config.Config) { c.GRPCAPI.Enabled = true; c.GRPCAPI.Port = 0 }, "grpc_api.port"},
		{"log level", func(c *config.Config) { c.Log.Level = "verbose" }, `log.level: invalid level "verbose"`},
		{"log none", func(c *config.Config) { c.Log.Level = "none" }, ""},
		{"engine redis", func(c *config.Config) { c.Engine.Type = "redis" }, ""},
		{"engine unknown", func(c *config.Config) { c.Engine.Type = "tarantool" }, "engine.type"},
		{"redis history lists", func(c *config.Config) { c.Engine.Redis.HistoryUseLists = true }, "engine.redis.history_use_lists: history in Redis lists is not supported"},
		{"broker redis history lists", func(c *config.Config) { c.Broker.Redis.HistoryUseLists = true }, "broker.redis.history_use_lists"},
		{"tls without cert", func(c *config.Config) { c.HTTPServer.TLS.Enabled = true }, "http_server.tls: cert_pem and key_pem are required"},
		{"autocert", func(c *config.Config) { c.HTTPServer.TLSAutocert.Enabled = true }, "http_server.tls_autocert.enabled: automatic certificates are not supported yet"},
		{"broker nats", func(c *config.Config) { c.Broker.Enabled = true; c.Broker.Type = "nats" }, `broker.type: broker "nats" is not supported yet`},
		{"negative channel limit", func(c *config.Config) { c.Client.ChannelLimit = -1 }, "client.channel_limit"},
		{"write delay", func(c *config.Config) { c.Client.WriteDelay = 20 * time.Millisecond }, ""},
		{"negative write delay", func(c *config.Config) { c.Client.WriteDelay = -time.Millisecond }, "client.write_delay: must not be negative"},
		{"messages in frame uncapped", func(c *config.Config) { c.Client.MaxMessagesInFrame = -1 }, ""},
		{"messages in frame zero", func(c *config.Config) { c.Client.MaxMessagesInFrame = 0 }, "client.max_messages_in_frame: must be at least 1, or -1"},
		{"messages in frame below -1", func(c *config.Config) { c.Client.MaxMessagesInFrame = -2 }, "client.max_messages_in_frame"},
		{"namespace name short", func(c *config.Config) { c.Channel.Namespaces = []config.Namespace{{Name: "a"}} }, "channel.namespaces[0].name: invalid namespace name"},
		{"namespace name chars", func(c *config.Config) { c.Channel.Namespaces = []config.Namespace{{Name: "chat room"}} }, "invalid namespace name"},
		{"namespace name ok", func(c *config.Config) { c.Channel.Namespaces = []config.Namespace{{Name: "a-b_c.d"}} }, ""},
		{"namespace duplicate", func(c *config.Config) {
			c.Channel.Namespaces = []config.Namespace{{Name: "chat"}, {Name: "chat"}}
		}, `channel.namespaces[1].name: duplicate namespace name "chat"`},
		{"history size only", withNamespace(config.ChannelOptions{HistorySize: 10}), "channel.namespaces[chat].history_ttl: must be set together"},
		{"history ttl only", withNamespace(config.ChannelOptions{HistoryTTL: time.Minute}), "channel.namespaces[chat].history_size: must be set together"},
		{"history ok", withNamespace(history), ""},
		{"history ttl over meta", withNamespace(config.ChannelOptions{HistorySize: 1, HistoryTTL: 800 * time.Hour}), "history_ttl: 800h0m0s must not exceed"},
		{"history ttl over ns meta", withNamespace(config.ChannelOptions{HistorySize: 1, HistoryTTL: 2 * time.Hour, HistoryMetaTTL: time.Hour}), "must not exceed the history meta TTL 1h0m0s"},
		{"history ttl over without_namespace meta", func(c *config.Config) {
			c.Channel.HistoryMetaTTL = time.Minute
			c.Channel.WithoutNamespace = config.ChannelOptions{HistorySize: 1, HistoryTTL: time.Hour}
		}, "channel.without_namespace.history_ttl"},
		{"force recovery without history", withNamespace(config.ChannelOptions{ForceRecovery: true}), "channel.namespaces[chat].force_recovery: requires history"},
		{"force positioning without history", withNamespace(config.ChannelOptions{ForcePositioning: true}), "force_positioning: requires history"},
		{"allow recovery without history", withNamespace(config.ChannelOptions{AllowRecovery: true}), "allow_recovery: requires history"},
		{"recovery with history", withNamespace(config.ChannelOptions{HistorySize: 1, HistoryTTL: time.Second, ForceRecovery: true, AllowRecovery: true, ForcePositioning: true}), ""},
		{"recovery mode", withNamespace(config.ChannelOptions{ForceRecoveryMode: "magic"}), `force_recovery_mode: unknown mode "magic"`},
		{"recovery mode cache", withNamespace(config.ChannelOptions{HistorySize: 1, HistoryTTL: time.Second, ForceRecovery: true, ForceRecoveryMode: "cache", AutoCacheRecover: true}), ""},
		{"auto cache recover", withNamespace(config.ChannelOptions{AutoCacheRecover: true}), "auto_cache_recover"},
		{"delta type", withNamespace(config.ChannelOptions{AllowedDeltaTypes: []string{"fossil", "xdelta"}}), `allowed_delta_types: unknown delta type "xdelta"`},
		{"delta fossil", withNamespace(config.ChannelOptions{AllowedDeltaTypes: []string{"fossil"}}), ""},
		{"data format", withNamespace(config.ChannelOptions{PublicationDataFormat: "xml"}), `publication_data_format: unknown format "xml"`},
		{"data format ok", withNamespace(config.ChannelOptions{PublicationDataFormat: "json_object"}), ""},
		{"global data format", func(c *config.Config) { c.Channel.PublicationDataFormat = "yaml" }, "channel.publication_data_format"},
		{"channel regex", withNamespace(config.ChannelOptions{ChannelRegex: "[a-"}), "channel.namespaces[chat].channel_regex: invalid regular expression"},
		{"subscription type map", withNamespace(config.ChannelOptions{SubscriptionType: "map"}), `subscription_type: subscription type "map" is not supported yet`},
		{"subscription type unknown", withNamespace(config.ChannelOptions{SubscriptionType: "pull"}), `unknown subscription type "pull"`},
		{"subscription type stream", withNamespace(config.ChannelOptions{SubscriptionType: "stream"}), ""},
		{"proxy unknown", withNamespace(config.ChannelOptions{SubscribeProxyEnabled: true, SubscribeProxyName: "nope"}), `subscribe_proxy_name: proxy "nope" is not defined`},
		{"proxy named", func(c *config.Config) {
			c.Proxies = []config.NamedProxy{{Name: "backend"}}
			withNamespace(config.ChannelOptions{PublishProxyEnabled: true, PublishProxyName: "backend"})(c)
		}, "channel.namespaces[chat].publish_proxy_enabled: proxies are not supported yet"},
		{"connect proxy", func(c *config.Config) { c.Client.Proxy.Connect.Enabled = true }, "client.proxy.connect.enabled: the connect proxy is not supported yet"},
		{"admin", func(c *config.Config) { c.Admin.Enabled = true }, "admin.enabled: the admin web UI is not supported yet"},
		{"grpc api", func(c *config.Config) { c.GRPCAPI.Enabled = true; c.GRPCAPI.Port = 10000 }, "grpc_api.enabled: the gRPC server API is not supported yet"},
		{"rpc proxy", func(c *config.Config) { c.RPC.WithoutNamespace.ProxyEnabled = true }, "rpc.without_namespace.proxy_enabled: proxies are not supported yet"},
		{"proxy default reserved", func(c *config.Config) { c.Proxies = []config.NamedProxy{{Name: "default"}} }, "proxies[0].name"},
		{"stream proxy exclusive", withNamespace(config.ChannelOptions{SubscribeStreamProxyEnabled: true, SubscribeProxyEnabled: true}), "subscribe_stream_proxy_enabled"},
		{"empty boundary", func(c *config.Config) { c.Channel.NamespaceBoundary = "" }, "channel.namespace_boundary"},
		{"personal namespace missing", func(c *config.Config) {
			c.Client.SubscribeToUserPersonalChannel = config.PersonalChannel{Enabled: true, PersonalChannelNamespace: "personal"}
		}, "personal_channel_namespace"},
		{"rpc namespace name", func(c *config.Config) { c.RPC.Namespaces = []config.RPCNamespace{{Name: "x"}} }, "rpc.namespaces[0].name: invalid namespace name"},
		{"rpc namespace duplicate", func(c *config.Config) {
			c.RPC.Namespaces = []config.RPCNamespace{{Name: "rpc1"}, {Name: "rpc1"}}
		}, "rpc.namespaces[1].name: duplicate"},
		{"rpc proxy unknown", func(c *config.Config) {
			c.RPC.Namespaces = []config.RPCNamespace{{Name: "rpc1", ProxyEnabled: true, ProxyName: "nope"}}
		}, "rpc.namespaces[rpc1].proxy_name"},
		{"rpc boundary", func(c *config.Config) { c.RPC.NamespaceBoundary = "" }, "rpc.namespace_boundary"},
		{"rpc ping method", func(c *config.Config) { c.RPC.Ping.Enabled = true; c.RPC.Ping.Method = "" }, "rpc.ping.method"},
		{"consumer name", func(c *config.Config) { c.Consumers = []config.Consumer{{Name: "a-b"}} }, "consumers[0].name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Defaults()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
			var ke *config.KeyError
			if !errors.As(err, &ke) {
				t.Errorf("error %v holds no *KeyError", err)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := config.Defaults()
	c.Log.Level = "loud"
	c.HTTPServer.Port = -5
	c.Channel.Namespaces = []config.Namespace{{Name: "x", ChannelOptions: config.ChannelOptions{ForceRecovery: true}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"log.level", "http_server.port", "channel.namespaces[0].name", "channel.namespaces[x].force_recovery"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
}
