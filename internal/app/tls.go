package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/heraldrt/herald/internal/config"
)

// listenerTLS returns the TLS configurations of the external and the
// internal listener (nil for plain TCP), as Centrifugo v6 applies them:
// http_server.tls serves both ports, or only the external one with
// http_server.tls_external; http_server.internal_tls, when enabled,
// replaces it on the internal port. Both advertise HTTP/2 and HTTP/1.1.
func listenerTLS(hs config.HTTPServer) (external, internal *tls.Config, err error) {
	if external, err = serverTLSConfig(hs.TLS); err != nil {
		return nil, nil, fmt.Errorf("http_server.tls.%w", err)
	}
	if !hs.TLSExternal {
		internal = external
	}
	if hs.InternalTLS.Enabled {
		if internal, err = serverTLSConfig(hs.InternalTLS); err != nil {
			return nil, nil, fmt.Errorf("http_server.internal_tls.%w", err)
		}
	}
	for _, c := range []*tls.Config{external, internal} {
		if c != nil {
			c.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	return external, internal, nil
}

// tlsConfig builds a client TLS configuration (Redis and the like); nil
// when not enabled. cert_pem/key_pem, when set, are the client certificate
// and server_ca_pem the trusted CA.
func tlsConfig(t config.TLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, ServerName: t.ServerName, MinVersion: tls.VersionTLS12} //nolint:gosec // explicit opt-in
	if t.CertPEM != "" || t.KeyPEM != "" {
		pair, err := keyPair(t)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if t.ServerCAPEM != "" {
		pool, err := certPool("server_ca_pem", t.ServerCAPEM)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	return c, nil
}

// serverTLSConfig builds a server TLS configuration; nil when not enabled.
// client_ca_pem turns on mutual TLS.
func serverTLSConfig(t config.TLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	pair, err := keyPair(t)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if t.ClientCAPEM != "" {
		pool, err := certPool("client_ca_pem", t.ClientCAPEM)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// keyPair loads the certificate and key of t.
func keyPair(t config.TLS) (tls.Certificate, error) {
	cert, err := pemValue(t.CertPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_pem: %w", err)
	}
	key, err := pemValue(t.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key_pem: %w", err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_pem/key_pem: %w", err)
	}
	return pair, nil
}

// certPool loads the CA certificates of the PEM value v of key.
func certPool(key, v string) (*x509.CertPool, error) {
	ca, err := pemValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no certificate found", key)
	}
	return pool, nil
}

// pemValue reads a PEM option: raw PEM, base64-encoded PEM or a file path.
func pemValue(v string) ([]byte, error) {
	switch {
	case strings.Contains(v, "-----BEGIN"):
		return []byte(v), nil
	case v == "":
		return nil, errors.New("empty")
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && strings.Contains(string(b), "-----BEGIN") {
		return b, nil
	}
	return os.ReadFile(v)
}
