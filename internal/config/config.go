// Package config defines Herald's configuration tree, which mirrors the
// Centrifugo v6 configuration keys, its defaults, validation and loading from
// files (JSON, YAML, TOML), environment variables and flags. It imports no
// runtime package.
package config

import "time"

// Duration is a time.Duration that decodes from strings such as "25s" or
// "720h" and from integers (nanoseconds, as Go does).
type Duration = time.Duration

// Config is the whole configuration tree. Field names are the Go spelling of
// the Centrifugo v6 keys; the key itself is in the `key` tag.
type Config struct {
	HTTPServer HTTPServer `key:"http_server"`
	Log        Log        `key:"log"`
	Engine     Engine     `key:"engine"`
	Client     Client     `key:"client"`
	Channel    Channel    `key:"channel"`
	RPC        RPC        `key:"rpc"`
	HTTPAPI    HTTPAPI    `key:"http_api"`
	WebSocket  WebSocket  `key:"websocket"`
	Health     Endpoint   `key:"health"`
	Prometheus Prometheus `key:"prometheus"`
	Node       Node       `key:"node"`
	Shutdown   Shutdown   `key:"shutdown"`
	// PidFile, when set, is a file the server writes its process id to.
	PidFile string `key:"pid_file"`

	// Broker configures a broker separate from the engine (broker.enabled).
	Broker Broker `key:"broker"`
	// PresenceManager configures a presence manager separate from the engine.
	PresenceManager PresenceManager `key:"presence_manager"`
	// MapBroker selects the map subscription broker (Centrifugo v6.8+).
	MapBroker TypeOnly `key:"map_broker"`
	// Controller selects the inter-node controller (Centrifugo v6.8+).
	Controller TypeOnly `key:"controller"`
	// SharedPoll holds shared poll options (Centrifugo v6.8+). Herald does not
	// implement shared poll; the section is kept opaque so configs load.
	SharedPoll map[string]any `key:"shared_poll"`
	// Proxies are named proxies referenced by namespace and RPC options.
	Proxies []NamedProxy `key:"proxies"`
	// Consumers are asynchronous API command consumers.
	Consumers []Consumer `key:"consumers"`
	// GRPCAPI configures the gRPC server API.
	GRPCAPI GRPCAPI `key:"grpc_api"`
	// SSE configures the bidirectional SSE emulation transport.
	SSE EmulatedTransport `key:"sse"`
	// HTTPStream configures the bidirectional HTTP-streaming transport.
	HTTPStream EmulatedTransport `key:"http_stream"`
	// WebTransport configures the experimental WebTransport transport.
	WebTransport WebTransport `key:"webtransport"`
	// UniWebSocket configures the unidirectional WebSocket transport.
	UniWebSocket UniWebSocket `key:"uni_websocket"`
	// UniSSE configures the unidirectional SSE transport.
	UniSSE UniHTTPTransport `key:"uni_sse"`
	// UniHTTPStream configures the unidirectional HTTP-streaming transport.
	UniHTTPStream UniHTTPTransport `key:"uni_http_stream"`
	// UniGRPC configures the unidirectional gRPC transport.
	UniGRPC UniGRPC `key:"uni_grpc"`
	// Emulation configures the /emulation endpoint used by SSE and HTTP-streaming.
	Emulation Emulation `key:"emulation"`
	// Admin configures the admin web UI.
	Admin Admin `key:"admin"`
	// Swagger configures the Swagger UI endpoint (default prefix /swagger).
	Swagger Endpoint `key:"swagger"`
	// Debug configures the pprof endpoints (default prefix /debug/pprof).
	Debug Endpoint `key:"debug"`
	// Init configures the connection init endpoint (default prefix /connection/init).
	Init Endpoint `key:"init"`
	// OpenTelemetry configures tracing.
	OpenTelemetry OpenTelemetry `key:"opentelemetry"`
	// Graphite configures metrics export to Graphite.
	Graphite Graphite `key:"graphite"`
	// UsageStats configures anonymous usage statistics.
	UsageStats UsageStats `key:"usage_stats"`
	// EnableUnreleasedFeatures unlocks experimental features.
	EnableUnreleasedFeatures bool `key:"enable_unreleased_features"`
}

