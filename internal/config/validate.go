package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	namespaceNameRe = regexp.MustCompile(`^[-a-zA-Z0-9_.]{2,}$`)
	consumerNameRe  = regexp.MustCompile(`^[a-zA-Z0-9_]{2,}$`)
)

// errProxies is the error for enabled proxy options: proxies are not
// implemented yet.
const errProxies = "proxies are not supported yet"

// ValidNamespaceName reports whether name is a valid channel namespace, RPC
// namespace or proxy name: ^[-a-zA-Z0-9_.]{2,}$.
func ValidNamespaceName(name string) bool { return namespaceNameRe.MatchString(name) }

// Validate checks the configuration and returns every problem found, joined
// with errors.Join; each is a *KeyError naming the key. It returns nil for a
// valid configuration and does not modify c.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, keyErr(key, format, args...)) }

	checkPort := func(key string, port int, zeroOK bool) {
		if port < 0 || port > 65535 || (port == 0 && !zeroOK) {
			add(key, "port %d out of range 1-65535", port)
		}
	}
	checkPort("http_server.port", c.HTTPServer.Port, false)
	checkPort("http_server.internal_port", c.HTTPServer.InternalPort, true)
	checkPort("grpc_api.port", c.GRPCAPI.Port, !c.GRPCAPI.Enabled)
	checkPort("uni_grpc.port", c.UniGRPC.Port, !c.UniGRPC.Enabled)

	switch c.Log.Level {
	case "none", "trace", "debug", "info", "warn", "error":
	default:
		add("log.level", "invalid level %q (want none, trace, debug, info, warn or error)", c.Log.Level)
	}

	switch c.Engine.Type {
	case "memory", "redis":
	default:
		add("engine.type", "unknown engine %q (want memory or redis)", c.Engine.Type)
	}
	if c.Broker.Enabled && c.Broker.Type != "memory" && c.Broker.Type != "redis" {
		add("broker.type", "broker %q is not supported yet (want memory or redis)", c.Broker.Type)
	}
	if c.PresenceManager.Enabled && c.PresenceManager.Type != "memory" && c.PresenceManager.Type != "redis" {
		add("presence_manager.type", "presence manager %q is not supported (want memory or redis)", c.PresenceManager.Type)
	}

	cl := &c.Client
	if cl.PingInterval >= 0 && cl.PongTimeout >= 0 && cl.PingInterval <= cl.PongTimeout {
		add("client.ping_interval", "must be greater than client.pong_timeout (%s <= %s); use -1 to disable", cl.PingInterval, cl.PongTimeout)
	}
	nonNegative := map[string]int{
		"client.channel_limit":                  cl.ChannelLimit,
		"client.queue_max_size":                 cl.QueueMaxSize,
		"client.concurrency":                    cl.Concurrency,
		"client.connection_limit":               cl.ConnectionLimit,
		"client.user_connection_limit":          cl.UserConnectionLimit,
		"client.connection_rate_limit":          cl.ConnectionRateLimit,
		"client.history_max_publication_limit":  cl.HistoryMaxPublicationLimit,
		"client.recovery_max_publication_limit": cl.RecoveryMaxPublicationLimit,
		"channel.max_length":                    c.Channel.MaxLength,
		"websocket.message_size_limit":          c.WebSocket.MessageSizeLimit,
	}
	for _, k := range sortedIntKeys(nonNegative) {
		if nonNegative[k] < 0 {
			add(k, "must not be negative, got %d", nonNegative[k])
		}
	}
	if cl.WriteDelay < 0 {
		add("client.write_delay", "must not be negative, got %s", cl.WriteDelay)
	}
	if cl.MaxMessagesInFrame == 0 || cl.MaxMessagesInFrame < -1 {
		add("client.max_messages_in_frame", "must be at least 1, or -1 for no cap; got %d", cl.MaxMessagesInFrame)
	}

	errs = append(errs, c.HTTPServer.validate()...)
	// Features Herald does not have yet: refused rather than silently
	// ignored, since a configuration relying on them (a connect proxy that
	// authenticates, an admin UI, a gRPC API) would behave differently.
	for _, f := range []struct {
		key, what string
		on        bool
	}{
		{"client.proxy.connect.enabled", "the connect proxy", c.Client.Proxy.Connect.Enabled},
		{"client.proxy.refresh.enabled", "the refresh proxy", c.Client.Proxy.Refresh.Enabled},
		{"admin.enabled", "the admin web UI", c.Admin.Enabled},
		{"grpc_api.enabled", "the gRPC server API", c.GRPCAPI.Enabled},
		{"webtransport.enabled", "WebTransport", c.WebTransport.Enabled},
		{"opentelemetry.enabled", "OpenTelemetry tracing", c.OpenTelemetry.Enabled},
		{"graphite.enabled", "Graphite export", c.Graphite.Enabled},
	} {
		if f.on {
			add(f.key, "%s is not supported yet", f.what)
		}
	}
	for _, r := range []struct {
		key string
		on  bool
	}{{"engine.redis", c.Engine.Redis.HistoryUseLists}, {"broker.redis", c.Broker.Redis.HistoryUseLists}, {"presence_manager.redis", c.PresenceManager.Redis.HistoryUseLists}} {
		if r.on {
			errs = append(errs, keyErr(r.key+".history_use_lists", "history in Redis lists is not supported: Herald keeps history in streams (Centrifugo's default); nodes sharing a Redis must use streams too"))
		}
	}
	errs = append(errs, c.validateChannel()...)
	errs = append(errs, c.validateRPC()...)
	errs = append(errs, c.validateConsumers()...)
	return errors.Join(errs...)
}

func sortedIntKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *Config) validateChannel() []error {
	var errs []error
	ch := &c.Channel
	add := func(key, format string, args ...any) { errs = append(errs, keyErr(key, format, args...)) }

	for _, kv := range [][2]string{
		{"channel.namespace_boundary", ch.NamespaceBoundary},
		{"channel.user_boundary", ch.UserBoundary},
		{"channel.user_separator", ch.UserSeparator},
	} {
		if kv[1] == "" {
			add(kv[0], "must not be empty")
		}
	}
	if ch.HistoryMetaTTL < 0 {
		add("channel.history_meta_ttl", "must not be negative")
	}
	if !validDataFormat(ch.PublicationDataFormat) {
		add("channel.publication_data_format", "unknown format %q (want json, json_object or binary)", ch.PublicationDataFormat)
	}

	proxyNames := map[string]bool{"default": true}
	for i, p := range c.Proxies {
		key := fmt.Sprintf("proxies[%d]", i)
		switch {
		case p.Name == "default":
			add(key+".name", "the name \"default\" is reserved")
		case !ValidNamespaceName(p.Name):
			add(key+".name", "invalid proxy name %q (want ^[-a-zA-Z0-9_.]{2,}$)", p.Name)
		case proxyNames[p.Name]:
			add(key+".name", "duplicate proxy name %q", p.Name)
		}
		proxyNames[p.Name] = true
	}

	errs = append(errs, validateChannelOptions("channel.without_namespace", ch.WithoutNamespace, ch.HistoryMetaTTL, proxyNames)...)
	seen := map[string]bool{}
	for i, ns := range ch.Namespaces {
		if !ValidNamespaceName(ns.Name) {
			add(fmt.Sprintf("channel.namespaces[%d].name", i), "invalid namespace name %q (want ^[-a-zA-Z0-9_.]{2,}$)", ns.Name)
		} else if seen[ns.Name] {
			add(fmt.Sprintf("channel.namespaces[%d].name", i), "duplicate namespace name %q", ns.Name)
		}
		seen[ns.Name] = true
		errs = append(errs, validateChannelOptions(fmt.Sprintf("channel.namespaces[%s]", ns.Name), ns.ChannelOptions, ch.HistoryMetaTTL, proxyNames)...)
	}

	if pc := c.Client.SubscribeToUserPersonalChannel; pc.Enabled && pc.PersonalChannelNamespace != "" && !seen[pc.PersonalChannelNamespace] {
		add("client.subscribe_to_user_personal_channel.personal_channel_namespace", "namespace %q is not defined in channel.namespaces", pc.PersonalChannelNamespace)
	}
	return errs
}

