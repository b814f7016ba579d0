package config

// This file holds the configuration sections that the runtime may not use
// yet. They exist so that every Centrifugo v6 section and its common keys are
// known: configs written for Centrifugo load without unknown-key warnings, and
// defaultconfig/defaultenv can list them.

// TLS is the common TLS object (http_server.tls, grpc_api.tls, Redis, NATS,
// proxies, consumers). PEM values accept a file path, raw PEM or base64 PEM.
type TLS struct {
	Enabled            bool   `key:"enabled"`
	CertPEM            string `key:"cert_pem"`
	KeyPEM             string `key:"key_pem"`
	ServerCAPEM        string `key:"server_ca_pem"`
	ClientCAPEM        string `key:"client_ca_pem"` // enables mTLS on servers
	InsecureSkipVerify bool   `key:"insecure_skip_verify"`
	ServerName         string `key:"server_name"`
}

// TLSAutocert configures ACME certificates (http_server.tls_autocert).
type TLSAutocert struct {
	Enabled       bool     `key:"enabled"`
	HostWhitelist []string `key:"host_whitelist"`
	CacheDir      string   `key:"cache_dir"`
	Email         string   `key:"email"`
	ServerName    string   `key:"server_name"`
	// HTTP serves the http-01 challenge on HTTPAddr; otherwise tls-alpn-01 is used.
	HTTP bool `key:"http"`
	// HTTPAddr default ":80".
	HTTPAddr string `key:"http_addr"`
}

// HTTP3 configures experimental HTTP/3 support.
type HTTP3 struct {
	Enabled bool `key:"enabled"`
}

// Redis holds Redis connection options shared by the engine, broker,
// presence manager and Redis stream consumers.
type Redis struct {
	// Address lists Redis addresses (redis://, rediss://, unix://). Several
	// addresses shard channels client-side. Default ["redis://127.0.0.1:6379"]
	// for engine.redis.
	Address []string `key:"address"`
	// Prefix of every key and channel. Default "centrifugo" for engine.redis.
	Prefix string `key:"prefix"`
	// ConnectTimeout default 1s; IOTimeout default 4s (engine.redis).
	ConnectTimeout     Duration `key:"connect_timeout"`
	IOTimeout          Duration `key:"io_timeout"`
	DB                 int      `key:"db"`
	User               string   `key:"user"`
	Password           string   `key:"password"`
	ClientName         string   `key:"client_name"`
	ForceRESP2         bool     `key:"force_resp2"`
	ClusterAddress     []string `key:"cluster_address"`
	TLS                TLS      `key:"tls"`
	SentinelAddress    []string `key:"sentinel_address"`
	SentinelUser       string   `key:"sentinel_user"`
	SentinelPassword   string   `key:"sentinel_password"`
	SentinelMasterName string   `key:"sentinel_master_name"`
	SentinelClientName string   `key:"sentinel_client_name"`
	SentinelTLS        TLS      `key:"sentinel_tls"`
	ReplicaClient      Toggle   `key:"replica_client"`
}

// RedisEngine configures engine.redis: a Redis broker and presence manager.
type RedisEngine struct {
	Redis `key:",squash"`
	// HistoryUseLists stores history in lists instead of streams (legacy).
	HistoryUseLists bool `key:"history_use_lists"`
	// PresenceTTL default 60s.
	PresenceTTL          Duration `key:"presence_ttl"`
	PresenceHashFieldTTL bool     `key:"presence_hash_field_ttl"`
	PresenceUserMapping  bool     `key:"presence_user_mapping"`
}

// Toggle is a section with only an enabled flag.
type Toggle struct {
	Enabled bool `key:"enabled"`
}

// TypeOnly is a section that only selects an implementation by type.
type TypeOnly struct {
	Type string `key:"type"`
}

