// Package app is Herald's composition root: it builds the engine, broker,
// presence manager, transports and server API from a config.Config, serves
// them over HTTP and shuts them down in order. Only cmd and internal/cli
// import it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/api/httpapi"
	"github.com/heraldrt/herald/internal/api/httplane"
	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/demo"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/uni"
	"github.com/heraldrt/herald/internal/transport/unigrpc"
	"github.com/heraldrt/herald/internal/transport/websocket"
	"github.com/heraldrt/herald/internal/uring"
)

// Version is the server version reported to clients and by `herald version`.
const Version = "0.1.0"

// App is a running Herald server.
type App struct {
	cfg       config.Config
	log       *slog.Logger
	node      *engine.Node
	api       *httpapi.Handler
	apiMux    *http.ServeMux // the mux serving the API: its listener gets the fast lane
	wsMux     *http.ServeMux // the mux serving WebSockets: its listener upgrades directly
	wsHandler http.Handler   // the WebSocket endpoint (behind the connection limits)
	servers   []*http.Server
	fast      []*fasthttp.Server // server-API fast lanes (split.go)
	lanes     []*httplane.Lane   // their reactor lanes (split.go)
	inlineAPI bool               // no API call waits on the network: the reactor lane may serve them
	addrs     []net.Addr
	wg        sync.WaitGroup
	shutOnce  sync.Once
	shutErr   error
	limiter   *connectionLimiter
	ws        *websocket.Handler    // nil when websocket.disabled
	uniWS     *uni.WebSocketHandler // nil unless uni_websocket.enabled
	streams   *httpstream.Reactor   // detached HTTP-streaming and SSE responses
	uniGRPC   *unigrpc.Server       // uni_grpc listener (issue 4); nil when disabled
	demo      bool                  // serve the demo page at /demo/ (development mode)
}

// New builds an App from a validated configuration.
func New(cfg config.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	rules, err := channel.NewRules(cfg.Channel)
	if err != nil {
		return nil, fmt.Errorf("channel rules: %w", err)
	}
	verifier, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	eng, err := buildEngines(cfg, logger)
	if err != nil {
		return nil, err
	}
	node, err := engine.New(engine.Options{
		Client:            cfg.Client,
		RPC:               cfg.RPC,
		ChannelDataFormat: cfg.Channel.PublicationDataFormat,
		Broker:            eng.broker,
		Controller:        eng.controller,
		Presence:          eng.presence,
		Rules:             rules,
		Verifier:          verifier,
		Logger:            logger,
		Version:           Version + " Herald",
		Name:              nodeName(cfg),
	})
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, log: logger, node: node, inlineAPI: eng.inProcess()}, nil
}

func nodeName(cfg config.Config) string {
	if cfg.Node.Name != "" {
		return cfg.Node.Name
	}
	return "herald_" + strconv.Itoa(cfg.HTTPServer.Port)
}

func newVerifier(cfg config.Config) (*jwt.Verifier, error) {
	conn, sub, err := verifierConfigs(cfg)
	if err != nil {
		return nil, err
	}
	return jwt.New(conn, sub)
}

func verifierConfigs(cfg config.Config) (jwt.Config, *jwt.Config, error) {
	conn, err := jwt.ConfigFromToken(cfg.Client.Token, cfg.Client.InsecureSkipTokenSignatureVerify)
	if err != nil {
		return jwt.Config{}, nil, fmt.Errorf("client.token: %w", err)
	}
	var sub *jwt.Config
	if cfg.Client.SubscriptionToken.Enabled {
		s, err := jwt.ConfigFromToken(cfg.Client.SubscriptionToken.Token, cfg.Client.InsecureSkipTokenSignatureVerify)
		if err != nil {
			return jwt.Config{}, nil, fmt.Errorf("client.subscription_token: %w", err)
		}
		sub = &s
	}
	return conn, sub, nil
}

// Node returns the engine node.
func (a *App) Node() *engine.Node { return a.node }

// Addrs returns the addresses the App listens on (external first), valid
// after Start.
func (a *App) Addrs() []net.Addr { return a.addrs }

