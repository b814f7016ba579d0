// Package streamtest holds helpers for the tests of Herald's HTTP-based and
// unidirectional transports: an in-process engine node with a small channel
// configuration, HS256 token signing, and polling helpers. Only tests import
// it.
package streamtest

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker/memory"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
)

// Secret signs the tokens of Token.
const Secret = "streamtest-secret-key-long-enough-for-hs256"

// WaitTimeout bounds every wait in transport tests; far above what a passing
// test needs.
const WaitTimeout = 5 * time.Second

// NewNode starts an engine node whose configuration is config.Defaults()
// with HS256 tokens signed by Secret, anonymous connections allowed, and a
// "chat" namespace with history (recovery), presence and join/leave where
// clients may subscribe and publish. edit, if not nil, changes the client
// section first. The node is shut down when the test ends.
func NewNode(t testing.TB, edit func(c *config.Client)) *engine.Node {
	t.Helper()
	cfg := config.Defaults()
	cfg.Client.Token.HMACSecretKey = Secret
	cfg.Client.AllowAnonymousConnectWithoutToken = true
	if edit != nil {
		edit(&cfg.Client)
	}
	cfg.Channel.WithoutNamespace.AllowSubscribeForClient = true
	cfg.Channel.WithoutNamespace.AllowSubscribeForAnonymous = true
	chat := config.ChannelOptions{
		Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: 5 * time.Minute, ForceRecovery: true,
		AllowSubscribeForClient: true, AllowSubscribeForAnonymous: true, AllowPublishForSubscriber: true,
		AllowPublishForAnonymous: true, AllowPresenceForSubscriber: true, AllowHistoryForSubscriber: true,
	}
	cfg.Channel.Namespaces = append(cfg.Channel.Namespaces, config.Namespace{Name: "chat", ChannelOptions: chat})
	rules, err := channel.NewRules(cfg.Channel)
	if err != nil {
		t.Fatalf("channel rules: %v", err)
	}
	jc, err := jwt.ConfigFromToken(cfg.Client.Token, false)
	if err != nil {
		t.Fatalf("token config: %v", err)
	}
	v, err := jwt.New(jc, nil)
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	n, err := engine.New(engine.Options{
		Client: cfg.Client, RPC: cfg.RPC, Broker: memory.New(memory.Options{}),
		Presence: memory.NewPresenceManager(), Rules: rules, Verifier: v, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("engine start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n
}

// Token returns an HS256 connection token for user signed with Secret,
// expiring in an hour.
func Token(t testing.TB, user string) string {
	t.Helper()
	return sign(t, map[string]any{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}, Secret)
}

// BadToken returns a token for user signed with the wrong key.
func BadToken(t testing.TB, user string) string {
	t.Helper()
	return sign(t, map[string]any{"sub": user}, "wrong-secret-wrong-secret-wrong-secret")
}

func sign(t testing.TB, claims map[string]any, key string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	hdr := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	unsigned := hdr + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// Publish publishes data to ch through the node API.
func Publish(t testing.TB, n *engine.Node, ch, data string) {
	t.Helper()
	if _, err := n.Publish(context.Background(), ch, []byte(data), engine.PublishOptions{}); err != nil {
		t.Fatalf("publish to %s: %v", ch, err)
	}
}

// Lines delivers the lines read from r on a channel, closed at EOF or on a
// read error. Empty lines are skipped.
func Lines(r *bufio.Reader) <-chan string {
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		for {
			line, err := r.ReadString('\n')
			if s := strings.TrimRight(line, "\r\n"); s != "" {
				ch <- s
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// Next returns the next value of ch, failing the test after WaitTimeout or
// when ch is closed.
func Next[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("stream ended while waiting for %s", what)
		}
		return v
	case <-time.After(WaitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// Until returns the first value of ch for which match holds, skipping the
// others, failing like Next.
func Until[T any](t testing.TB, ch <-chan T, what string, match func(T) bool) T {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			if match(v) {
				return v
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Eventually polls cond until it holds, failing the test with what after
// WaitTimeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", WaitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not an assertion
	}
}

// Ended reports whether ch gets closed within WaitTimeout, draining it.
func Ended[T any](ch <-chan T) bool {
	deadline := time.After(WaitTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
