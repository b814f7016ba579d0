package config

import "time"

// Defaults returns the configuration with every Centrifugo v6 default applied.
// It is the base that Load overlays the file, environment and flags on.
// Items of lists (namespaces, proxies, consumers) have no defaults here: their
// zero values are documented on the fields.
func Defaults() Config {
	const bodyLimit = 65536
	proxyTimeout := time.Second
	return Config{
		HTTPServer: HTTPServer{
			Port:        8000,
			TLSAutocert: TLSAutocert{HTTPAddr: ":80"},
		},
		Log:    Log{Level: "info"},
		Engine: Engine{Type: "memory", Redis: defaultRedisEngine()},
		Client: Client{
			PingInterval:                25 * time.Second,
			PongTimeout:                 8 * time.Second,
			ExpiredCloseDelay:           25 * time.Second,
			ExpiredSubCloseDelay:        25 * time.Second,
			StaleCloseDelay:             10 * time.Second,
			ChannelLimit:                128,
			QueueMaxSize:                1048576,
			MaxMessagesInFrame:          16,
			PresenceUpdateInterval:      27 * time.Second,
			ChannelPositionCheckDelay:   40 * time.Second,
			HistoryMaxPublicationLimit:  300,
			RecoveryMaxPublicationLimit: 300,
			Proxy: ClientProxy{
				Connect: EnabledProxy{Proxy: Proxy{Timeout: proxyTimeout}},
				Refresh: EnabledProxy{Proxy: Proxy{Timeout: proxyTimeout}},
			},
		},
		Channel: Channel{
			HistoryMetaTTL:    720 * time.Hour,
			MaxLength:         255,
			PrivatePrefix:     "$",
			NamespaceBoundary: ":",
			UserBoundary:      "#",
			UserSeparator:     ",",
			Proxy: ChannelProxies{
				Subscribe:         Proxy{Timeout: proxyTimeout},
				Publish:           Proxy{Timeout: proxyTimeout},
				SubRefresh:        Proxy{Timeout: proxyTimeout},
				SubscribeStream:   Proxy{Timeout: proxyTimeout},
				MapPublish:        Proxy{Timeout: proxyTimeout},
				MapRemove:         Proxy{Timeout: proxyTimeout},
				SharedPollRefresh: Proxy{Timeout: proxyTimeout},
			},
		},
		RPC: RPC{
			NamespaceBoundary: ":",
			Ping:              RPCPing{Method: "ping"},
			Proxy:             Proxy{Timeout: proxyTimeout},
		},
		HTTPAPI: HTTPAPI{HandlerPrefix: "/api"},
		WebSocket: WebSocket{
			HandlerPrefix:    "/connection/websocket",
			WriteTimeout:     time.Second,
			MessageSizeLimit: bodyLimit,
			CompressionLevel: 1,
		},
		Health:     Endpoint{HandlerPrefix: "/health"},
		Prometheus: Prometheus{Endpoint: Endpoint{HandlerPrefix: "/metrics"}},
		Node:       Node{InfoMetricsAggregateInterval: 60 * time.Second},
		Shutdown:   Shutdown{Timeout: 30 * time.Second},

		Broker: Broker{
			Redis: defaultRedisEngine(),
			NATS: NATSBroker{
				URL:          "nats://localhost:4222",
				Prefix:       "centrifugo",
				DialTimeout:  time.Second,
				WriteTimeout: time.Second,
			},
			Postgres: PostgresBroker{
				PoolSize:               16,
				NumShards:              8,
				CleanupInterval:        time.Minute,
				IdempotentResultTTL:    5 * time.Minute,
				StreamRetention:        24 * time.Hour,
				TablePrefix:            "cf",
				PartitionLookaheadDays: 2,
				PartitionRetentionDays: 7,
			},
		},
		PresenceManager: PresenceManager{Redis: defaultRedisEngine()},
		GRPCAPI:         GRPCAPI{Port: 10000},
		SSE:             EmulatedTransport{HandlerPrefix: "/connection/sse", MaxRequestBodySize: bodyLimit},
		HTTPStream:      EmulatedTransport{HandlerPrefix: "/connection/http_stream", MaxRequestBodySize: bodyLimit},
		WebTransport:    WebTransport{HandlerPrefix: "/connection/webtransport", MessageSizeLimit: bodyLimit},
		UniWebSocket: UniWebSocket{
			HandlerPrefix:    "/connection/uni_websocket",
			CompressionLevel: 1,
			WriteTimeout:     time.Second,
			MessageSizeLimit: bodyLimit,
		},
		UniSSE:        UniHTTPTransport{HandlerPrefix: "/connection/uni_sse", MaxRequestBodySize: bodyLimit},
		UniHTTPStream: UniHTTPTransport{HandlerPrefix: "/connection/uni_http_stream", MaxRequestBodySize: bodyLimit},
		UniGRPC:       UniGRPC{Port: 11000},
		Emulation:     Emulation{HandlerPrefix: "/emulation", MaxRequestBodySize: bodyLimit},
		Swagger:       Endpoint{HandlerPrefix: "/swagger"},
		Debug:         Endpoint{HandlerPrefix: "/debug/pprof"},
		Init:          Endpoint{HandlerPrefix: "/connection/init"},
		Graphite: Graphite{
			Host:     "localhost",
			Port:     2003,
			Prefix:   "centrifugo",
			Interval: 10 * time.Second,
		},
	}
}

func defaultRedisEngine() RedisEngine {
	return RedisEngine{
		Redis: Redis{
			Address:        []string{"redis://127.0.0.1:6379"},
			Prefix:         "centrifugo",
			ConnectTimeout: time.Second,
			IOTimeout:      4 * time.Second,
		},
		PresenceTTL: 60 * time.Second,
	}
}
