package uni

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/transport/cors"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/origin"
)

// Session is the engine side of a unidirectional connection
// (*engine.Client).
type Session interface {
	// ConnectUnidirectional connects with req; on failure it has closed the
	// session and returns the protocol.Disconnect sent to the client (an
	// error wrapping the original *protocol.Error, when there is one, lets
	// connect_code_to_http_response match on the connect error code).
	ConnectUnidirectional(req *pb.ConnectRequest) error
	// Close ends the session; it is idempotent.
	Close(d protocol.Disconnect)
}

// NewSessionFunc starts a session on t. ctx carries the engine.RequestInfo
// of the request and is canceled when the client goes away. A
// protocol.Disconnect error (e.g. shutdown) is sent to the client; any other
// becomes 3004.
type NewSessionFunc func(ctx context.Context, t engine.Transport) (Session, error)

// HTTPResponseTransform maps a connect failure to an HTTP response.
type HTTPResponseTransform struct {
	// Code is a connect error code (e.g. 109) or the disconnect code the
	// failure was mapped to (e.g. 3500).
	Code uint32
	// StatusCode is the HTTP status to answer with.
	StatusCode int
	// Body is the response body (text/plain).
	Body string
}

// HTTPConfig configures uni_sse or uni_http_stream. Its zero value accepts
// only requests without an Origin header.
type HTTPConfig struct {
	// MaxRequestBodySize bounds the ConnectRequest (POST body or
	// cf_connect); larger gets 413. Zero means 65536.
	MaxRequestBodySize int
	// WriteTimeout bounds each write to the stream. Zero means 1s.
	WriteTimeout time.Duration
	// AllowedOrigins are the client.allowed_origins patterns.
	AllowedOrigins []string
	// ConnectCodeToHTTPResponse, when not empty, turns a connect failure
	// whose code matches into an HTTP response instead of a 200 stream
	// holding a disconnect push.
	ConnectCodeToHTTPResponse []HTTPResponseTransform
	// Reactor, when set, detaches running streams from their net/http
	// goroutines; see httpstream.Config.Reactor.
	Reactor *httpstream.Reactor
}

type httpHandler struct {
	newSession NewSessionFunc
	cfg        HTTPConfig
	logger     *slog.Logger
	sse        bool
}

// NewSSEHandler returns the uni_sse handler: GET with an optional cf_connect
// query parameter (absent means {}), or POST with the ConnectRequest as
// body; each Push is one "data:" event. A malformed ConnectRequest gets 400.
func NewSSEHandler(newSession NewSessionFunc, cfg HTTPConfig, logger *slog.Logger) http.Handler {
	return newHTTPHandler(newSession, cfg, logger, true, []string{http.MethodGet, http.MethodPost})
}

// NewHTTPStreamHandler returns the uni_http_stream handler: POST with the
// ConnectRequest as JSON body; the response is newline-delimited JSON
// Pushes. A malformed ConnectRequest gets 400.
func NewHTTPStreamHandler(newSession NewSessionFunc, cfg HTTPConfig, logger *slog.Logger) http.Handler {
	return newHTTPHandler(newSession, cfg, logger, false, []string{http.MethodPost})
}

func newHTTPHandler(newSession NewSessionFunc, cfg HTTPConfig, logger *slog.Logger, sse bool, methods []string) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRequestBodySize == 0 {
		cfg.MaxRequestBodySize = httpstream.DefaultMaxRequestBodySize
	}
	checker, err := origin.NewChecker(cfg.AllowedOrigins)
	if err != nil {
		logger.Error("uni: invalid allowed origin pattern ignored", "error", err)
	}
	h := &httpHandler{newSession: newSession, cfg: cfg, logger: logger, sse: sse}
	return cors.New(checker, methods, h)
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var raw []byte
	if r.Method == http.MethodGet {
		q := r.URL.Query().Get("cf_connect")
		if len(q) > h.cfg.MaxRequestBodySize {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		raw = []byte(q)
	} else {
		var ok bool
		if raw, ok = httpstream.ReadBody(w, r, h.cfg.MaxRequestBodySize); !ok {
			return
		}
	}
	req, err := decodeConnectRequest(raw)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		return
	}
	opts := httpstream.StreamOptions{Name: "uni_http_stream", Unidirectional: true, WriteTimeout: h.cfg.WriteTimeout, DeferClose: true}
	hdr := w.Header()
	httpstream.StreamHeaders(hdr, r)
	if h.sse {
		opts.Name, opts.Framing, opts.Preamble = "uni_sse", httpstream.FramingSSE, []byte("\r\n")
		hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	} else {
		hdr.Set("Content-Type", "application/json")
	}
	s := httpstream.NewStream(w, opts)
	defer s.Finish()
	sess, err := h.newSession(httpstream.RequestContext(r), s)
	if err != nil {
		d := httpstream.AsDisconnect(err)
		if d == protocol.DisconnectServerError {
			h.logger.Error(opts.Name+": starting session failed", "remote_addr", r.RemoteAddr, "error", err)
		}
		_ = s.Close(d)
		s.EndDefer(nil)
		return
	}
	connectErr := sess.ConnectUnidirectional(req)
	s.EndDefer(func(w http.ResponseWriter, d protocol.Disconnect) bool {
		return h.respondConnectError(w, connectErr, d)
	})
	if s.Detach(w, r, h.cfg.Reactor, func() { sess.Close(protocol.DisconnectConnectionClosed) }) {
		return
	}
	select {
	case <-s.Done():
	case <-r.Context().Done():
		sess.Close(protocol.DisconnectConnectionClosed)
	}
}

// respondConnectError writes the HTTP response configured for a connect
// failure, matching first the connect error code then the disconnect code.
func (h *httpHandler) respondConnectError(w http.ResponseWriter, err error, d protocol.Disconnect) bool {
	if err == nil || len(h.cfg.ConnectCodeToHTTPResponse) == 0 {
		return false
	}
	codes := []uint32{d.Code}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		codes = []uint32{pe.Code, d.Code}
	}
	for _, code := range codes {
		for _, tr := range h.cfg.ConnectCodeToHTTPResponse {
			if tr.Code == code {
				hdr := w.Header()
				for _, k := range []string{"Content-Type", "Cache-Control", "Pragma", "Expire", "X-Accel-Buffering", "Connection"} {
					hdr.Del(k)
				}
				http.Error(w, tr.Body, tr.StatusCode)
				return true
			}
		}
	}
	return false
}

// decodeConnectRequest decodes a JSON ConnectRequest; empty input means {}.
func decodeConnectRequest(raw []byte) (*pb.ConnectRequest, error) {
	req, err := protocol.DecodeConnectRequestJSON(raw)
	if errors.Is(err, protocol.ErrEmptyFrame) {
		return &pb.ConnectRequest{}, nil
	}
	return req, err
}
