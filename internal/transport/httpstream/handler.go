package httpstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/transport/cors"
	"github.com/heraldrt/herald/internal/transport/origin"
)

// Session is the engine side of one emulated connection (*engine.Client).
type Session interface {
	// HandleFrame processes a frame of commands; it returns false once the
	// session is closed.
	HandleFrame(frame []byte) bool
	// Close ends the session; it is idempotent. The handler calls it with
	// protocol.DisconnectConnectionClosed when the client goes away.
	Close(d protocol.Disconnect)
}

// NewSessionFunc starts a session on t. ctx carries the engine.RequestInfo
// of the request (headers, cookies, remote address) and is canceled when the
// client goes away. An error that is a protocol.Disconnect (e.g. shutdown)
// is written to the stream as a disconnect push; any other becomes 3004.
type NewSessionFunc func(ctx context.Context, t engine.Transport) (Session, error)

// StreamHeaders sets the no-cache and anti-buffering headers of streaming
// responses on h.
func StreamHeaders(h http.Header, r *http.Request) {
	h.Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expire", "0")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 {
		h.Set("Connection", "keep-alive")
	}
}

// ReadBody reads r's body up to limit bytes. It writes the error response
// itself and returns ok false when the body is too large (413) or cannot be
// read (400).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int) (body []byte, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// RequestContext returns a context for the session of r, carrying its
// engine.RequestInfo and r's values but not its cancellation: a detached
// stream's session outlives ServeHTTP, which cancels r's context.
func RequestContext(r *http.Request) context.Context {
	return engine.WithRequestInfo(context.WithoutCancel(r.Context()), engine.RequestInfo{RemoteAddr: r.RemoteAddr, Header: r.Header})
}

// AsDisconnect returns the protocol.Disconnect in err, or 3004.
func AsDisconnect(err error) protocol.Disconnect {
	var d protocol.Disconnect
	if errors.As(err, &d) {
		return d
	}
	return protocol.DisconnectServerError
}

// newChecker compiles the origin patterns, logging (not failing on) invalid
// ones: Config.Validate reports them at startup.
func newChecker(patterns []string, logger *slog.Logger, name string) *origin.Checker {
	c, err := origin.NewChecker(patterns)
	if err != nil {
		logger.Error(name+": invalid allowed origin pattern ignored", "error", err)
	}
	return c
}

// streamHandler serves HTTP-streaming or SSE connections.
type streamHandler struct {
	newSession NewSessionFunc
	cfg        Config
	logger     *slog.Logger
	sse        bool
}

// NewHTTPStreamHandler returns the handler of /connection/http_stream:
// POST with the first command frame as body (Content-Type
// application/octet-stream selects Protobuf), OPTIONS preflight 204, other
// methods 405, bodies over the limit 413. A nil logger discards logs.
func NewHTTPStreamHandler(newSession NewSessionFunc, cfg Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &streamHandler{newSession: newSession, cfg: cfg.withDefaults(), logger: logger}
	return cors.New(newChecker(cfg.AllowedOrigins, logger, "http_stream"), []string{http.MethodPost}, h)
}

// NewSSEHandler returns the handler of /connection/sse: GET with the first
// command frame in the cf_connect query parameter (400 when missing) or
// POST with it as body. JSON only. A nil logger discards logs.
func NewSSEHandler(newSession NewSessionFunc, cfg Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &streamHandler{newSession: newSession, cfg: cfg.withDefaults(), logger: logger, sse: true}
	return cors.New(newChecker(cfg.AllowedOrigins, logger, "sse"), []string{http.MethodGet, http.MethodPost}, h)
}

func (h *streamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var frame []byte
	if r.Method == http.MethodGet {
		q := r.URL.Query().Get("cf_connect")
		if q == "" {
			http.Error(w, "missing cf_connect", http.StatusBadRequest)
			return
		}
		if len(q) > h.cfg.MaxRequestBodySize {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		frame = []byte(q)
	} else {
		var ok bool
		if frame, ok = ReadBody(w, r, h.cfg.MaxRequestBodySize); !ok {
			return
		}
	}
	opts := StreamOptions{Name: "http_stream", Emulation: true, WriteTimeout: h.cfg.WriteTimeout}
	hdr := w.Header()
	StreamHeaders(hdr, r)
	switch {
	case h.sse:
		opts.Name, opts.Framing, opts.Preamble = "sse", FramingSSE, []byte("\r\n")
		hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	case r.Header.Get("Content-Type") == "application/octet-stream":
		opts.Protocol = protocol.TypeProtobuf
		hdr.Set("Content-Type", "application/octet-stream")
	default:
		hdr.Set("Content-Type", "application/json")
	}
	s := NewStream(w, opts)
	defer s.Finish()
	sess, err := h.newSession(RequestContext(r), s)
	if err != nil {
		d := AsDisconnect(err)
		if d == protocol.DisconnectServerError {
			h.logger.Error(opts.Name+": starting session failed", "remote_addr", r.RemoteAddr, "error", err)
		}
		_ = s.Close(d)
		return
	}
	sess.HandleFrame(frame)
	if s.Detach(w, r, h.cfg.Reactor, func() { sess.Close(protocol.DisconnectConnectionClosed) }) {
		return
	}
	select {
	case <-s.Done():
	case <-r.Context().Done():
		sess.Close(protocol.DisconnectConnectionClosed)
	}
}
