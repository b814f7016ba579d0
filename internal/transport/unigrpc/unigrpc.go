// Package unigrpc serves the unidirectional gRPC transport (uni_grpc,
// COMPAT.md §3.6): the service
// centrifugal.centrifugo.unistream.CentrifugoUniStream with the one method
// Consume(ConnectRequest) returns (stream Push), on its own listener (port
// 11000 by default). The schema is proto/unistream.proto; its generated code
// is in unistreampb.
//
// Pushes arrive from the engine already encoded as Protobuf; a pass-through
// codec sends those bytes as gRPC messages without decoding them again.
// A disconnect is sent as a Disconnect push, after which the stream ends.
//
// Concurrency: a Server is safe for concurrent use; each stream is served in
// the gRPC goroutine of its call. Shutdown disconnects nothing by itself:
// the engine's shutdown closes every session (3001) first, which ends the
// streams, then Shutdown stops the listener.
package unigrpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/unigrpc/unistreampb"
)

// Session is the engine side of a uni gRPC connection (*engine.Client).
type Session interface {
	ConnectUnidirectional(req *pb.ConnectRequest) error
	Close(d protocol.Disconnect)
}

// NewSessionFunc starts a session on t; ctx carries an engine.RequestInfo
// built from the peer address and the call metadata, and is canceled when the
// call ends. A protocol.Disconnect error is sent to the client; any other
// becomes 3004.
type NewSessionFunc func(ctx context.Context, t engine.Transport) (Session, error)

// Config configures the uni gRPC server.
type Config struct {
	// MaxReceiveMessageSize bounds the ConnectRequest. Zero means the gRPC
	// default (4 MiB).
	MaxReceiveMessageSize int
	// TLS, when not nil, serves TLS.
	TLS *tls.Config
	// WriteTimeout bounds each send; a client that does not read within it
	// loses the stream. Zero means 1s.
	WriteTimeout time.Duration
}

// Server is the uni gRPC server.
type Server struct {
	srv        *grpc.Server
	newSession NewSessionFunc
	cfg        Config
	logger     *slog.Logger
}

// New returns a Server; Serve starts it. A nil logger discards logs.
func New(newSession NewSessionFunc, cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = time.Second
	}
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 25 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.MaxReceiveMessageSize > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(cfg.MaxReceiveMessageSize))
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s := &Server{srv: grpc.NewServer(opts...), newSession: newSession, cfg: cfg, logger: logger}
	unistreampb.RegisterCentrifugoUniStreamServer(s.srv, service{s: s})
	return s
}

// Serve accepts connections on ln until Shutdown; it returns nil after a
// Shutdown and the listener error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("uni_grpc: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting calls and waits for running streams to end, or
// cancels them when ctx expires. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.srv.Stop()
		<-done
		return ctx.Err()
	}
}

type service struct {
	unistreampb.UnimplementedCentrifugoUniStreamServer
	s *Server
}

// Consume serves one uni stream.
func (svc service) Consume(req *pb.ConnectRequest, stream grpc.ServerStreamingServer[pb.Push]) error {
	s := svc.s
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ri := engine.RequestInfo{Header: http.Header{}}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		ri.RemoteAddr = p.Addr.String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, vs := range md {
			for _, v := range vs {
				ri.Header.Add(k, v)
			}
		}
	}
	t := &transport{stream: stream, timeout: s.cfg.WriteTimeout, done: make(chan struct{})}
	defer t.finish()
	sess, err := s.newSession(engine.WithRequestInfo(ctx, ri), t)
	if err != nil {
		_ = t.Close(httpstream.AsDisconnect(err))
		return nil
	}
	_ = sess.ConnectUnidirectional(req) // on failure the disconnect push was sent
	select {
	case <-t.done:
	case <-ctx.Done():
		sess.Close(protocol.DisconnectConnectionClosed)
	}
	return nil
}

// rawFrame is an already encoded Push, sent as is.
type rawFrame []byte

// rawCodec sends rawFrame values unchanged and uses the Protobuf codec for
// everything else (the ConnectRequest).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(rawFrame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f)}, nil
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

// errClosed is returned by writes after the stream was closed.
var errClosed = errors.New("uni_grpc: stream closed")

// transport implements engine.Transport over a server stream.
type transport struct {
	stream   grpc.ServerStream
	timeout  time.Duration
	done     chan struct{} // closed when the handler must return
	doneOnce sync.Once
	closed   atomic.Bool // set by Close and when the handler returns

	mu sync.Mutex // serializes sends
}

var _ engine.Transport = (*transport)(nil)

func (t *transport) Name() string            { return "uni_grpc" }
func (t *transport) Protocol() protocol.Type { return protocol.TypeProtobuf }
func (t *transport) Unidirectional() bool    { return true }
func (t *transport) Emulation() bool         { return false }

// WriteMany sends each message as one gRPC message. A send blocked by flow
// control for longer than the write timeout ends the stream (the handler
// returns, which fails the blocked send).
func (t *transport) WriteMany(msgs ...[]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return errClosed
	}
	return t.sendLocked(msgs...)
}

func (t *transport) sendLocked(msgs ...[]byte) error {
	timer := time.AfterFunc(t.timeout, t.closeDone)
	defer timer.Stop()
	for _, m := range msgs {
		if err := t.stream.SendMsg(rawFrame(m)); err != nil {
			return fmt.Errorf("uni_grpc: send: %w", err)
		}
	}
	return nil
}

func (t *transport) closeDone() { t.doneOnce.Do(func() { close(t.done) }) }

// Close sends a Disconnect push (nothing for 3000) and ends the stream.
// Only the first call has an effect.
func (t *transport) Close(d protocol.Disconnect) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Swap(true) {
		return nil
	}
	defer t.closeDone()
	if d.Code == protocol.DisconnectConnectionClosed.Code {
		return nil
	}
	msg, err := httpstream.EncodeDisconnect(protocol.TypeProtobuf, true, d)
	if err != nil {
		return err
	}
	return t.sendLocked(msg)
}

// finish runs when the handler returns; no send starts after it. It does not
// wait for a send in progress, which the end of the call fails.
func (t *transport) finish() {
	t.closed.Store(true)
	t.closeDone()
}
