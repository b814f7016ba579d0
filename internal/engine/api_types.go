package engine

import (
	"github.com/heraldrt/herald/internal/broker"
)

// PublishOptions are the server API publish options.
type PublishOptions struct {
	SkipHistory    bool
	Tags           map[string]string
	IdempotencyKey string
	Delta          bool
	Version        uint64
	VersionEpoch   string
	// ClientInfo of the publisher for client-side publications.
	ClientInfo *broker.ClientInfo
}

// SubscribeOverride overrides namespace options for one server-side
// subscription; nil fields keep the namespace value.
type SubscribeOverride struct {
	Presence           *bool
	JoinLeave          *bool
	ForcePushJoinLeave *bool
	ForceRecovery      *bool
	ForcePositioning   *bool
}

// SubscribeOptions are the options of a server-side subscription made by the
// server API or by token claims.
type SubscribeOptions struct {
	// ExpireAt in Unix seconds; zero means no expiration.
	ExpireAt int64
	// ChanInfo is the channel info of the subscriber (raw JSON or binary).
	ChanInfo []byte
	// Data is sent to the client in the subscribe push.
	Data []byte
	// RecoverSince makes the server recover from that position.
	RecoverSince *broker.StreamPosition
	Override     SubscribeOverride
	// Client and Session restrict the subscription to one connection of the user.
	Client  string
	Session string
}

// NodeInfo describes a node for the info API.
type NodeInfo struct {
	UID         string
	Name        string
	Version     string
	NumClients  int
	NumUsers    int
	NumChannels int
	NumSubs     int
	Uptime      int64 // seconds
}
