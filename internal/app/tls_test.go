package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
)

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestServerTLSConfig(t *testing.T) {
	cert, key := selfSigned(t)
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	// Raw PEM, a file path and base64 PEM are all accepted.
	c, err := serverTLSConfig(config.TLS{Enabled: true, CertPEM: certFile, KeyPEM: base64.StdEncoding.EncodeToString(key), ClientCAPEM: string(cert)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificates) != 1 || c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
		t.Fatalf("config %+v", c)
	}
	if c, err := serverTLSConfig(config.TLS{}); c != nil || err != nil {
		t.Fatal("disabled TLS must give nil")
	}
	for _, bad := range []config.TLS{
		{Enabled: true},
		{Enabled: true, CertPEM: "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----", KeyPEM: string(key)},
		{Enabled: true, CertPEM: string(cert), KeyPEM: string(key), ClientCAPEM: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"},
	} {
		if _, err := serverTLSConfig(bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}
