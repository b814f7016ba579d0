package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/cli"
)

// cleanEnv removes HERALD_* and CENTRIFUGO_* variables (the test runner's
// own, such as HERALD_E2E_RACE, would count as unknown keys) for the test.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HERALD_") || strings.HasPrefix(k, "CENTRIFUGO_") {
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Setenv(k, v) })
		}
	}
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run("version")
	if code != 0 || !strings.HasPrefix(out, "Herald v") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestGenconfigCheckconfigAndTokens(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if code, _, errOut := run("genconfig", "-c", cfg); code != 0 {
		t.Fatalf("genconfig: %d %s", code, errOut)
	}
	if code, out, errOut := run("checkconfig", "-c", cfg, "--strict"); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("checkconfig: %d %s %s", code, out, errOut)
	}
	code, tok, errOut := run("gentoken", "-c", cfg, "-u", "42", "-q")
	if code != 0 {
		t.Fatalf("gentoken: %d %s", code, errOut)
	}
	if code, out, errOut := run("checktoken", "-c", cfg, strings.TrimSpace(tok)); code != 0 || !strings.Contains(out, `user "42"`) {
		t.Fatalf("checktoken: %d %s %s", code, out, errOut)
	}
	code, sub, _ := run("gensubtoken", "-c", cfg, "-u", "42", "-s", "chat:1", "-q")
	if code != 0 {
		t.Fatal("gensubtoken failed")
	}
	if code, out, _ := run("checksubtoken", "-c", cfg, strings.TrimSpace(sub)); code != 0 || !strings.Contains(out, `channel "chat:1"`) {
		t.Fatalf("checksubtoken: %d %s", code, out)
	}
	if code, _, errOut := run("checktoken", "-c", cfg, "not.a.token"); code == 0 || !strings.Contains(errOut, "invalid connection token") {
		t.Fatalf("bad token accepted: %d %s", code, errOut)
	}
	if code, _, _ := run("genconfig", "-c", cfg); code == 0 {
		t.Fatal("genconfig overwrote an existing file")
	}
}

func TestCheckconfigNamesTheBadKey(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cases := map[string]string{
		`{"client":{"ping_interval":"abc"}}`:                     "client.ping_interval",
		`{"channel":{"namespaces":[{"name":"a b"}]}}`:            "invalid namespace name",
		`{"engine":{"type":"tarantool"}}`:                        "engine.type",
		`{not json`:                                              "config",
		`{"client":{"ping_interval":"5s","pong_timeout":"10s"}}`: "client.ping_interval",
	}
	i := 0
	for body, want := range cases {
		i++
		p := filepath.Join(dir, "c"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run("checkconfig", "-c", p)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Fatalf("%s: exit %d, stderr %q, want it to name %q", body, code, errOut, want)
		}
	}
	p := filepath.Join(dir, "unknown.json")
	if err := os.WriteFile(p, []byte(`{"client":{"no_such_key":1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("checkconfig", "-c", p); code != 0 || !strings.Contains(errOut, "client.no_such_key") {
		t.Fatalf("unknown key must warn: %d %q", code, errOut)
	}
	if code, _, _ := run("checkconfig", "-c", p, "--strict"); code == 0 {
		t.Fatal("--strict accepted an unknown key")
	}
}
