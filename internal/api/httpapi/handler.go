// Package httpapi is the HTTP/JSON binding of the server API (COMPAT.md §4.1):
// per-method routes POST <prefix>/<method>, the legacy route POST <prefix>
// taking newline-separated {"method":..,"params":..} commands, API key
// authentication and the "custom" and "transport" error modes.
//
// A Handler is safe for concurrent use. It starts no goroutines of its own;
// broadcasts and parallel batches are bounded by the api.Executor.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/protocol"
)

// DefaultPrefix is the default path of the legacy route and the parent of
// the per-method routes.
const DefaultPrefix = "/api"

// DefaultMaxBodySize is the default limit on request bodies: 64 MiB, large
// enough for big broadcast and batch requests, which Centrifugo does not
// limit, while bounding the memory one request can pin.
const DefaultMaxBodySize int64 = 64 << 20

// ErrorModeTransport is the Config.ErrorMode value (and the value of the
// X-Centrifugo-Error-Mode / X-Herald-Error-Mode request headers) that makes
// API errors HTTP status codes.
const ErrorModeTransport = "transport"

// Request headers selecting the error mode of one request.
const (
	HeaderErrorMode       = "X-Centrifugo-Error-Mode"
	HeaderHeraldErrorMode = "X-Herald-Error-Mode"
)

// Config configures a Handler.
type Config struct {
	// Prefix is the path of the legacy route; per-method routes are
	// Prefix + "/" + method. A trailing slash is ignored. Empty means
	// DefaultPrefix.
	Prefix string
	// Key is the API key clients present with the X-API-Key header, an
	// "Authorization: apikey <key>" header or the api_key query parameter.
	// If empty and Insecure is false, every request is rejected with 401.
	Key string
	// Insecure disables authentication. False by default.
	Insecure bool
	// ErrorMode selects how API errors are reported. "transport" answers
	// them with an HTTP status (COMPAT.md §2.6) and a {"code","message"}
	// body; any other value, including the empty default ("custom"),
	// answers HTTP 200 with {"error":{"code","message"}}. A request may ask
	// for the transport mode with the X-Centrifugo-Error-Mode or
	// X-Herald-Error-Mode header. The legacy route always uses custom mode.
	ErrorMode string
	// MaxBodySize is the largest accepted request body in bytes; larger
	// bodies get 413. Zero means DefaultMaxBodySize; a negative value
	// disables the limit.
	MaxBodySize int64
}

