package websocket

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// gorillaTransport implements engine.Transport over one gorilla/websocket
// connection; it serves connections that negotiated permessage-deflate.
type gorillaTransport struct {
	conn         *websocket.Conn
	proto        protocol.Type
	compressed   bool // permessage-deflate negotiated
	compressMin  int
	writeTimeout time.Duration
	closeTimeout time.Duration

	// closed is set once by Close (or by the read loop on an oversized
	// message); after it, WriteMany fails and the read loop stops
	// delivering messages to the session.
	closed atomic.Bool

	// writeMu serializes WriteMany calls and guards scratch. Close does not
	// take it: gorilla allows WriteControl concurrently with a writer.
	writeMu sync.Mutex
	scratch [binary.MaxVarintLen64]byte
}

var _ engine.Transport = (*gorillaTransport)(nil)

func newGorillaTransport(conn *websocket.Conn, proto protocol.Type, compressed bool, cfg Config) *gorillaTransport {
	return &gorillaTransport{
		conn:         conn,
		proto:        proto,
		compressed:   compressed,
		compressMin:  cfg.CompressionMinSize,
		writeTimeout: cfg.WriteTimeout,
		closeTimeout: cfg.CloseTimeout,
	}
}

// Name returns "websocket".
func (t *gorillaTransport) Name() string { return "websocket" }

// Protocol returns the encoding selected at upgrade.
func (t *gorillaTransport) Protocol() protocol.Type { return t.proto }

// Unidirectional returns false.
func (t *gorillaTransport) Unidirectional() bool { return false }

// Emulation returns false.
func (t *gorillaTransport) Emulation() bool { return false }

// WriteMany writes msgs as one WebSocket message: for JSON a text message of
// msgs joined by '\n' (no trailing newline), for Protobuf a binary message of
// msgs each prefixed by its uvarint length. The whole message must be written
// within the write timeout; on failure the connection is unusable and every
// later write fails too. It returns ErrClosed once Close has been called.
func (t *gorillaTransport) WriteMany(msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	if t.compressed && t.compressMin > 0 {
		size := 0
		for _, m := range msgs {
			size += len(m) + 1
		}
		t.conn.EnableWriteCompression(size >= t.compressMin)
	}
	if err := t.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return fmt.Errorf("websocket: set write deadline: %w", err)
	}
	msgType := websocket.TextMessage
	if t.proto == protocol.TypeProtobuf {
		msgType = websocket.BinaryMessage
	}
	w, err := t.conn.NextWriter(msgType)
	if err != nil {
		if t.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("websocket: write: %w", err)
	}
	for i, m := range msgs {
		if t.proto == protocol.TypeProtobuf {
			n := binary.PutUvarint(t.scratch[:], uint64(len(m)))
			if _, err = w.Write(t.scratch[:n]); err != nil {
				break
			}
		} else if i > 0 {
			if _, err = w.Write(newline); err != nil {
				break
			}
		}
		if _, err = w.Write(m); err != nil {
			break
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if t.closed.Load() {
			return ErrClosed // the write lost a race with Close
		}
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}

// Close ends the connection with d. For d.Code 3000 it closes the TCP
// connection at once; otherwise it sends a close frame with d.Code and
// d.Reason (truncated to 123 bytes on a UTF-8 boundary) and returns, leaving
// the read loop to wait for the client's close frame for up to the close
// timeout. Close blocks for at most the write timeout. Only the first call
// has an effect, and none once the read loop has seen the connection fail
// (it then reports the loss through Session.Close); such calls return nil.
// The returned error is the failure to send the close frame, in which case
// the connection is closed at once.
func (t *gorillaTransport) Close(d protocol.Disconnect) error {
	if d.Code == protocol.DisconnectConnectionClosed.Code {
		if t.closed.Swap(true) {
			return nil
		}
		_ = t.conn.Close()
		return nil
	}
	_, err := t.closeFrame(int(d.Code), d.Reason)
	return err
}

// closeFrame marks the transport closed and starts the closing handshake
// with code and reason. It reports whether it did so: it is a no-op when
// the transport was already closed.
func (t *gorillaTransport) closeFrame(code int, reason string) (bool, error) {
	if t.closed.Swap(true) {
		return false, nil
	}
	msg := websocket.FormatCloseMessage(code, truncateReason(reason))
	if err := t.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(t.writeTimeout)); err != nil {
		_ = t.conn.Close()
		return true, fmt.Errorf("websocket: write close frame: %w", err)
	}
	// Bound the read loop's wait for the client's close frame; it closes
	// the connection when its read fails.
	if err := t.conn.SetReadDeadline(time.Now().Add(t.closeTimeout)); err != nil {
		_ = t.conn.Close()
	}
	return true, nil
}
