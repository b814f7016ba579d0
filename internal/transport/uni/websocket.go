package uni

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// WebSocketConfig configures uni_websocket. Every zero field is a
// documented default; the zero value accepts only requests without an
// Origin header.
type WebSocketConfig struct {
	// MessageSizeLimit bounds the message carrying the ConnectRequest and
	// any later client message (which is discarded); larger closes with
	// 1009. Zero means 65536.
	MessageSizeLimit int
	// WriteTimeout bounds each write. Zero means 1s.
	WriteTimeout time.Duration
	// PingInterval is the period of native WebSocket ping frames. Zero means
	// 25s; negative disables them.
	PingInterval time.Duration
	// PongWait is how long after a ping the connection may stay silent
	// before it is dropped. Zero means 10s.
	PongWait time.Duration
	// CloseTimeout bounds the wait for the client's close frame. Zero
	// means 5s.
	CloseTimeout time.Duration
	// ConnectTimeout bounds the wait for the first message when the
	// ConnectRequest is not in the cf_connect query parameter. Zero means
	// 10s.
	ConnectTimeout time.Duration
	// JoinPushMessages joins the pushes of one batch with '\n' into one
	// text message instead of one message per push.
	JoinPushMessages bool
	// DisableClosingHandshake closes the TCP connection after the
	// disconnect push instead of sending a close frame.
	DisableClosingHandshake bool
	// DisableDisconnectPush sends only the close frame on disconnect.
	DisableDisconnectPush bool
	// Compression, CompressionLevel and CompressionMinSize enable and tune
	// permessage-deflate as for the bidirectional WebSocket.
	Compression        bool
	CompressionLevel   int
	CompressionMinSize int
	// AllowedOrigins are the client.allowed_origins patterns; a rejected
	// origin gets 403.
	AllowedOrigins []string
}

func (c WebSocketConfig) withDefaults() WebSocketConfig {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

// WebSocketHandler serves uni_websocket; Close stops it at shutdown.
type WebSocketHandler struct {
	*ws.Handler
}

// NewWebSocketHandler returns the uni_websocket handler. The ConnectRequest
// comes from the cf_connect query parameter or, without it, the first
// message; a malformed one closes with 3501. Each Push is one text message
// (or, with JoinPushMessages, a batch joined by '\n'). Connections are
// served by the bidirectional WebSocket's reactor (package websocket, in
// its unidirectional mode): an idle connection holds no goroutine and no
// buffer, and its native pings are fired by a time wheel shared by all.
func NewWebSocketHandler(newSession NewSessionFunc, cfg WebSocketConfig, logger *slog.Logger) *WebSocketHandler {
	cfg = cfg.withDefaults()
	disconnectPush := func(d protocol.Disconnect) []byte {
		msg, err := httpstream.EncodeDisconnect(protocol.TypeJSON, true, d)
		if err != nil {
			return nil
		}
		return msg
	}
	if cfg.DisableDisconnectPush {
		disconnectPush = nil
	}
	start := func(ctx context.Context, t engine.Transport) (ws.Session, error) {
		return startWebSocketSession(ctx, t, newSession, cfg)
	}
	return &WebSocketHandler{Handler: ws.NewHandler(start, ws.Config{
		MessageSizeLimit:   cfg.MessageSizeLimit,
		WriteTimeout:       cfg.WriteTimeout,
		CloseTimeout:       cfg.CloseTimeout,
		Compression:        cfg.Compression,
		CompressionLevel:   cfg.CompressionLevel,
		CompressionMinSize: cfg.CompressionMinSize,
		AllowedOrigins:     cfg.AllowedOrigins,
		Unidirectional: &ws.UniConfig{
			JoinPushMessages:        cfg.JoinPushMessages,
			DisconnectPush:          disconnectPush,
			DisableClosingHandshake: cfg.DisableClosingHandshake,
			PingInterval:            cfg.PingInterval,
			PongWait:                cfg.PongWait,
		},
	}, logger)}
}

// pinger is implemented by the WebSocket transport: native pings start
// once the client is connected.
type pinger interface{ StartPings() }

// wsSession adapts a unidirectional Session to the WebSocket reader: the
// first message is the ConnectRequest (unless it came in cf_connect), later
// messages are discarded.
type wsSession struct {
	t    engine.Transport
	sess Session
	// started is set by whichever comes first: a ConnectRequest, a
	// malformed first message or the connect timeout.
	started atomic.Bool
	timer   *time.Timer // ConnectTimeout while waiting for the first message; set before use
}

// startWebSocketSession starts the session of a new connection. With
// cf_connect it connects at once; otherwise it waits for the first message
// for at most cfg.ConnectTimeout, then drops the connection.
func startWebSocketSession(ctx context.Context, t engine.Transport, newSession NewSessionFunc, cfg WebSocketConfig) (ws.Session, error) {
	var query string
	if ri, ok := engine.RequestInfoFrom(ctx); ok && ri.URL != nil {
		query = ri.URL.Query().Get("cf_connect")
	}
	var req *pb.ConnectRequest
	if query != "" {
		r, err := decodeConnectRequest([]byte(query))
		if err != nil {
			return nil, protocol.DisconnectBadRequest
		}
		req = r
	}
	sess, err := newSession(ctx, t)
	if err != nil {
		return nil, err
	}
	s := &wsSession{t: t, sess: sess}
	if req != nil {
		s.started.Store(true)
		s.connect(req)
		return s, nil
	}
	s.timer = time.AfterFunc(cfg.ConnectTimeout, s.connectTimeout)
	return s, nil
}

// connect connects the session and starts the native pings on success.
func (s *wsSession) connect(req *pb.ConnectRequest) {
	if err := s.sess.ConnectUnidirectional(req); err == nil {
		if p, ok := s.t.(pinger); ok {
			p.StartPings()
		}
	}
}

// connectTimeout drops a connection that sent no ConnectRequest in time.
func (s *wsSession) connectTimeout() {
	if s.started.CompareAndSwap(false, true) {
		_ = s.t.Close(protocol.DisconnectConnectionClosed)
		s.sess.Close(protocol.DisconnectConnectionClosed)
	}
}

// HandleFrame handles the ConnectRequest in the first message and discards
// the others.
func (s *wsSession) HandleFrame(frame []byte) bool {
	if !s.started.CompareAndSwap(false, true) {
		return true
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	r, err := decodeConnectRequest(frame)
	if err != nil {
		_ = s.t.Close(protocol.DisconnectBadRequest)
		s.sess.Close(protocol.DisconnectBadRequest)
		return false
	}
	s.connect(r)
	return true
}

// Close ends the session: the connection is gone.
func (s *wsSession) Close(d protocol.Disconnect) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.sess.Close(d)
}