// Broker configures a broker separate from the engine.
type Broker struct {
	Enabled bool `key:"enabled"`
	// Type is memory, redis, nats or postgres.
	Type     string         `key:"type"`
	Redis    RedisEngine    `key:"redis"`
	NATS     NATSBroker     `key:"nats"`
	Postgres PostgresBroker `key:"postgres"`
}

// NATSBroker configures broker.nats.
type NATSBroker struct {
	// URL default "nats://localhost:4222".
	URL string `key:"url"`
	// Prefix default "centrifugo".
	Prefix string `key:"prefix"`
	// DialTimeout and WriteTimeout default 1s.
	DialTimeout    Duration    `key:"dial_timeout"`
	WriteTimeout   Duration    `key:"write_timeout"`
	TLS            TLS         `key:"tls"`
	AllowWildcards bool        `key:"allow_wildcards"`
	RawMode        NATSRawMode `key:"raw_mode"`
}

// NATSRawMode configures broker.nats.raw_mode.
type NATSRawMode struct {
	Enabled             bool              `key:"enabled"`
	ChannelReplacements map[string]string `key:"channel_replacements"`
	Prefix              string            `key:"prefix"`
}

// PostgresBroker configures broker.postgres (experimental in Centrifugo).
type PostgresBroker struct {
	DSN                    string   `key:"dsn"`
	TLS                    TLS      `key:"tls"`
	PoolSize               int      `key:"pool_size"`  // default 16
	NumShards              int      `key:"num_shards"` // default 8
	CleanupInterval        Duration `key:"cleanup_interval"`
	IdempotentResultTTL    Duration `key:"idempotent_result_ttl"`
	BinaryData             bool     `key:"binary_data"`
	StreamRetention        Duration `key:"stream_retention"`
	TablePrefix            string   `key:"table_prefix"`
	SkipSchemaInit         bool     `key:"skip_schema_init"`
	UseNotify              bool     `key:"use_notify"`
	NotifyDSN              string   `key:"notify_dsn"`
	PartitionLookaheadDays int      `key:"partition_lookahead_days"`
	PartitionRetentionDays int      `key:"partition_retention_days"`
}

// PresenceManager configures a presence manager separate from the engine.
type PresenceManager struct {
	Enabled bool `key:"enabled"`
	// Type is memory or redis.
	Type  string      `key:"type"`
	Redis RedisEngine `key:"redis"`
}

// ProxyStatusTransform maps an HTTP proxy response status to a client error
// or a disconnect.
type ProxyStatusTransform struct {
	StatusCode   int                 `key:"status_code"`
	ToError      ProxyTransformError `key:"to_error"`
	ToDisconnect TransformDisconnect `key:"to_disconnect"`
}

// ProxyTransformError is the client error a transform produces.
type ProxyTransformError struct {
	Code      uint32 `key:"code"`
	Message   string `key:"message"`
	Temporary bool   `key:"temporary"`
}

// TransformDisconnect is the disconnect a transform produces.
type TransformDisconnect struct {
	Code   uint32 `key:"code"`
	Reason string `key:"reason"`
}

// ProxyHTTP holds HTTP-specific proxy options.
type ProxyHTTP struct {
	TLS                    TLS                    `key:"tls"`
	StaticHeaders          map[string]string      `key:"static_headers"`
	StatusToCodeTransforms []ProxyStatusTransform `key:"status_to_code_transforms"`
}

// ProxyGRPC holds gRPC-specific proxy options.
type ProxyGRPC struct {
	TLS              TLS               `key:"tls"`
	CredentialsKey   string            `key:"credentials_key"`
	CredentialsValue string            `key:"credentials_value"`
	Compression      bool              `key:"compression"`
	StaticMetadata   map[string]string `key:"static_metadata"`
}