// Start starts the engine and the HTTP listeners. It returns once the
// listeners are bound.
func (a *App) Start(ctx context.Context) error {
	if err := a.node.Start(ctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if err := a.startUniGRPC(); err != nil { // issue 4
		return err
	}
	if err := uring.Available(); err != nil {
		a.log.Info("fan-out writes are made one by one", "reason", err)
	} else {
		a.log.Info("fan-out writes are batched through io_uring")
	}
	external, internal := a.handlers()
	hs := a.cfg.HTTPServer
	externalTLS, internalTLS, err := listenerTLS(hs)
	if err != nil {
		return err
	}
	if err := a.listen(net.JoinHostPort(hs.Address, strconv.Itoa(hs.Port)), external, externalTLS); err != nil {
		return err
	}
	if internal == nil {
		return nil
	}
	addr := hs.InternalAddress
	if addr == "" {
		addr = hs.Address
	}
	return a.listen(net.JoinHostPort(addr, strconv.Itoa(hs.InternalPort)), internal, internalTLS)
}

// listen serves h on addr, over TLS when tlsCfg is not nil.
func (a *App) listen(addr string, h http.Handler, tlsCfg *tls.Config) error {
	ln, err := listenTCP(addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	a.servers = append(a.servers, srv)
	a.addrs = append(a.addrs, ln.Addr())
	if tlsCfg != nil {
		// net/http serves HTTP/2 and sets Request.TLS only on connections
		// it sees as *tls.Conn, so a TLS listener is not split. Under each
		// tls.Conn an nbtls.Conn lets the WebSocket reactor read upgraded
		// connections without a goroutine each.
		ln = nbtls.NewListener(ln, tlsCfg)
		srv.ConnContext = nbtls.ConnContext
	} else {
		mux, _ := h.(*http.ServeMux)
		ln = a.split(ln, addr, h, mux != nil && mux == a.apiMux, mux != nil && mux == a.wsMux)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server", "addr", addr, "error", err)
		}
	}()
	a.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// handlers returns the external mux and, when http_server.internal_port is
// set, a separate internal mux (nil otherwise).
func (a *App) handlers() (external *http.ServeMux, internal *http.ServeMux) {
	cfg := a.cfg
	a.limiter = newConnectionLimiter(a.node, cfg.Client.ConnectionLimit, cfg.Client.ConnectionRateLimit)
	external = http.NewServeMux()
	internal = external
	if cfg.HTTPServer.InternalPort != 0 && cfg.HTTPServer.InternalPort != cfg.HTTPServer.Port {
		internal = http.NewServeMux()
	}
	if !cfg.WebSocket.Disabled {
		ws := websocket.NewHandler(func(ctx context.Context, t engine.Transport) (websocket.Session, error) {
			c, err := a.node.NewClient(ctx, t)
			if err != nil {
				return nil, err
			}
			return c, nil
		}, websocket.Config{
			MessageSizeLimit:             cfg.WebSocket.MessageSizeLimit,
			WriteTimeout:                 cfg.WebSocket.WriteTimeout,
			Compression:                  cfg.WebSocket.Compression,
			CompressionLevel:             cfg.WebSocket.CompressionLevel,
			CompressionMinSize:           cfg.WebSocket.CompressionMinSize,
			DecompressedMessageSizeLimit: cfg.WebSocket.DecompressedMessageSizeLimit,
			AllowedOrigins:               cfg.Client.AllowedOrigins,
		}, a.log)
		a.wsHandler = a.limiter.wrap(ws)
		external.Handle(cfg.WebSocket.HandlerPrefix, a.wsHandler)
		a.ws = ws
		a.wsMux = external
	}
	a.mountStreamTransports(external) // issue 4: HTTP-streaming, SSE, /emulation, uni_*
	if !cfg.HTTPAPI.Disabled {
		a.api = httpapi.NewHandler(api.New(a.node, api.Config{}), httpapi.Config{
			Prefix:    cfg.HTTPAPI.HandlerPrefix,
			Key:       cfg.HTTPAPI.Key,
			Insecure:  cfg.HTTPAPI.Insecure,
			ErrorMode: cfg.HTTPAPI.ErrorMode,
		}, a.log)
		mux := internal
		if cfg.HTTPAPI.External {
			mux = external
		}
		mux.Handle(cfg.HTTPAPI.HandlerPrefix, a.api)
		mux.Handle(cfg.HTTPAPI.HandlerPrefix+"/", a.api)
		a.apiMux = mux
	}
	if cfg.Health.Enabled {
		internal.HandleFunc(cfg.Health.HandlerPrefix, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
		})
	}
	if cfg.Debug.Enabled {
		prefix := strings.TrimSuffix(cfg.Debug.HandlerPrefix, "/")
		internal.HandleFunc(prefix+"/", pprof.Index)
		internal.HandleFunc(prefix+"/cmdline", pprof.Cmdline)
		internal.HandleFunc(prefix+"/profile", pprof.Profile)
		internal.HandleFunc(prefix+"/symbol", pprof.Symbol)
		internal.HandleFunc(prefix+"/trace", pprof.Trace)
	}
	if cfg.Prometheus.Enabled {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		registerNodeMetrics(reg, a.node)
		internal.Handle(cfg.Prometheus.HandlerPrefix, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	if internal == external {
		return external, nil
	}
	return external, internal
}

// Reload applies a new configuration's token keys, channel and RPC
// namespaces and client options (SIGHUP).
func (a *App) Reload(cfg config.Config) error {
	rules, err := channel.NewRules(cfg.Channel)
	if err != nil {
		return fmt.Errorf("channel rules: %w", err)
	}
	v, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	a.node.Reload(cfg.Client, cfg.RPC, rules, v)
	return nil
}

// Shutdown stops accepting connections, disconnects clients with 3001
// shutdown and stops the listeners. It is idempotent.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutOnce.Do(func() {
		if a.api != nil {
			a.api.SetShuttingDown()
		}
		var errs []error
		errs = append(errs, a.node.Shutdown(ctx))
		if a.uniGRPC != nil { // issue 4
			errs = append(errs, a.uniGRPC.Shutdown(ctx))
		}
		for _, s := range a.servers {
			errs = append(errs, s.Shutdown(ctx))
		}
		for _, l := range a.lanes {
			errs = append(errs, l.Close())
		}
		for _, s := range a.fast {
			errs = append(errs, s.ShutdownWithContext(ctx))
		}
		if a.ws != nil {
			errs = append(errs, a.ws.Close()) // stops the WebSocket reactor
		}
		if a.uniWS != nil {
			errs = append(errs, a.uniWS.Close()) // and uni_websocket's
		}
		if a.streams != nil {
			errs = append(errs, a.streams.Close()) // and the detached streams'
		}
		a.wg.Wait()
		a.shutErr = errors.Join(errs...)
	})
	return a.shutErr
}

