package uni

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/origin"
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
	// ReadBufferSize and WriteBufferSize are the gorilla buffer sizes; zero
	// means the library defaults.
	ReadBufferSize, WriteBufferSize int
	// AllowedOrigins are the client.allowed_origins patterns; a rejected
	// origin gets 403.
	AllowedOrigins []string
}

func (c WebSocketConfig) withDefaults() WebSocketConfig {
	if c.MessageSizeLimit == 0 {
		c.MessageSizeLimit = 65536
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongWait == 0 {
		c.PongWait = 10 * time.Second
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

type wsHandler struct {
	newSession NewSessionFunc
	cfg        WebSocketConfig
	logger     *slog.Logger
	upgrader   websocket.Upgrader
}

// NewWebSocketHandler returns the uni_websocket handler. The ConnectRequest
// comes from the cf_connect query parameter or, without it, the first
// message; a malformed one closes with 3501. Each Push is one text message
// (or, with JoinPushMessages, a batch joined by '\n').
func NewWebSocketHandler(newSession NewSessionFunc, cfg WebSocketConfig, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	checker, err := origin.NewChecker(cfg.AllowedOrigins)
	if err != nil {
		logger.Error("uni_websocket: invalid allowed origin pattern ignored", "error", err)
	}
	h := &wsHandler{newSession: newSession, cfg: cfg, logger: logger}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  cfg.ReadBufferSize,
		WriteBufferSize: cfg.WriteBufferSize,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     checker.Check,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			http.Error(w, http.StatusText(status), status)
		},
	}
	return h
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("cf_connect")
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = conn.Close() }()
	conn.SetReadLimit(int64(h.cfg.MessageSizeLimit))
	t := &wsTransport{conn: conn, cfg: h.cfg}
	ctx, cancel := context.WithCancel(httpstream.RequestContext(r))
	defer cancel()

	raw := []byte(q)
	if q == "" {
		_ = conn.SetReadDeadline(time.Now().Add(h.cfg.ConnectTimeout))
		if _, raw, err = conn.ReadMessage(); err != nil {
			t.closed.Store(true)
			return
		}
		_ = conn.SetReadDeadline(time.Time{})
	}
	req, err := decodeConnectRequest(raw)
	if err != nil {
		_ = t.Close(protocol.DisconnectBadRequest)
		h.readLoop(t, nil)
		return
	}
	sess, err := h.newSession(ctx, t)
	if err != nil {
		_ = t.Close(httpstream.AsDisconnect(err))
		h.readLoop(t, nil)
		return
	}
	if err := sess.ConnectUnidirectional(req); err == nil {
		t.startPings()
	}
	h.readLoop(t, sess)
}

// readLoop discards client messages until the connection fails or the
// close handshake ends, then reports the loss to sess (nil: nobody).
func (h *wsHandler) readLoop(t *wsTransport, sess Session) {
	for {
		if _, _, err := t.conn.NextReader(); err != nil {
			t.stopPings()
			if !t.closed.Swap(true) && sess != nil {
				sess.Close(protocol.DisconnectConnectionClosed)
			}
			return
		}
	}
}

// ErrClosed is returned by writes after the transport was closed.
var ErrClosed = errors.New("uni: transport closed")

// wsTransport implements engine.Transport over a uni WebSocket.
type wsTransport struct {
	conn   *websocket.Conn
	cfg    WebSocketConfig
	closed atomic.Bool

	writeMu sync.Mutex // serializes data writes

	pingMu    sync.Mutex
	pingTimer *time.Timer
}

var _ engine.Transport = (*wsTransport)(nil)

func (t *wsTransport) Name() string            { return "uni_websocket" }
func (t *wsTransport) Protocol() protocol.Type { return protocol.TypeJSON }
func (t *wsTransport) Unidirectional() bool    { return true }
func (t *wsTransport) Emulation() bool         { return false }

// WriteMany writes each push as a text message (joined by '\n' into one
// message with JoinPushMessages).
func (t *wsTransport) WriteMany(msgs ...[]byte) error {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	return t.writeLocked(msgs)
}

func (t *wsTransport) writeLocked(msgs [][]byte) error {
	if err := t.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout)); err != nil {
		return fmt.Errorf("uni_websocket: set write deadline: %w", err)
	}
	if t.cfg.JoinPushMessages && len(msgs) > 1 {
		w, err := t.conn.NextWriter(websocket.TextMessage)
		if err != nil {
			return fmt.Errorf("uni_websocket: write: %w", err)
		}
		for i, m := range msgs {
			if i > 0 {
				_, _ = w.Write([]byte{'\n'})
			}
			_, _ = w.Write(m)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("uni_websocket: write: %w", err)
		}
		return nil
	}
	for _, m := range msgs {
		if err := t.conn.WriteMessage(websocket.TextMessage, m); err != nil {
			return fmt.Errorf("uni_websocket: write: %w", err)
		}
	}
	return nil
}

// Close sends the disconnect push (unless disabled) and a close frame with
// d's code and reason (unless the closing handshake is disabled, in which
// case the connection is closed at once). For 3000 the connection is
// closed without either. Only the first call has an effect.
func (t *wsTransport) Close(d protocol.Disconnect) error {
	if t.closed.Swap(true) {
		return nil
	}
	t.stopPings()
	if d.Code == protocol.DisconnectConnectionClosed.Code {
		return t.conn.Close()
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if !t.cfg.DisableDisconnectPush {
		msg, err := httpstream.EncodeDisconnect(protocol.TypeJSON, true, d)
		if err == nil {
			err = t.writeLocked([][]byte{msg})
		}
		if err != nil {
			_ = t.conn.Close()
			return err
		}
	}
	if t.cfg.DisableClosingHandshake {
		return t.conn.Close()
	}
	reason := d.Reason
	if len(reason) > 123 {
		reason = reason[:123]
	}
	msg := websocket.FormatCloseMessage(int(d.Code), reason)
	if err := t.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(t.cfg.WriteTimeout)); err != nil {
		_ = t.conn.Close()
		return fmt.Errorf("uni_websocket: write close frame: %w", err)
	}
	return t.conn.SetReadDeadline(time.Now().Add(t.cfg.CloseTimeout))
}

// startPings arms native ping frames and the matching read deadline: a
// connection silent for PingInterval+PongWait is dropped by the read loop.
func (t *wsTransport) startPings() {
	if t.cfg.PingInterval < 0 {
		return
	}
	wait := t.cfg.PingInterval + t.cfg.PongWait
	_ = t.conn.SetReadDeadline(time.Now().Add(wait))
	t.conn.SetPongHandler(func(string) error {
		if t.closed.Load() {
			return nil
		}
		return t.conn.SetReadDeadline(time.Now().Add(wait))
	})
	t.pingMu.Lock()
	defer t.pingMu.Unlock()
	t.pingTimer = time.AfterFunc(t.cfg.PingInterval, t.ping)
}

func (t *wsTransport) ping() {
	if t.closed.Load() {
		return
	}
	if err := t.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(t.cfg.WriteTimeout)); err != nil {
		return // the read loop sees the broken connection
	}
	t.pingMu.Lock()
	defer t.pingMu.Unlock()
	if t.pingTimer != nil {
		t.pingTimer.Reset(t.cfg.PingInterval)
	}
}

func (t *wsTransport) stopPings() {
	t.pingMu.Lock()
	defer t.pingMu.Unlock()
	if t.pingTimer != nil {
		t.pingTimer.Stop()
		t.pingTimer = nil
	}
}