// Proxy is the common proxy configuration.
type Proxy struct {
	// Endpoint is http(s)://… or grpc://host:port.
	Endpoint string `key:"endpoint"`
	// Timeout of a proxy call. Zero means 1s.
	Timeout               Duration  `key:"timeout"`
	HTTPHeaders           []string  `key:"http_headers"`
	GRPCMetadata          []string  `key:"grpc_metadata"`
	EmulatedHeaders       []string  `key:"emulated_headers"`
	BinaryEncoding        bool      `key:"binary_encoding"`
	IncludeConnectionMeta bool      `key:"include_connection_meta"`
	HTTP                  ProxyHTTP `key:"http"`
	GRPC                  ProxyGRPC `key:"grpc"`
}

// NamedProxy is an item of the top-level proxies list.
type NamedProxy struct {
	// Name must match ^[-a-zA-Z0-9_.]{2,}$; "default" is reserved.
	Name  string `key:"name"`
	Proxy `key:",squash"`
}

// EnabledProxy is a proxy with an enabled flag (client.proxy.connect/refresh).
type EnabledProxy struct {
	Enabled bool `key:"enabled"`
	Proxy   `key:",squash"`
}

// ClientProxy configures client.proxy.
type ClientProxy struct {
	Connect EnabledProxy `key:"connect"`
	Refresh EnabledProxy `key:"refresh"`
}

// ChannelProxies configures channel.proxy: the proxies named "default".
type ChannelProxies struct {
	Subscribe         Proxy `key:"subscribe"`
	Publish           Proxy `key:"publish"`
	SubRefresh        Proxy `key:"sub_refresh"`
	SubscribeStream   Proxy `key:"subscribe_stream"`
	MapPublish        Proxy `key:"map_publish"`
	MapRemove         Proxy `key:"map_remove"`
	SharedPollRefresh Proxy `key:"shared_poll_refresh"`
}

// UniConnectCodeToDisconnect configures
// client.connect_code_to_unidirectional_disconnect.
type UniConnectCodeToDisconnect struct {
	Enabled    bool                      `key:"enabled"`
	Transforms []UniConnectCodeTransform `key:"transforms"`
}

// UniConnectCodeTransform maps a connect error code to a disconnect.
type UniConnectCodeTransform struct {
	Code uint32              `key:"code"`
	To   TransformDisconnect `key:"to"`
}

// GRPCAPI configures the gRPC server API.
type GRPCAPI struct {
	Enabled   bool   `key:"enabled"`
	ErrorMode string `key:"error_mode"` // "" or "transport"
	Address   string `key:"address"`
	// Port default 10000.
	Port       int    `key:"port"`
	Key        string `key:"key"`
	TLS        TLS    `key:"tls"`
	Reflection bool   `key:"reflection"`
	// MaxReceiveMessageSize; zero means the gRPC default (4 MiB).
	MaxReceiveMessageSize int `key:"max_receive_message_size"`
}

// EmulatedTransport configures sse and http_stream.
type EmulatedTransport struct {
	Enabled bool `key:"enabled"`
	// HandlerPrefix default /connection/sse or /connection/http_stream.
	HandlerPrefix string `key:"handler_prefix"`
	// MaxRequestBodySize default 65536.
	MaxRequestBodySize int `key:"max_request_body_size"`
}

// WebTransport configures the experimental WebTransport transport.
type WebTransport struct {
	Enabled bool `key:"enabled"`
	// HandlerPrefix default /connection/webtransport.
	HandlerPrefix string `key:"handler_prefix"`
	// MessageSizeLimit default 65536.
	MessageSizeLimit int `key:"message_size_limit"`
}

// UniWebSocket configures the unidirectional WebSocket transport.
type UniWebSocket struct {
	Enabled bool `key:"enabled"`
	// HandlerPrefix default /connection/uni_websocket.
	HandlerPrefix      string `key:"handler_prefix"`
	Compression        bool   `key:"compression"`
	CompressionMinSize int    `key:"compression_min_size"`
	// CompressionLevel default 1.
	CompressionLevel   int  `key:"compression_level"`
	ReadBufferSize     int  `key:"read_buffer_size"`
	UseWriteBufferPool bool `key:"use_write_buffer_pool"`
	WriteBufferSize    int  `key:"write_buffer_size"`
	// WriteTimeout default 1s.
	WriteTimeout Duration `key:"write_timeout"`
	// MessageSizeLimit default 65536.
	MessageSizeLimit        int  `key:"message_size_limit"`
	JoinPushMessages        bool `key:"join_push_messages"`
	DisableClosingHandshake bool `key:"disable_closing_handshake"`
	DisableDisconnectPush   bool `key:"disable_disconnect_push"`
}