// --- Issue 4: HTTP-based and unidirectional transports. ---

// EnableDemo makes the App serve the demo chat page at /demo/ (development
// mode; off by default). Call it before Start.
func (a *App) EnableDemo() { a.demo = true }

// mountStreamTransports registers the enabled emulation and unidirectional
// HTTP transports, and the demo page in development mode, on mux.
func (a *App) mountStreamTransports(mux *http.ServeMux) {
	cfg := a.cfg
	if a.demo {
		mux.Handle("/demo/", http.StripPrefix("/demo", demo.Handler()))
	}
	a.streams = httpstream.NewReactor()
	origins := cfg.Client.AllowedOrigins
	bidi := func(ctx context.Context, t engine.Transport) (httpstream.Session, error) {
		c, err := a.node.NewClient(ctx, t)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	oneWay := func(ctx context.Context, t engine.Transport) (uni.Session, error) {
		c, err := a.node.NewClient(ctx, t)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	if cfg.HTTPStream.Enabled {
		mux.Handle(cfg.HTTPStream.HandlerPrefix, a.limiter.wrap(httpstream.NewHTTPStreamHandler(bidi,
			httpstream.Config{MaxRequestBodySize: cfg.HTTPStream.MaxRequestBodySize, AllowedOrigins: origins, Reactor: a.streams}, a.log)))
	}
	if cfg.SSE.Enabled {
		mux.Handle(cfg.SSE.HandlerPrefix, a.limiter.wrap(httpstream.NewSSEHandler(bidi,
			httpstream.Config{MaxRequestBodySize: cfg.SSE.MaxRequestBodySize, AllowedOrigins: origins, Reactor: a.streams}, a.log)))
	}
	if cfg.HTTPStream.Enabled || cfg.SSE.Enabled {
		mux.Handle(cfg.Emulation.HandlerPrefix, httpstream.NewEmulationHandler(httpstream.ClusterRouter{Node: a.node},
			httpstream.Config{MaxRequestBodySize: cfg.Emulation.MaxRequestBodySize, AllowedOrigins: origins}, a.log))
	}
	uniHTTP := func(c config.UniHTTPTransport) uni.HTTPConfig {
		hc := uni.HTTPConfig{MaxRequestBodySize: c.MaxRequestBodySize, AllowedOrigins: origins, Reactor: a.streams}
		if c.ConnectCodeToHTTPResponse.Enabled {
			for _, tr := range c.ConnectCodeToHTTPResponse.Transforms {
				hc.ConnectCodeToHTTPResponse = append(hc.ConnectCodeToHTTPResponse,
					uni.HTTPResponseTransform{Code: tr.Code, StatusCode: tr.To.StatusCode, Body: tr.To.Body})
			}
		}
		return hc
	}
	if cfg.UniSSE.Enabled {
		mux.Handle(cfg.UniSSE.HandlerPrefix, a.limiter.wrap(uni.NewSSEHandler(oneWay, uniHTTP(cfg.UniSSE), a.log)))
	}
	if cfg.UniHTTPStream.Enabled {
		mux.Handle(cfg.UniHTTPStream.HandlerPrefix, a.limiter.wrap(uni.NewHTTPStreamHandler(oneWay, uniHTTP(cfg.UniHTTPStream), a.log)))
	}
	if u := cfg.UniWebSocket; u.Enabled {
		a.uniWS = uni.NewWebSocketHandler(oneWay, uni.WebSocketConfig{
			MessageSizeLimit: u.MessageSizeLimit, WriteTimeout: u.WriteTimeout,
			JoinPushMessages: u.JoinPushMessages, DisableClosingHandshake: u.DisableClosingHandshake,
			DisableDisconnectPush: u.DisableDisconnectPush, Compression: u.Compression,
			CompressionLevel: u.CompressionLevel, CompressionMinSize: u.CompressionMinSize,
			AllowedOrigins: origins,
		}, a.log)
		mux.Handle(u.HandlerPrefix, a.limiter.wrap(a.uniWS))
	}
}

// startUniGRPC starts the uni_grpc listener when enabled.
func (a *App) startUniGRPC() error {
	u := a.cfg.UniGRPC
	if !u.Enabled {
		return nil
	}
	tlsCfg, err := serverTLSConfig(u.TLS)
	if err != nil {
		return fmt.Errorf("uni_grpc.tls: %w", err)
	}
	addr := net.JoinHostPort(u.Address, strconv.Itoa(u.Port))
	ln, err := listenTCP(addr)
	if err != nil {
		return fmt.Errorf("uni_grpc: listen %s: %w", addr, err)
	}
	a.uniGRPC = unigrpc.New(func(ctx context.Context, t engine.Transport) (unigrpc.Session, error) {
		c, err := a.node.NewClient(ctx, t)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, unigrpc.Config{MaxReceiveMessageSize: u.MaxReceiveMessageSize, TLS: tlsCfg}, a.log)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.uniGRPC.Serve(ln); err != nil {
			a.log.Error("uni_grpc server", "addr", addr, "error", err)
		}
	}()
	a.log.Info("uni_grpc listening", "addr", ln.Addr().String())
	return nil
}
