package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/protocol"
)

type nopTransport struct{}

func (nopTransport) Name() string                    { return "nop" }
func (nopTransport) Protocol() protocol.Type         { return protocol.TypeJSON }
func (nopTransport) Unidirectional() bool            { return false }
func (nopTransport) Emulation() bool                 { return false }
func (nopTransport) WriteMany(...[]byte) error       { return nil }
func (nopTransport) Close(protocol.Disconnect) error { return nil }

func TestConnectionLimit(t *testing.T) {
	cfg := config.Defaults()
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.node.Shutdown(context.Background())
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := newConnectionLimiter(a.node, 1, 0).wrap(ok)
	status := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connection/websocket", nil))
		return rec.Code
	}
	if got := status(); got != http.StatusNoContent {
		t.Fatalf("first connection: %d", got)
	}
	c, err := a.node.NewClient(context.Background(), nopTransport{})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(); got != http.StatusServiceUnavailable {
		t.Fatalf("over the limit: %d, want 503", got)
	}
	c.Close(protocol.DisconnectConnectionClosed)
	if got := status(); got != http.StatusNoContent {
		t.Fatalf("after a close: %d", got)
	}
}

func TestConnectionRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newConnectionLimiter(nil, 0, 2)
	l.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		if !l.allow() {
			t.Fatalf("burst connection %d refused", i+1)
		}
	}
	if l.allow() {
		t.Fatal("third connection in the same instant accepted")
	}
	now = now.Add(500 * time.Millisecond)
	if !l.allow() {
		t.Fatal("token not refilled after half a second at 2/s")
	}
}
