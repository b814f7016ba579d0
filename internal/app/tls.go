package app

import (
	"crypto/tls"
	"fmt"

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