// HTTPServer configures the HTTP listener.
type HTTPServer struct {
	// Address to bind; empty means all interfaces.
	Address string `key:"address"`
	// Port to listen on. Zero value means 8000 (set by Defaults).
	Port int `key:"port"`
	// InternalAddress and InternalPort, when set, move internal endpoints (API,
	// metrics, health) to a separate listener.
	InternalAddress string `key:"internal_address"`
	InternalPort    int    `key:"internal_port"`
	// TLS for the listener(s).
	TLS TLS `key:"tls"`
	// TLSAutocert obtains certificates automatically (ACME).
	TLSAutocert TLSAutocert `key:"tls_autocert"`
	// TLSExternal applies TLS only to the external port.
	TLSExternal bool `key:"tls_external"`
	// InternalTLS is TLS for the internal port.
	InternalTLS TLS `key:"internal_tls"`
	// HTTP3 enables HTTP/3 (experimental; needed for WebTransport).
	HTTP3 HTTP3 `key:"http3"`
	// H2CExternal enables unencrypted HTTP/2 on the external port.
	H2CExternal bool `key:"h2c_external"`
}

// Log configures logging.
type Log struct {
	// Level is one of none, trace, debug, info, warn, error. Default info.
	Level string `key:"level"`
	// File, when set, receives logs instead of stdout.
	File string `key:"file"`
}

// Engine selects the engine. Only "memory" is implemented so far.
type Engine struct {
	// Type is memory (default) or redis.
	Type string `key:"type"`
	// Redis configures the Redis engine (broker and presence manager).
	Redis RedisEngine `key:"redis"`
}

// Token configures JWT verification for connection (client.token) or
// subscription (client.subscription_token) tokens.
type Token struct {
	HMACSecretKey                       string `key:"hmac_secret_key"`
	HMACPreviousSecretKey               string `key:"hmac_previous_secret_key"`
	HMACPreviousSecretKeyValidUntil     int64  `key:"hmac_previous_secret_key_valid_until"` // unix seconds; 0 = no limit
	RSAPublicKey                        string `key:"rsa_public_key"`                       // PEM, base64 PEM or file path
	ECDSAPublicKey                      string `key:"ecdsa_public_key"`                     // PEM, base64 PEM or file path
	JWKSPublicEndpoint                  string `key:"jwks_public_endpoint"`
	Audience                            string `key:"audience"`
	AudienceRegex                       string `key:"audience_regex"`
	Issuer                              string `key:"issuer"`
	IssuerRegex                         string `key:"issuer_regex"`
	UserIDClaim                         string `key:"user_id_claim"`
	InsecureSkipJWKSEndpointSafetyCheck bool   `key:"insecure_skip_jwks_endpoint_safety_check"`
}

// SubscriptionToken configures subscription tokens separately when Enabled.
type SubscriptionToken struct {
	Enabled bool `key:"enabled"`
	Token   `key:",squash"`
}

// PersonalChannel configures client.subscribe_to_user_personal_channel.
type PersonalChannel struct {
	Enabled                  bool   `key:"enabled"`
	PersonalChannelNamespace string `key:"personal_channel_namespace"`
	SingleConnection         bool   `key:"single_connection"`
}

