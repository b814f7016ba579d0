package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldrt/herald/internal/config"
)

// FuzzLoadJSON checks that no config file content makes Load or Validate
// panic. Seeds live in testdata/fuzz/FuzzLoadJSON.
func FuzzLoadJSON(f *testing.F) {
	f.Add([]byte(`{"client":{"ping_interval":"25s"}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, err := config.Load(config.LoadOptions{File: p, Env: []string{"CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_PRESENCE=true"}})
		if err != nil {
			return
		}
		_ = c.Validate()
		if _, err := config.Marshal(c, "json"); err != nil {
			t.Fatalf("Marshal of a loaded config: %v", err)
		}
	})
}
