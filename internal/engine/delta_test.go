package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/fossil"
)

func TestDeltaCompressionJSON(t *testing.T) {
	cfg := testConfig()
	cfg.Channel.Namespaces = append(cfg.Channel.Namespaces, config.Namespace{
		Name: "delta",
		ChannelOptions: config.ChannelOptions{
			HistorySize: 10, HistoryTTL: time.Minute, ForceRecovery: true,
			AllowSubscribeForClient: true, AllowedDeltaTypes: []string{"fossil"},
		},
	})
	n := newNode(t, cfg)
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"delta:1","delta":"fossil"}}`))
	if got := waitMsg(t, tr, `"id":2`); !strings.Contains(got, `"delta":true`) {
		t.Fatalf("delta not negotiated: %s", got)
	}
	big := `{"symbol":"ABC","description":"` + strings.Repeat("x", 200) + `","price":`
	ctx := context.Background()
	for _, price := range []string{"100", "101"} {
		if _, err := n.Publish(ctx, "delta:1", []byte(big+price+`}`), engine.PublishOptions{Delta: true}); err != nil {
			t.Fatal(err)
		}
	}
	first := decode(t, waitMsg(t, tr, `"offset":1`))["push"].(map[string]any)["pub"].(map[string]any)
	second := decode(t, waitMsg(t, tr, `"offset":2`))["push"].(map[string]any)["pub"].(map[string]any)
	full, ok := first["data"].(string)
	if !ok || first["delta"] != nil || full != big+"100}" {
		t.Fatalf("first publication must be full data as a JSON string: %v", first)
	}
	patch, ok := second["data"].(string)
	if !ok || second["delta"] != true || len(patch) >= len(big) {
		t.Fatalf("second publication must be a delta: %v", second)
	}
	got, err := fossil.Apply([]byte(full), []byte(patch))
	if err != nil || string(got) != big+"101}" {
		t.Fatalf("delta applies to %q, %v", got, err)
	}
	// A subscriber without delta gets plain JSON.
	c2, tr2 := connect(t, n, "2")
	c2.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"delta:1"}}`))
	waitMsg(t, tr2, `"id":2`)
	if _, err := n.Publish(ctx, "delta:1", []byte(big+`102}`), engine.PublishOptions{Delta: true}); err != nil {
		t.Fatal(err)
	}
	plain := decode(t, waitMsg(t, tr2, `"offset":3`))["push"].(map[string]any)["pub"].(map[string]any)
	if _, isObject := plain["data"].(map[string]any); !isObject {
		raw, _ := json.Marshal(plain)
		t.Fatalf("non-delta subscriber got %s", raw)
	}
}