// UniHTTPTransport configures uni_sse and uni_http_stream.
type UniHTTPTransport struct {
	Enabled bool `key:"enabled"`
	// HandlerPrefix default /connection/uni_sse or /connection/uni_http_stream.
	HandlerPrefix string `key:"handler_prefix"`
	// MaxRequestBodySize default 65536.
	MaxRequestBodySize        int                       `key:"max_request_body_size"`
	ConnectCodeToHTTPResponse ConnectCodeToHTTPResponse `key:"connect_code_to_http_response"`
}

// ConnectCodeToHTTPResponse maps connect error codes to HTTP responses.
type ConnectCodeToHTTPResponse struct {
	Enabled    bool                       `key:"enabled"`
	Transforms []ConnectCodeHTTPTransform `key:"transforms"`
}

// ConnectCodeHTTPTransform maps one connect error code to an HTTP response.
type ConnectCodeHTTPTransform struct {
	Code uint32           `key:"code"`
	To   HTTPResponseSpec `key:"to"`
}

// HTTPResponseSpec is an HTTP status code and body.
type HTTPResponseSpec struct {
	StatusCode int    `key:"status_code"`
	Body       string `key:"body"`
}

// UniGRPC configures the unidirectional gRPC transport.
type UniGRPC struct {
	Enabled bool   `key:"enabled"`
	Address string `key:"address"`
	// Port default 11000.
	Port                  int `key:"port"`
	MaxReceiveMessageSize int `key:"max_receive_message_size"`
	TLS                   TLS `key:"tls"`
}

// Emulation configures the /emulation endpoint.
type Emulation struct {
	// HandlerPrefix default /emulation.
	HandlerPrefix string `key:"handler_prefix"`
	// MaxRequestBodySize default 65536.
	MaxRequestBodySize int `key:"max_request_body_size"`
}

// Admin configures the admin web UI.
type Admin struct {
	Enabled bool `key:"enabled"`
	// HandlerPrefix default "" (root).
	HandlerPrefix string `key:"handler_prefix"`
	// Password for the admin login; Secret signs admin session tokens.
	Password        string `key:"password"`
	Secret          string `key:"secret"`
	Insecure        bool   `key:"insecure"`
	WebPath         string `key:"web_path"`
	WebProxyAddress string `key:"web_proxy_address"`
	External        bool   `key:"external"`
}

// Prometheus configures the Prometheus metrics endpoint. Its HandlerPrefix
// defaults to /metrics.
type Prometheus struct {
	Endpoint                       `key:",squash"`
	InstrumentHTTPHandlers         bool `key:"instrument_http_handlers"`
	RecoveredPublicationsHistogram bool `key:"recovered_publications_histogram"`
	NativeHistograms               bool `key:"native_histograms"`
}

// OpenTelemetry configures tracing; the exporter itself is configured by the
// standard OTEL_EXPORTER_OTLP_* environment variables.
type OpenTelemetry struct {
	Enabled            bool `key:"enabled"`
	API                bool `key:"api"`
	Consuming          bool `key:"consuming"`
	GoogleCloudADCAuth bool `key:"google_cloud_adc_auth"`
}

// Graphite configures metrics export to Graphite.
type Graphite struct {
	Enabled bool `key:"enabled"`
	// Host default "localhost"; Port default 2003.
	Host string `key:"host"`
	Port int    `key:"port"`
	// Prefix default "centrifugo".
	Prefix string `key:"prefix"`
	// Interval default 10s.
	Interval Duration `key:"interval"`
	Tags     bool     `key:"tags"`
}

