package httpstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/transport/cors"
)

// SessionRouter delivers a command frame received by /emulation to the
// session it names. node is the node id the client got in its connect reply
// (it may be empty for old clients). A router for several nodes forwards the
// frame to the node owning the session; it returns an error wrapping
// engine.ErrSessionNotFound when the node has no such session, or
// engine.ErrNodeNotFound when the named node does not answer (both 404). Implementations
// must be safe for concurrent use.
type SessionRouter interface {
	HandleEmulation(ctx context.Context, node, session string, frame []byte) error
}

// LocalNode is the part of *engine.Node a LocalRouter needs.
type LocalNode interface {
	HandleEmulation(ctx context.Context, session string, frame []byte) error
}

// LocalRouter is the SessionRouter of a single node: every frame goes to the
// local node, whatever node id the request names.
type LocalRouter struct{ Node LocalNode }

var _ SessionRouter = LocalRouter{}

// HandleEmulation passes frame to the local session.
func (r LocalRouter) HandleEmulation(ctx context.Context, _, session string, frame []byte) error {
	return r.Node.HandleEmulation(ctx, session, frame)
}

// ClusterNode is the part of *engine.Node that routes emulation frames to
// the node owning a session (locally, or through the cluster controller).
type ClusterNode interface {
	HandleEmulationOn(ctx context.Context, nodeID, session string, frame []byte) error
}

// ClusterRouter is the SessionRouter of a node in a cluster: a frame naming
// another node is forwarded to it; an unknown node yields an error wrapping
// engine.ErrNodeNotFound (404).
type ClusterRouter struct{ Node ClusterNode }

var _ SessionRouter = ClusterRouter{}

// HandleEmulation routes frame to the node owning session.
func (r ClusterRouter) HandleEmulation(ctx context.Context, node, session string, frame []byte) error {
	return r.Node.HandleEmulationOn(ctx, node, session, frame)
}

type emulationHandler struct {
	router SessionRouter
	limit  int
	logger *slog.Logger
}

// NewEmulationHandler returns the handler of /emulation: POST with an
// EmulationRequest body (JSON {"node","session","data"} with data a JSON
// string holding the command frame; with Content-Type
// application/octet-stream a Protobuf EmulationRequest). Responses: 204 when
// the frame was delivered (replies go out on the session's stream), 400
// malformed request, 404 unknown session or node, 413 body over
// cfg.MaxRequestBodySize, 405 other methods, 500 other router errors.
func NewEmulationHandler(router SessionRouter, cfg Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	h := &emulationHandler{router: router, limit: cfg.MaxRequestBodySize, logger: logger}
	return cors.New(newChecker(cfg.AllowedOrigins, logger, "emulation"), []string{http.MethodPost}, h)
}

func (h *emulationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r, h.limit)
	if !ok {
		return
	}
	p := protocol.TypeJSON
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		p = protocol.TypeProtobuf
	}
	req, err := protocol.DecodeEmulationRequest(p, body)
	if err != nil || req.Session == "" {
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		return
	}
	err = h.router.HandleEmulation(r.Context(), req.Node, req.Session, req.Data)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, engine.ErrSessionNotFound), errors.Is(err, engine.ErrNodeNotFound):
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
	default:
		h.logger.Error("emulation: routing failed", "session", req.Session, "node", req.Node, "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}
