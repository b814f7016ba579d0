package app

import (
	"net/http"
	"sync"
	"time"

	"github.com/heraldrt/herald/internal/engine"
)

// connectionLimiter answers 503 on connection endpoints when the node holds
// client.connection_limit sessions, or when new connections arrive faster
// than client.connection_rate_limit per second (a token bucket with a burst
// of one second's worth). Zero limits disable each check.
type connectionLimiter struct {
	node  *engine.Node
	limit int
	rate  float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newConnectionLimiter(n *engine.Node, limit, ratePerSecond int) *connectionLimiter {
	return &connectionLimiter{node: n, limit: limit, rate: float64(ratePerSecond), tokens: float64(ratePerSecond), now: time.Now}
}

// allow reports whether a new connection may be accepted now.
func (l *connectionLimiter) allow() bool {
	if l.limit > 0 && l.node.NumSessions() >= l.limit {
		return false
	}
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.rate {
			l.tokens = l.rate
		}
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// wrap applies the limits to a connection endpoint. CORS preflight requests
// are not connections and pass.
func (l *connectionLimiter) wrap(h http.Handler) http.Handler {
	if l.limit <= 0 && l.rate <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions && !l.allow() {
			http.Error(w, "connection limit reached", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}