func validDataFormat(f string) bool {
	switch f {
	case "", "json", "json_object", "binary":
		return true
	}
	return false
}

// validateChannelOptions checks one namespace (or without_namespace), whose
// keys are reported under prefix.
func validateChannelOptions(prefix string, o ChannelOptions, defaultMetaTTL Duration, proxyNames map[string]bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, keyErr(prefix+"."+key, format, args...))
	}
	if o.HistorySize < 0 {
		add("history_size", "must not be negative")
	}
	if o.HistoryTTL < 0 {
		add("history_ttl", "must not be negative")
	}
	if o.HistoryMetaTTL < 0 {
		add("history_meta_ttl", "must not be negative")
	}
	hasHistory := o.HistorySize > 0 && o.HistoryTTL > 0
	if (o.HistorySize > 0) != (o.HistoryTTL > 0) {
		if o.HistorySize > 0 {
			add("history_ttl", "must be set together with history_size")
		} else {
			add("history_size", "must be set together with history_ttl")
		}
	}
	metaTTL := o.HistoryMetaTTL
	if metaTTL == 0 {
		metaTTL = defaultMetaTTL
	}
	if o.HistoryTTL > 0 && metaTTL > 0 && o.HistoryTTL > metaTTL {
		add("history_ttl", "%s must not exceed the history meta TTL %s", o.HistoryTTL, metaTTL)
	}
	if !hasHistory {
		for key, on := range map[string]bool{
			"force_recovery":    o.ForceRecovery,
			"force_positioning": o.ForcePositioning,
			"allow_recovery":    o.AllowRecovery,
			"allow_positioning": o.AllowPositioning,
		} {
			if on {
				add(key, "requires history (history_size and history_ttl)")
			}
		}
	}
	switch o.ForceRecoveryMode {
	case "", "stream":
	case "cache":
	default:
		add("force_recovery_mode", "unknown mode %q (want stream or cache)", o.ForceRecoveryMode)
	}
	if o.AutoCacheRecover && (!o.ForceRecovery || o.ForceRecoveryMode != "cache") {
		add("auto_cache_recover", "requires force_recovery with force_recovery_mode \"cache\"")
	}
	for _, dt := range o.AllowedDeltaTypes {
		if dt != "fossil" {
			add("allowed_delta_types", "unknown delta type %q (want fossil)", dt)
		}
	}
	if !validDataFormat(o.PublicationDataFormat) {
		add("publication_data_format", "unknown format %q (want json, json_object or binary)", o.PublicationDataFormat)
	}
	if o.ChannelRegex != "" {
		if _, err := regexp.Compile(o.ChannelRegex); err != nil {
			add("channel_regex", "invalid regular expression: %v", err)
		}
	}
	switch o.SubscriptionType {
	case "", "stream":
	case "map", "map_clients", "map_users", "shared_poll":
		add("subscription_type", "subscription type %q is not supported yet", o.SubscriptionType)
	default:
		add("subscription_type", "unknown subscription type %q", o.SubscriptionType)
	}

	checkProxy := func(key string, enabled bool, name string) {
		if enabled && name != "" && !proxyNames[name] {
			add(key, "proxy %q is not defined in proxies", name)
		}
	}
	checkProxy("subscribe_proxy_name", o.SubscribeProxyEnabled, o.SubscribeProxyName)
	checkProxy("publish_proxy_name", o.PublishProxyEnabled, o.PublishProxyName)
	checkProxy("sub_refresh_proxy_name", o.SubRefreshProxyEnabled, o.SubRefreshProxyName)
	checkProxy("subscribe_stream_proxy_name", o.SubscribeStreamProxyEnabled, o.SubscribeStreamProxyName)
	if o.SubscribeStreamProxyEnabled && (o.SubscribeProxyEnabled || o.PublishProxyEnabled || o.SubRefreshProxyEnabled) {
		add("subscribe_stream_proxy_enabled", "cannot be combined with subscribe, publish or sub_refresh proxies")
	}
	for _, p := range []struct {
		key string
		on  bool
	}{{"subscribe_proxy_enabled", o.SubscribeProxyEnabled}, {"publish_proxy_enabled", o.PublishProxyEnabled},
		{"sub_refresh_proxy_enabled", o.SubRefreshProxyEnabled}, {"subscribe_stream_proxy_enabled", o.SubscribeStreamProxyEnabled}} {
		if p.on {
			add(p.key, errProxies)
		}
	}
	// Map iteration above is unordered; keep the report stable.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

