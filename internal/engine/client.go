package engine

import (
	"context"

	"github.com/heraldrt/herald/internal/protocol"
)

// Client is one client connection's session.
type Client struct {
	node      *Node
	transport Transport
}

// HandleFrame processes one transport frame of commands. It returns false
// when the connection is closed or must stop reading.
func (c *Client) HandleFrame(frame []byte) bool { return false }

// Close ends the session with d. Transports call it with
// protocol.DisconnectConnectionClosed when the connection is lost.
func (c *Client) Close(d protocol.Disconnect) {}

// NewClient starts a session for a new connection on t. ctx carries the
// RequestInfo and lives as long as the connection. It fails with
// protocol.DisconnectShutdown when the node is shutting down.
func (n *Node) NewClient(ctx context.Context, t Transport) (*Client, error) {
	return &Client{node: n, transport: t}, nil
}