// Handler serves the HTTP server API. Create it with NewHandler.
type Handler struct {
	exec         *api.Executor
	logger       *slog.Logger
	legacyPath   string
	methodPrefix string
	insecure     bool
	hasKey       bool
	keySum       [sha256.Size]byte
	transport    bool
	maxBody      int64
	shuttingDown atomic.Bool
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler serving the server API of exec. A nil logger
// discards logs.
func NewHandler(exec *api.Executor, cfg Config, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimRight(prefix, "/")
	legacy := prefix
	if legacy == "" {
		legacy = "/"
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	return &Handler{
		exec:         exec,
		logger:       logger,
		legacyPath:   legacy,
		methodPrefix: prefix + "/",
		insecure:     cfg.Insecure,
		hasKey:       cfg.Key != "",
		keySum:       sha256.Sum256([]byte(cfg.Key)),
		transport:    strings.EqualFold(cfg.ErrorMode, ErrorModeTransport),
		maxBody:      cfg.MaxBodySize,
	}
}

// SetShuttingDown makes the Handler answer every later request with 503. It
// is safe to call concurrently with ServeHTTP and more than once.
func (h *Handler) SetShuttingDown() {
	h.shuttingDown.Store(true)
}

// ServeHTTP implements http.Handler. Checks run in this order: unknown path
// or method name → 404, non-POST → 405, shutting down → 503, failed
// authentication → 401, oversized body → 413, unreadable body → 500,
// malformed JSON → 400; then the API call itself.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, legacy, status := h.check(r.Method, r.URL.Path, func() string { return requestKey(r) })
	if status == 0 {
		var body []byte
		if body, status = h.readBody(w, r); status == 0 {
			status, body = h.answer(r.Context(), m, legacy, body, r.Header.Get)
			if body != nil {
				w.Header()["Content-Type"] = jsonContentTypes
				w.WriteHeader(status)
				_, _ = w.Write(body) // the client has gone away; nothing to do
				return
			}
		}
	}
	if status == http.StatusMethodNotAllowed {
		w.Header()["Allow"] = allowPost
	}
	http.Error(w, http.StatusText(status), status)
}

var (
	allowPost        = []string{http.MethodPost}
	jsonContentTypes = []string{jsonType}
)

// check runs the checks that precede reading the body: routing (404),
// the HTTP method (405), shutdown (503) and authentication (401, key
// returns the key the request presents). It returns the API method and
// whether the route is the legacy one, or a non-zero status refusing the
// request.
func (h *Handler) check(httpMethod, path string, key func() string) (api.Method, bool, int) {
	legacy := path == h.legacyPath
	var method api.Method
	if !legacy {
		name, ok := strings.CutPrefix(path, h.methodPrefix)
		if !ok {
			return 0, false, http.StatusNotFound
		}
		m, ok := api.ParseMethod(name)
		// Per-method routes use lowercase names only.
		if !ok || m.String() != name {
			return 0, false, http.StatusNotFound
		}
		method = m
	}
	switch {
	case httpMethod != http.MethodPost:
		return 0, false, http.StatusMethodNotAllowed
	case h.shuttingDown.Load():
		return 0, false, http.StatusServiceUnavailable
	case !h.authorized(key):
		return 0, false, http.StatusUnauthorized
	}
	return method, legacy, 0
}

// authorized reports whether the request carries the API key (or auth is
// off). The comparison is constant-time over SHA-256 digests, so neither
// the key nor its length leaks through timing.
func (h *Handler) authorized(key func() string) bool {
	if h.insecure {
		return true
	}
	if !h.hasKey {
		return false
	}
	got := key()
	if got == "" {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.keySum[:]) == 1
}

// requestKey returns the API key r presents (presentedKey).
func requestKey(r *http.Request) string {
	return presentedKey(r.Header.Get, func(name string) string {
		if r.URL.RawQuery == "" {
			return ""
		}
		return r.URL.Query().Get(name)
	})
}

// presentedKey returns the API key of a request whose header fields and
// query parameters header and query return: the X-API-Key header, an
// "Authorization: apikey <key>" header or the api_key query parameter,
// the first one present.
func presentedKey(header, query func(string) string) string {
	if got := header("X-API-Key"); got != "" {
		return got
	}
	if got := authorizationKey(header("Authorization")); got != "" {
		return got
	}
	return query("api_key")
}

// authorizationKey returns the key of an "Authorization: apikey <key>"
// header value (the scheme is case-insensitive), or "".
func authorizationKey(a string) string {
	if len(a) > len("apikey ") && strings.EqualFold(a[:len("apikey ")], "apikey ") {
		return strings.TrimSpace(a[len("apikey "):])
	}
	return ""
}

// readBody reads the request body within the size limit. It returns a
// non-zero HTTP status on failure.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int) {
	if h.maxBody > 0 && r.ContentLength > h.maxBody {
		return nil, http.StatusRequestEntityTooLarge
	}
	rd := r.Body
	if h.maxBody > 0 {
		rd = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	var (
		body []byte
		err  error
	)
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge
		}
		h.logger.LogAttrs(r.Context(), slog.LevelDebug, "server API: reading request body", slog.Any("error", err))
		return nil, http.StatusInternalServerError
	}
	return body, 0
}

// transportMode reports whether errors of a request whose headers header
// returns are reported as HTTP statuses.
func (h *Handler) transportMode(header func(string) string) bool {
	if h.transport {
		return true
	}
	return strings.EqualFold(header(HeaderErrorMode), ErrorModeTransport) ||
		strings.EqualFold(header(HeaderHeraldErrorMode), ErrorModeTransport)
}

