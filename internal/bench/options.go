package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
)

// Options are the settings common to every scenario. Zero values are
// replaced by the defaults documented on each field (see withDefaults).
type Options struct {
	// WSURL is the bidirectional WebSocket endpoint. Zero value means
	// "ws://127.0.0.1:8000/connection/websocket".
	WSURL string
	// APIURL is the HTTP server API prefix; methods are posted to
	// APIURL+"/publish". Zero value means "http://127.0.0.1:8000/api".
	APIURL string
	// APIKey is sent as X-API-Key when not empty.
	APIKey string
	// TokenSecret is the HS256 key used to mint a connection JWT per
	// connection (user "bench-<n>"). If empty, connections send no token,
	// which suits servers with client.insecure or anonymous connect.
	TokenSecret string
	// Protocol is the client protocol encoding: "json" (the zero value) or
	// "protobuf".
	Protocol string
	// ServerPID, when not zero, is the server process whose CPU time, RSS,
	// threads and descriptors are read from /proc around the measurement.
	ServerPID int
	// Duration is how long the measured phase lasts. Zero value means 10s.
	Duration time.Duration
	// AllowRemote permits non-loopback targets; otherwise Validate refuses
	// them.
	AllowRemote bool
	// TLS is the client TLS configuration for wss:// and https:// targets
	// (for example a pool trusting a test certificate); nil means the
	// system's roots. ServerName defaults to the target's host.
	TLS *tls.Config
	// SourceAddrs is a range "A-B" or comma list of local IPv4 addresses to
	// spread connections over when the WebSocket target is loopback, so that
	// ephemeral ports never run out. Zero value means
	// "127.0.0.2-127.0.0.250"; "none" binds no source address.
	SourceAddrs string
	// ChannelPrefix prefixes every channel name. Zero value means "bench".
	ChannelPrefix string
	// ConnectConcurrency bounds connections being set up at once. Zero value
	// means 128.
	ConnectConcurrency int
	// Timeout bounds one network step (handshake, connect, subscribe, API
	// request). Zero value means 10s.
	Timeout time.Duration
	// Drain is how long to wait after publishing for the last deliveries.
	// Zero value means 5s.
	Drain time.Duration
	// Progress receives a progress line every ProgressInterval; nil means
	// no progress output.
	Progress io.Writer
	// ProgressInterval is the progress and sampling period. Zero value
	// means 1s.
	ProgressInterval time.Duration
	// Label names the server or build under test in the report (for
	// Summarize, which compares labels); optional.
	Label string
}

// withDefaults returns o with zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.WSURL, "ws://127.0.0.1:8000/connection/websocket")
	def(&o.APIURL, "http://127.0.0.1:8000/api")
	def(&o.Protocol, "json")
	def(&o.SourceAddrs, "127.0.0.2-127.0.0.250")
	def(&o.ChannelPrefix, "bench")
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.ConnectConcurrency <= 0 {
		o.ConnectConcurrency = 128
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Drain <= 0 {
		o.Drain = 5 * time.Second
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	return o
}

// ErrRemoteTarget is returned by Validate for a target that is not a
// loopback address while Options.AllowRemote is false.
var ErrRemoteTarget = errors.New("target is not a loopback address (use --allow-remote to load a remote server)")

// Validate checks o after defaults are applied: URL schemes, the protocol
// name, the source address list, and (unless AllowRemote) that both
// targets resolve only to loopback addresses.
func (o Options) Validate(ctx context.Context) error {
	o = o.withDefaults()
	if _, err := o.protocolType(); err != nil {
		return err
	}
	if _, err := parseSourceAddrs(o.SourceAddrs); err != nil {
		return err
	}
	if strings.ContainsAny(o.APIKey, "\r\n") {
		return errors.New("--api-key: must not contain line breaks")
	}
	for _, t := range []struct{ raw, what string }{{o.WSURL, "ws"}, {o.APIURL, "api"}} {
		u, err := url.Parse(t.raw)
		if err != nil {
			return fmt.Errorf("--%s: %w", t.what, err)
		}
		okScheme := map[string][]string{"ws": {"ws", "wss"}, "api": {"http", "https"}}[t.what]
		if u.Scheme != okScheme[0] && u.Scheme != okScheme[1] {
			return fmt.Errorf("--%s: scheme must be %s or %s, got %q", t.what, okScheme[0], okScheme[1], u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("--%s: no host in %q", t.what, t.raw)
		}
		if o.AllowRemote {
			continue
		}
		if err := checkLoopback(ctx, u.Hostname()); err != nil {
			return fmt.Errorf("--%s %s: %w", t.what, t.raw, err)
		}
	}
	return nil
}

// checkLoopback returns ErrRemoteTarget unless host is, or resolves only
// to, loopback addresses.
func checkLoopback(ctx context.Context, host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().IsLoopback() {
			return nil
		}
		return ErrRemoteTarget
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return ErrRemoteTarget
		}
	}
	if len(addrs) == 0 {
		return ErrRemoteTarget
	}
	return nil
}

// protocolType maps o.Protocol to a protocol.Type.
func (o Options) protocolType() (protocol.Type, error) {
	switch o.Protocol {
	case "", "json":
		return protocol.TypeJSON, nil
	case "protobuf":
		return protocol.TypeProtobuf, nil
	}
	return 0, fmt.Errorf("--protocol must be json or protobuf, got %q", o.Protocol)
}

// maxSourceAddrs bounds the source address list.
const maxSourceAddrs = 65536

// parseSourceAddrs parses "none", "A-B" (an inclusive IPv4 range) or a
// comma separated list of addresses.
func parseSourceAddrs(s string) ([]net.IP, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("source addresses %q: %w", s, err)
		}
		if !lo.Is4() || !hi.Is4() || hi.Less(lo) {
			return nil, fmt.Errorf("source addresses %q: want an increasing IPv4 range", s)
		}
		var out []net.IP
		for ip := lo; ip.Compare(hi) <= 0 && len(out) < maxSourceAddrs; ip = ip.Next() {
			out = append(out, net.IP(ip.AsSlice()))
		}
		return out, nil
	}
	var out []net.IP
	for f := range strings.SplitSeq(s, ",") {
		ip, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("source addresses %q: %w", s, err)
		}
		out = append(out, net.IP(ip.AsSlice()))
	}
	return out, nil
}

// sourcesFor returns the source addresses to use for the WebSocket target:
// the configured list when the target host is an IPv4 loopback address (or
// localhost), else none.
func (o Options) sourcesFor() []net.IP {
	u, err := url.Parse(o.WSURL)
	if err != nil {
		return nil
	}
	host := u.Hostname()
	if !strings.EqualFold(host, "localhost") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Unmap().Is4() || !ip.Unmap().IsLoopback() {
			return nil
		}
	}
	srcs, _ := parseSourceAddrs(o.SourceAddrs)
	return srcs
}

// TLSConfigFromCA returns a client TLS configuration trusting the PEM
// certificates in file (only those).
func TLSConfigFromCA(file string) (*tls.Config, error) {
	pemBytes, err := os.ReadFile(file) //nolint:gosec // a path the user gave
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s: no PEM certificate found", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
