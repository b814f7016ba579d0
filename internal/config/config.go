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
	Prometheus Endpoint   `key:"prometheus"`
	Node       Node       `key:"node"`
	Shutdown   Shutdown   `key:"shutdown"`
	// PidFile, when set, is a file the server writes its process id to.
	PidFile string `key:"pid_file"`
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
}

// Token configures JWT verification for connection (client.token) or
// subscription (client.subscription_token) tokens.
type Token struct {
	HMACSecretKey                   string   `key:"hmac_secret_key"`
	HMACPreviousSecretKey           string   `key:"hmac_previous_secret_key"`
	HMACPreviousSecretKeyValidUntil int64    `key:"hmac_previous_secret_key_valid_until"` // unix seconds; 0 = no limit
	RSAPublicKey                    string   `key:"rsa_public_key"`                       // PEM, base64 PEM or file path
	ECDSAPublicKey                  string   `key:"ecdsa_public_key"`                     // PEM, base64 PEM or file path
	JWKSPublicEndpoint              string   `key:"jwks_public_endpoint"`
	Audience                        string   `key:"audience"`
	AudienceRegex                   string   `key:"audience_regex"`
	Issuer                          string   `key:"issuer"`
	IssuerRegex                     string   `key:"issuer_regex"`
	UserIDClaim                     string   `key:"user_id_claim"`
	InsecureSkipJWKSEndpointSafetyCheck bool `key:"insecure_skip_jwks_endpoint_safety_check"`
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
	Token                              Token             `key:"token"`
	SubscriptionToken                  SubscriptionToken `key:"subscription_token"`
	AllowedOrigins                     []string          `key:"allowed_origins"`
	AllowAnonymousConnectWithoutToken  bool              `key:"allow_anonymous_connect_without_token"`
	DisallowAnonymousConnectionTokens  bool              `key:"disallow_anonymous_connection_tokens"`
	Insecure                           bool              `key:"insecure"`
	InsecureSkipTokenSignatureVerify   bool              `key:"insecure_skip_token_signature_verify"`
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
	// PresenceUpdateInterval. Default 27s.
	PresenceUpdateInterval Duration `key:"presence_update_interval"`
	// Concurrency of command processing per connection. Zero means sequential.
	Concurrency int `key:"concurrency"`
	// ChannelPositionCheckDelay. Default 40s.
	ChannelPositionCheckDelay   Duration `key:"channel_position_check_delay"`
	ChannelPositionMaxTimeLag   Duration `key:"channel_position_max_time_lag"`
	ConnectionLimit             int      `key:"connection_limit"`
	UserConnectionLimit         int      `key:"user_connection_limit"`
	ConnectionRateLimit         int      `key:"connection_rate_limit"`
	ConnectIncludeServerTime    bool     `key:"connect_include_server_time"`
	// HistoryMaxPublicationLimit caps client history reads. Default 300.
	HistoryMaxPublicationLimit int `key:"history_max_publication_limit"`
	// RecoveryMaxPublicationLimit caps recovery. Default 300.
	RecoveryMaxPublicationLimit    int             `key:"recovery_max_publication_limit"`
	UserIDHTTPHeader               string          `key:"user_id_http_header"`
	SubscribeToUserPersonalChannel PersonalChannel `key:"subscribe_to_user_personal_channel"`
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
}

// Endpoint is a toggled internal endpoint (health, prometheus).
type Endpoint struct {
	Enabled       bool   `key:"enabled"`
	HandlerPrefix string `key:"handler_prefix"`
}

// Node configures node identity.
type Node struct {
	Name string `key:"name"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// Timeout default 30s.
	Timeout Duration `key:"timeout"`
}
