package app

import (
	"fmt"
	"log/slog"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/memory"
	redisbroker "github.com/heraldrt/herald/internal/broker/redis"
	"github.com/heraldrt/herald/internal/config"
)

// engines are the broker, presence manager and controller chosen by the
// configuration (engine.type, or broker/presence_manager separately).
type engines struct {
	broker     broker.Broker
	presence   broker.PresenceManager
	controller broker.Controller
}

// inProcess reports whether the broker and the presence manager are both
// the memory ones, so that no API call waits on the network.
func (e engines) inProcess() bool {
	_, b := e.broker.(*memory.Broker)
	_, p := e.presence.(*memory.PresenceManager)
	return b && p
}

// buildEngines picks implementations with a plain switch: memory by
// default; redis for engine.type redis; broker.enabled/presence_manager.enabled
// override each half as in Centrifugo v6.
func buildEngines(cfg config.Config, logger *slog.Logger) (engines, error) {
	var e engines
	brokerType, brokerRedis := cfg.Engine.Type, cfg.Engine.Redis
	presenceType, presenceRedis := cfg.Engine.Type, cfg.Engine.Redis
	if cfg.Broker.Enabled {
		brokerType, brokerRedis = cfg.Broker.Type, cfg.Broker.Redis
	}
	if cfg.PresenceManager.Enabled {
		presenceType, presenceRedis = cfg.PresenceManager.Type, cfg.PresenceManager.Redis
	}
	switch brokerType {
	case "", "memory":
		m := memory.New(memory.Options{})
		e.broker, e.controller = m, m
	case "redis":
		opts, err := redisOptions(brokerRedis, logger)
		if err != nil {
			return e, fmt.Errorf("broker: %w", err)
		}
		b, err := redisbroker.New(opts)
		if err != nil {
			return e, fmt.Errorf("redis broker: %w", err)
		}
		e.broker, e.controller = b, b
	default:
		return e, fmt.Errorf("unknown broker type %q", brokerType)
	}
	switch presenceType {
	case "", "memory":
		e.presence = memory.NewPresenceManager()
	case "redis":
		opts, err := redisOptions(presenceRedis, logger)
		if err != nil {
			return e, fmt.Errorf("presence manager: %w", err)
		}
		pm, err := redisbroker.NewPresenceManager(opts)
		if err != nil {
			return e, fmt.Errorf("redis presence manager: %w", err)
		}
		e.presence = pm
	default:
		return e, fmt.Errorf("unknown presence manager type %q", presenceType)
	}
	return e, nil
}

func redisOptions(c config.RedisEngine, logger *slog.Logger) (redisbroker.Options, error) {
	tlsCfg, err := tlsConfig(c.TLS)
	if err != nil {
		return redisbroker.Options{}, fmt.Errorf("tls: %w", err)
	}
	sentinelTLS, err := tlsConfig(c.SentinelTLS)
	if err != nil {
		return redisbroker.Options{}, fmt.Errorf("sentinel_tls: %w", err)
	}
	return redisbroker.Options{
		Addresses: c.Address, ClusterAddresses: c.ClusterAddress,
		SentinelAddresses: c.SentinelAddress, SentinelMasterName: c.SentinelMasterName,
		SentinelUser: c.SentinelUser, SentinelPassword: c.SentinelPassword,
		SentinelClientName: c.SentinelClientName, SentinelTLS: sentinelTLS,
		DB: c.DB, User: c.User, Password: c.Password, ClientName: c.ClientName,
		ForceRESP2: c.ForceRESP2, TLS: tlsCfg,
		Prefix: c.Prefix, ConnectTimeout: c.ConnectTimeout, IOTimeout: c.IOTimeout,
		PresenceTTL: c.PresenceTTL, PresenceUserMapping: c.PresenceUserMapping,
		Logger: logger,
	}, nil
}