// UsageStats configures anonymous usage statistics.
type UsageStats struct {
	Disabled bool `key:"disabled"`
}

// Consumer is an item of the top-level consumers list.
type Consumer struct {
	// Name must match ^[a-zA-Z0-9_]{2,}$ and be unique.
	Name    string `key:"name"`
	Enabled bool   `key:"enabled"`
	// Type is postgresql, kafka, nats_jetstream, redis_stream,
	// google_pub_sub, aws_sqs or azure_service_bus.
	Type            string                  `key:"type"`
	Postgres        PostgresConsumer        `key:"postgresql"`
	Kafka           KafkaConsumer           `key:"kafka"`
	NATSJetStream   NATSJetStreamConsumer   `key:"nats_jetstream"`
	RedisStream     RedisStreamConsumer     `key:"redis_stream"`
	GooglePubSub    GooglePubSubConsumer    `key:"google_pub_sub"`
	AWSSQS          AWSSQSConsumer          `key:"aws_sqs"`
	AzureServiceBus AzureServiceBusConsumer `key:"azure_service_bus"`
}

// PublicationDataMode makes a consumer treat payloads as publication data.
type PublicationDataMode struct {
	Enabled                 bool   `key:"enabled"`
	ChannelsHeader          string `key:"channels_header"`
	IdempotencyKeyHeader    string `key:"idempotency_key_header"`
	DeltaHeader             string `key:"delta_header"`
	VersionHeader           string `key:"version_header"`
	VersionEpochHeader      string `key:"version_epoch_header"`
	TagsHeaderPrefix        string `key:"tags_header_prefix"`
	ChannelsAttribute       string `key:"channels_attribute"`
	IdempotencyKeyAttribute string `key:"idempotency_key_attribute"`
	DeltaAttribute          string `key:"delta_attribute"`
	VersionAttribute        string `key:"version_attribute"`
	VersionEpochAttribute   string `key:"version_epoch_attribute"`
	TagsAttributePrefix     string `key:"tags_attribute_prefix"`
}

// PostgresConsumer configures a PostgreSQL outbox consumer.
type PostgresConsumer struct {
	DSN                          string   `key:"dsn"`
	OutboxTableName              string   `key:"outbox_table_name"`
	NumPartitions                int      `key:"num_partitions"`
	PartitionSelectLimit         int      `key:"partition_select_limit"`
	PartitionPollInterval        Duration `key:"partition_poll_interval"`
	PartitionNotificationChannel string   `key:"partition_notification_channel"`
	PartitionNotificationDSN     string   `key:"partition_notification_dsn"`
	TLS                          TLS      `key:"tls"`
	UseTryLock                   bool     `key:"use_try_lock"`
}

// KafkaConsumer configures a Kafka consumer.
type KafkaConsumer struct {
	Brokers               []string            `key:"brokers"`
	Topics                []string            `key:"topics"`
	ConsumerGroup         string              `key:"consumer_group"`
	MaxPollRecords        int                 `key:"max_poll_records"`
	FetchMaxBytes         int                 `key:"fetch_max_bytes"`
	FetchMaxWait          Duration            `key:"fetch_max_wait"`
	FetchReadUncommitted  bool                `key:"fetch_read_uncommitted"`
	PartitionQueueMaxSize int                 `key:"partition_queue_max_size"`
	DialTimeout           Duration            `key:"dial_timeout"`
	TLS                   TLS                 `key:"tls"`
	SASLMechanism         string              `key:"sasl_mechanism"`
	SASLUser              string              `key:"sasl_user"`
	SASLPassword          string              `key:"sasl_password"`
	AssumeRoleARN         string              `key:"assume_role_arn"`
	InstanceID            string              `key:"instance_id"`
	MethodHeader          string              `key:"method_header"`
	PublicationDataMode   PublicationDataMode `key:"publication_data_mode"`
}

