package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// TestRecoverySoak runs clients that reconnect at random and recover while
// publishers run; every client's received offsets, across all its
// sessions, must be exactly 1..top with no gap and no duplicate. It runs for
// a second by default; HERALD_SOAK=60s runs it longer.
func TestRecoverySoak(t *testing.T) {
	duration := time.Second
	if v := os.Getenv("HERALD_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	cfg := testConfig()
	cfg.Client.PingInterval = -1
	cfg.Client.RecoveryMaxPublicationLimit = 100000
	cfg.Channel.Namespaces = append(cfg.Channel.Namespaces, config.Namespace{
		Name: "soak",
		ChannelOptions: config.ChannelOptions{
			HistorySize: 100000, HistoryTTL: time.Hour, ForceRecovery: true, AllowSubscribeForClient: true,
		},
	})
	n := newNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()

	const channel = "soak:1"
	var published int
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		for ctx.Err() == nil {
			if _, err := n.Publish(context.Background(), channel, []byte(`{}`), engine.PublishOptions{}); err != nil {
				t.Error(err)
				return
			}
			published++
			if published%50 == 0 {
				time.Sleep(time.Millisecond) // let subscribers interleave
			}
		}
	}()

	const clients = 8
	var wg sync.WaitGroup
	received := make([][]uint64, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			var offset uint64
			var epoch string
			for round := 0; ctx.Err() == nil; round++ {
				c, tr := connect(t, n, fmt.Sprint(i))
				frame := fmt.Sprintf(`{"id":2,"subscribe":{"channel":%q,"recover":%t,"offset":%d,"epoch":%q}}`, channel, round > 0, offset, epoch)
				c.HandleFrame([]byte(frame))
				reply := decode(t, waitMsg(t, tr, `"id":2`))
				sub := reply["subscribe"].(map[string]any)
				if round > 0 && sub["recovered"] != true {
					t.Errorf("client %d round %d not recovered: %v", i, round, sub)
					return
				}
				epoch = sub["epoch"].(string)
				if round == 0 {
					if off, ok := sub["offset"].(float64); ok {
						offset = uint64(off)
						for o := uint64(1); o <= offset; o++ {
							received[i] = append(received[i], o) // already published before the first subscribe
						}
					}
				}
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				c.Close(protocol.DisconnectConnectionClosed) // abrupt: no unsubscribe
				for _, m := range tr.messages() {
					msg := decode(t, m)
					if sub, ok := msg["subscribe"].(map[string]any); ok {
						pubs, _ := sub["publications"].([]any)
						for _, p := range pubs {
							received[i] = append(received[i], uint64(p.(map[string]any)["offset"].(float64)))
						}
					}
					if push, ok := msg["push"].(map[string]any); ok {
						if pub, ok := push["pub"].(map[string]any); ok {
							received[i] = append(received[i], uint64(pub["offset"].(float64)))
						}
					}
				}
				if len(received[i]) > 0 {
					offset = received[i][len(received[i])-1]
				}
			}
		}(i)
	}
	wg.Wait()
	pubWG.Wait()
	for i, got := range received {
		for j, o := range got {
			if o != uint64(j+1) {
				t.Fatalf("client %d: offset %d at position %d (gap or duplicate); around %v", i, o, j, got[max(0, j-5):min(len(got), j+5)])
			}
		}
		if len(got) == 0 {
			t.Fatalf("client %d received nothing", i)
		}
	}
	t.Logf("published %d publications; %d clients reconnecting at random", published, clients)
}