// answer runs an API call that passed check and returns the HTTP status
// and the JSON body of its answer, or a nil body when the status alone
// answers (400 for malformed JSON, 500 for an unencodable result). header
// returns the request's headers; only an error reads them.
func (h *Handler) answer(ctx context.Context, m api.Method, legacy bool, body []byte, header func(string) string) (int, []byte) {
	if legacy {
		return h.serveLegacy(ctx, body)
	}
	res, err := h.exec.Do(ctx, m, body)
	if err != nil {
		if _, ok := errors.AsType[*api.DecodeError](err); ok {
			return http.StatusBadRequest, nil
		}
		pe := api.ProtocolError(err)
		if h.transportMode(header) {
			return StatusCode(pe.Code), appendError(make([]byte, 0, 64), pe)
		}
		buf := append(make([]byte, 0, 80), `{"error":`...)
		buf = appendError(buf, pe)
		return http.StatusOK, append(buf, '}')
	}
	buf, ok := h.appendResult(ctx, make([]byte, 0, 128), `{"result":`, res)
	if !ok {
		return http.StatusInternalServerError, nil
	}
	return http.StatusOK, append(buf, '}')
}

// appendResult appends prefix and the JSON encoding of res. It reports false
// (after logging) if res cannot be encoded, which the Executor's sanitising
// of raw JSON fields should make impossible.
func (h *Handler) appendResult(ctx context.Context, dst []byte, prefix string, res any) ([]byte, bool) {
	dst = append(dst, prefix...)
	if pr, ok := res.(*api.PublishResult); ok {
		return pr.AppendJSON(dst), true
	}
	enc, err := json.Marshal(res)
	if err != nil {
		h.logger.LogAttrs(ctx, slog.LevelError, "server API: encoding result", slog.Any("error", err))
		return dst, false
	}
	return append(dst, enc...), true
}

// legacyCommand is one command of the legacy route.
type legacyCommand struct {
	ID     uint32          `json:"id,omitempty"`
	Method json.RawMessage `json:"method"`
	Params json.RawMessage `json:"params"`
}

// serveLegacy serves the legacy route: every JSON value of the body is a
// command; all are decoded before any runs (so a malformed body runs
// nothing and gets 400), then they run in order. A missing method means
// publish (0, the api.proto enum default).
func (h *Handler) serveLegacy(ctx context.Context, body []byte) (int, []byte) {
	var cmds []legacyCommand
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var c legacyCommand
		err := dec.Decode(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return http.StatusBadRequest, nil
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return http.StatusBadRequest, nil
	}
	buf := make([]byte, 0, 128*len(cmds))
	for i, c := range cmds {
		if i > 0 {
			buf = append(buf, '\n')
		}
		res, err := h.runLegacy(ctx, c)
		buf = append(buf, '{')
		if c.ID != 0 {
			buf = append(buf, `"id":`...)
			buf = strconv.AppendUint(buf, uint64(c.ID), 10)
			buf = append(buf, ',')
		}
		if err == nil {
			var ok bool
			if buf, ok = h.appendResult(ctx, buf, `"result":`, res); !ok {
				err = protocol.ErrInternal
			}
		}
		if err != nil {
			buf = append(buf, `"error":`...)
			buf = appendError(buf, api.ProtocolError(err))
		}
		buf = append(buf, '}')
	}
	return http.StatusOK, buf
}

// runLegacy resolves the method of c and runs it.
func (h *Handler) runLegacy(ctx context.Context, c legacyCommand) (any, error) {
	m := api.MethodPublish
	raw := bytes.TrimSpace(c.Method)
	if len(raw) > 0 && string(raw) != "null" {
		var name string
		if raw[0] == '"' {
			if err := json.Unmarshal(raw, &name); err != nil {
				return nil, api.ErrUnknownMethod
			}
		} else {
			name = string(raw)
		}
		var ok bool
		if m, ok = api.ParseMethod(name); !ok {
			return nil, api.ErrUnknownMethod
		}
	}
	params := c.Params
	if string(bytes.TrimSpace(params)) == "null" {
		params = nil
	}
	return h.exec.Do(ctx, m, params)
}

// StatusCode returns the HTTP status reporting API error code in transport
// error mode (COMPAT.md §2.6).
func StatusCode(code uint32) int {
	switch code {
	case 102, 104:
		return http.StatusNotFound
	case 107, 108:
		return http.StatusBadRequest
	case 112:
		return http.StatusRequestedRangeNotSatisfiable
	case 113:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// appendError appends {"code":N,"message":"..."}.
func appendError(dst []byte, pe *protocol.Error) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendUint(dst, uint64(pe.Code), 10)
	dst = append(dst, `,"message":`...)
	msg, _ := json.Marshal(pe.Message) // a string always marshals
	dst = append(dst, msg...)
	return append(dst, '}')
}