// Client configures client connections.
type Client struct {
	Token                             Token             `key:"token"`
	SubscriptionToken                 SubscriptionToken `key:"subscription_token"`
	AllowedOrigins                    []string          `key:"allowed_origins"`
	AllowAnonymousConnectWithoutToken bool              `key:"allow_anonymous_connect_without_token"`
	DisallowAnonymousConnectionTokens bool              `key:"disallow_anonymous_connection_tokens"`
	Insecure                          bool              `key:"insecure"`
	InsecureSkipTokenSignatureVerify  bool              `key:"insecure_skip_token_signature_verify"`
	// PingInterval between server pings. Default 25s; -1 disables pings.
	PingInterval Duration `key:"ping_interval"`
	// PongTimeout for the client's pong. Default 8s; -1 disables pong checks.
	PongTimeout Duration `key:"pong_timeout"`
	// ExpiredCloseDelay after connection expiry before 3005. Default 25s.
	ExpiredCloseDelay Duration `key:"expired_close_delay"`
	// ExpiredSubCloseDelay after subscription expiry before 2501/3006. Default 25s.
	ExpiredSubCloseDelay Duration `key:"expired_sub_close_delay"`
	// StaleCloseDelay before an unauthenticated connection is closed (3502). Default 10s.
	StaleCloseDelay Duration `key:"stale_close_delay"`
	// ChannelLimit per connection. Default 128.
	ChannelLimit int `key:"channel_limit"`
	// QueueMaxSize of the outgoing queue in bytes. Default 1048576.
	QueueMaxSize int `key:"queue_max_size"`
	// WriteDelay holds a connection's publications (and join/leave
	// pushes) up to this long, so that those arriving meanwhile go out in
	// one frame and one write: fewer system calls per message for that
	// much latency. Replies and other pushes are written at once, with
	// whatever is held. Default 0: off. (Centrifugo PRO's key.)
	WriteDelay Duration `key:"write_delay"`
	// MaxMessagesInFrame caps the messages written in one frame. Default
	// 16; -1: no cap. (Centrifugo PRO's key.)
	MaxMessagesInFrame int `key:"max_messages_in_frame"`
	// PresenceUpdateInterval. Default 27s.
	PresenceUpdateInterval Duration `key:"presence_update_interval"`
	// Concurrency of command processing per connection. Zero means sequential.
	Concurrency int `key:"concurrency"`
	// ChannelPositionCheckDelay. Default 40s.
	ChannelPositionCheckDelay Duration `key:"channel_position_check_delay"`
	ChannelPositionMaxTimeLag Duration `key:"channel_position_max_time_lag"`
	ConnectionLimit           int      `key:"connection_limit"`
	UserConnectionLimit       int      `key:"user_connection_limit"`
	ConnectionRateLimit       int      `key:"connection_rate_limit"`
	ConnectIncludeServerTime  bool     `key:"connect_include_server_time"`
	// HistoryMaxPublicationLimit caps client history reads. Default 300.
	HistoryMaxPublicationLimit int `key:"history_max_publication_limit"`
	// RecoveryMaxPublicationLimit caps recovery. Default 300.
	RecoveryMaxPublicationLimit    int             `key:"recovery_max_publication_limit"`
	UserIDHTTPHeader               string          `key:"user_id_http_header"`
	SubscribeToUserPersonalChannel PersonalChannel `key:"subscribe_to_user_personal_channel"`
	// Proxy configures the connect and refresh proxies.
	Proxy ClientProxy `key:"proxy"`
	// ConnectCodeToUnidirectionalDisconnect maps connect error codes to
	// disconnect codes for unidirectional transports.
	ConnectCodeToUnidirectionalDisconnect UniConnectCodeToDisconnect `key:"connect_code_to_unidirectional_disconnect"`
}

// ChannelOptions are the per-namespace channel options (also used for
// channel.without_namespace).
type ChannelOptions struct {
	Presence                   bool     `key:"presence"`
	JoinLeave                  bool     `key:"join_leave"`
	ForcePushJoinLeave         bool     `key:"force_push_join_leave"`
	HistorySize                int      `key:"history_size"`
	HistoryTTL                 Duration `key:"history_ttl"`
	HistoryMetaTTL             Duration `key:"history_meta_ttl"`
	ForcePositioning           bool     `key:"force_positioning"`
	AllowPositioning           bool     `key:"allow_positioning"`
	ForceRecovery              bool     `key:"force_recovery"`
	AllowRecovery              bool     `key:"allow_recovery"`
	ForceRecoveryMode          string   `key:"force_recovery_mode"` // "stream" (default) or "cache"
	AutoCacheRecover           bool     `key:"auto_cache_recover"`
	AllowedDeltaTypes          []string `key:"allowed_delta_types"`
	DeltaPublish               bool     `key:"delta_publish"`
	AllowSubscribeForClient    bool     `key:"allow_subscribe_for_client"`
	AllowSubscribeForAnonymous bool     `key:"allow_subscribe_for_anonymous"`
	AllowPublishForSubscriber  bool     `key:"allow_publish_for_subscriber"`
	AllowPublishForClient      bool     `key:"allow_publish_for_client"`
	AllowPublishForAnonymous   bool     `key:"allow_publish_for_anonymous"`
	AllowPresenceForSubscriber bool     `key:"allow_presence_for_subscriber"`
	AllowPresenceForClient     bool     `key:"allow_presence_for_client"`
	AllowPresenceForAnonymous  bool     `key:"allow_presence_for_anonymous"`
	AllowHistoryForSubscriber  bool     `key:"allow_history_for_subscriber"`
	AllowHistoryForClient      bool     `key:"allow_history_for_client"`
	AllowHistoryForAnonymous   bool     `key:"allow_history_for_anonymous"`
	AllowUserLimitedChannels   bool     `key:"allow_user_limited_channels"`
	ChannelRegex               string   `key:"channel_regex"`
	PublicationDataFormat      string   `key:"publication_data_format"` // "", json, json_object, binary
	AllowTagsFilter            bool     `key:"allow_tags_filter"`
	SubscriptionType           string   `key:"subscription_type"` // "" or "stream"

	SubscribeProxyEnabled             bool   `key:"subscribe_proxy_enabled"`
	SubscribeProxyName                string `key:"subscribe_proxy_name"` // "" means "default"
	PublishProxyEnabled               bool   `key:"publish_proxy_enabled"`
	PublishProxyName                  string `key:"publish_proxy_name"`
	SubRefreshProxyEnabled            bool   `key:"sub_refresh_proxy_enabled"`
	SubRefreshProxyName               string `key:"sub_refresh_proxy_name"`
	SubscribeStreamProxyEnabled       bool   `key:"subscribe_stream_proxy_enabled"`
	SubscribeStreamProxyName          string `key:"subscribe_stream_proxy_name"`
	SubscribeStreamProxyBidirectional bool   `key:"subscribe_stream_proxy_bidirectional"`
}