// NATSJetStreamConsumer configures a NATS JetStream consumer.
type NATSJetStreamConsumer struct {
	URL                 string              `key:"url"`
	CredentialsFile     string              `key:"credentials_file"`
	Username            string              `key:"username"`
	Password            string              `key:"password"`
	Token               string              `key:"token"`
	StreamName          string              `key:"stream_name"`
	Subjects            []string            `key:"subjects"`
	DurableConsumerName string              `key:"durable_consumer_name"`
	UseExistingConsumer bool                `key:"use_existing_consumer"`
	DeliverPolicy       string              `key:"deliver_policy"`
	MaxAckPending       int                 `key:"max_ack_pending"`
	MethodHeader        string              `key:"method_header"`
	TLS                 TLS                 `key:"tls"`
	PublicationDataMode PublicationDataMode `key:"publication_data_mode"`
}

// RedisStreamConsumer configures a Redis Streams consumer.
type RedisStreamConsumer struct {
	Redis               `key:",squash"`
	Streams             []string            `key:"streams"`
	ConsumerGroup       string              `key:"consumer_group"`
	VisibilityTimeout   Duration            `key:"visibility_timeout"`
	NumWorkers          int                 `key:"num_workers"`
	PayloadValue        string              `key:"payload_value"`
	MethodValue         string              `key:"method_value"`
	PublicationDataMode PublicationDataMode `key:"publication_data_mode"`
}

// GooglePubSubConsumer configures a Google Pub/Sub consumer.
type GooglePubSubConsumer struct {
	ProjectID              string              `key:"project_id"`
	Subscriptions          []string            `key:"subscriptions"`
	MaxOutstandingMessages int                 `key:"max_outstanding_messages"`
	MaxOutstandingBytes    int                 `key:"max_outstanding_bytes"`
	AuthMechanism          string              `key:"auth_mechanism"`
	CredentialsFile        string              `key:"credentials_file"`
	MethodAttribute        string              `key:"method_attribute"`
	PublicationDataMode    PublicationDataMode `key:"publication_data_mode"`
}

// AWSSQSConsumer configures an AWS SQS consumer.
type AWSSQSConsumer struct {
	Queues              []string            `key:"queues"`
	SNSEnvelope         bool                `key:"sns_envelope"`
	Region              string              `key:"region"`
	MaxNumberOfMessages int                 `key:"max_number_of_messages"`
	WaitTimeTime        Duration            `key:"wait_time_time"`
	VisibilityTimeout   Duration            `key:"visibility_timeout"`
	MaxConcurrency      int                 `key:"max_concurrency"`
	CredentialsProfile  string              `key:"credentials_profile"`
	AssumeRoleARN       string              `key:"assume_role_arn"`
	MethodAttribute     string              `key:"method_attribute"`
	LocalstackEndpoint  string              `key:"localstack_endpoint"`
	PublicationDataMode PublicationDataMode `key:"publication_data_mode"`
}

// AzureServiceBusConsumer configures an Azure Service Bus consumer.
type AzureServiceBusConsumer struct {
	ConnectionString        string              `key:"connection_string"`
	UseAzureIdentity        bool                `key:"use_azure_identity"`
	FullyQualifiedNamespace string              `key:"fully_qualified_namespace"`
	TenantID                string              `key:"tenant_id"`
	ClientID                string              `key:"client_id"`
	ClientSecret            string              `key:"client_secret"`
	Queues                  []string            `key:"queues"`
	UseSessions             bool                `key:"use_sessions"`
	MaxConcurrentCalls      int                 `key:"max_concurrent_calls"`
	MaxReceiveMessages      int                 `key:"max_receive_messages"`
	MethodProperty          string              `key:"method_property"`
	PublicationDataMode     PublicationDataMode `key:"publication_data_mode"`
}