func (c *Config) validateRPC() []error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, keyErr(key, format, args...)) }
	if c.RPC.NamespaceBoundary == "" {
		add("rpc.namespace_boundary", "must not be empty")
	}
	if c.RPC.Ping.Enabled && c.RPC.Ping.Method == "" {
		add("rpc.ping.method", "must not be empty when rpc.ping.enabled")
	}
	proxyNames := map[string]bool{"default": true}
	for _, p := range c.Proxies {
		proxyNames[p.Name] = true
	}
	if w := c.RPC.WithoutNamespace; w.ProxyEnabled && w.ProxyName != "" && !proxyNames[w.ProxyName] {
		add("rpc.without_namespace.proxy_name", "proxy %q is not defined in proxies", w.ProxyName)
	}
	if c.RPC.WithoutNamespace.ProxyEnabled {
		add("rpc.without_namespace.proxy_enabled", errProxies)
	}
	seen := map[string]bool{}
	for i, ns := range c.RPC.Namespaces {
		switch {
		case !ValidNamespaceName(ns.Name):
			add(fmt.Sprintf("rpc.namespaces[%d].name", i), "invalid namespace name %q (want ^[-a-zA-Z0-9_.]{2,}$)", ns.Name)
		case seen[ns.Name]:
			add(fmt.Sprintf("rpc.namespaces[%d].name", i), "duplicate namespace name %q", ns.Name)
		}
		seen[ns.Name] = true
		if ns.ProxyEnabled && ns.ProxyName != "" && !proxyNames[ns.ProxyName] {
			add(fmt.Sprintf("rpc.namespaces[%s].proxy_name", ns.Name), "proxy %q is not defined in proxies", ns.ProxyName)
		}
		if ns.ProxyEnabled {
			add(fmt.Sprintf("rpc.namespaces[%s].proxy_enabled", ns.Name), errProxies)
		}
	}
	return errs
}

func (c *Config) validateConsumers() []error {
	var errs []error
	seen := map[string]bool{}
	for i, cs := range c.Consumers {
		key := fmt.Sprintf("consumers[%d].name", i)
		switch {
		case !consumerNameRe.MatchString(cs.Name):
			errs = append(errs, keyErr(key, "invalid consumer name %q (want ^[a-zA-Z0-9_]{2,}$)", cs.Name))
		case seen[cs.Name]:
			errs = append(errs, keyErr(key, "duplicate consumer name %q", cs.Name))
		}
		seen[cs.Name] = true
		if cs.Enabled {
			errs = append(errs, keyErr(fmt.Sprintf("consumers[%s].enabled", cs.Name), "consumers are not supported yet"))
		}
	}
	return errs
}

// validate checks the TLS keys of http_server, and refuses the listener
// features Herald does not have yet rather than silently serving without
// them.
func (hs *HTTPServer) validate() []error {
	var errs []error
	for key, t := range map[string]TLS{"http_server.tls": hs.TLS, "http_server.internal_tls": hs.InternalTLS} {
		if t.Enabled && (t.CertPEM == "" || t.KeyPEM == "") {
			errs = append(errs, keyErr(key, "cert_pem and key_pem are required when enabled"))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	if hs.TLSAutocert.Enabled {
		errs = append(errs, keyErr("http_server.tls_autocert.enabled", "automatic certificates are not supported yet; use http_server.tls with cert_pem and key_pem"))
	}
	if hs.HTTP3.Enabled {
		errs = append(errs, keyErr("http_server.http3.enabled", "HTTP/3 is not supported yet"))
	}
	if hs.H2CExternal {
		errs = append(errs, keyErr("http_server.h2c_external", "HTTP/2 cleartext is not supported yet"))
	}
	return errs
}