// Namespace is a named set of channel options.
type Namespace struct {
	Name           string `key:"name"`
	ChannelOptions `key:",squash"`
}

// Channel configures channels.
type Channel struct {
	WithoutNamespace ChannelOptions `key:"without_namespace"`
	Namespaces       []Namespace    `key:"namespaces"`
	// HistoryMetaTTL default for namespaces. Default 720h.
	HistoryMetaTTL        Duration `key:"history_meta_ttl"`
	PublicationDataFormat string   `key:"publication_data_format"`
	// MaxLength of a channel name. Default 255.
	MaxLength int `key:"max_length"`
	// PrivatePrefix default "$".
	PrivatePrefix string `key:"private_prefix"`
	// NamespaceBoundary default ":".
	NamespaceBoundary string `key:"namespace_boundary"`
	// UserBoundary default "#".
	UserBoundary string `key:"user_boundary"`
	// UserSeparator default ",".
	UserSeparator string `key:"user_separator"`
	// Proxy configures the "default" channel proxies.
	Proxy ChannelProxies `key:"proxy"`
}

// RPCNamespace is a named RPC namespace.
type RPCNamespace struct {
	Name         string `key:"name"`
	ProxyEnabled bool   `key:"proxy_enabled"`
	ProxyName    string `key:"proxy_name"`
}

// RPC configures client RPC.
type RPC struct {
	WithoutNamespace  RPCNamespace   `key:"without_namespace"`
	Namespaces        []RPCNamespace `key:"namespaces"`
	NamespaceBoundary string         `key:"namespace_boundary"`
	Ping              RPCPing        `key:"ping"`
	// Proxy is the "default" RPC proxy.
	Proxy Proxy `key:"proxy"`
}

// RPCPing configures the built-in ping RPC.
type RPCPing struct {
	Enabled bool   `key:"enabled"`
	Method  string `key:"method"` // default "ping"
}

// HTTPAPI configures the server HTTP API.
type HTTPAPI struct {
	Disabled      bool   `key:"disabled"`
	HandlerPrefix string `key:"handler_prefix"` // default /api
	Key           string `key:"key"`
	ErrorMode     string `key:"error_mode"` // "" or "transport"
	External      bool   `key:"external"`
	Insecure      bool   `key:"insecure"`
}

// WebSocket configures the bidirectional WebSocket transport.
type WebSocket struct {
	Disabled      bool   `key:"disabled"`
	HandlerPrefix string `key:"handler_prefix"` // default /connection/websocket
	Compression   bool   `key:"compression"`
	// WriteTimeout default 1s.
	WriteTimeout Duration `key:"write_timeout"`
	// MessageSizeLimit default 65536.
	MessageSizeLimit int `key:"message_size_limit"`
	ReadBufferSize   int `key:"read_buffer_size"`
	WriteBufferSize  int `key:"write_buffer_size"`
	// CompressionMinSize is the smallest message compressed. Zero compresses all.
	CompressionMinSize int `key:"compression_min_size"`
	// CompressionLevel for permessage-deflate. Default 1.
	CompressionLevel int `key:"compression_level"`
	// UseWriteBufferPool shares write buffers between idle connections.
	UseWriteBufferPool bool `key:"use_write_buffer_pool"`
	// DecompressedMessageSizeLimit; zero means 10 × MessageSizeLimit.
	DecompressedMessageSizeLimit int `key:"decompressed_message_size_limit"`
}

// Endpoint is a toggled internal endpoint (health, prometheus).
type Endpoint struct {
	Enabled       bool   `key:"enabled"`
	HandlerPrefix string `key:"handler_prefix"`
}

// Node configures node identity.
type Node struct {
	// Name of the node; empty means <hostname>_<port>.
	Name string `key:"name"`
	// InfoMetricsAggregateInterval for metrics in node info. Default 60s.
	InfoMetricsAggregateInterval Duration `key:"info_metrics_aggregate_interval"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// Timeout default 30s.
	Timeout Duration `key:"timeout"`
}
