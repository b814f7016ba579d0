package app_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

const module = "github.com/heraldrt/herald/"

// TestDependencyDirection enforces the layering of STYLE.md: dependencies
// point inward, leaf packages import no runtime package, nobody imports app.
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"internal/config":     {"internal/"},
		"internal/broker":     {"internal/"},
		"internal/protocol":   {"internal/engine", "internal/broker", "internal/transport", "internal/api", "internal/app", "internal/cli", "internal/config"},
		"internal/channel":    {"internal/engine", "internal/broker", "internal/transport", "internal/api", "internal/app", "internal/cli"},
		"internal/auth/jwt":   {"internal/engine", "internal/broker", "internal/transport", "internal/api", "internal/app", "internal/cli"},
		"internal/engine":     {"internal/transport", "internal/api", "internal/app", "internal/cli"},
		"internal/broker/":    {"internal/engine", "internal/transport", "internal/api", "internal/app", "internal/cli"},
		"internal/transport/": {"internal/api", "internal/app", "internal/cli"},
		"internal/api":        {"internal/transport", "internal/app", "internal/cli"},
	}
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			impRel := strings.TrimPrefix(imp, module)
			if impRel == "internal/app" && rel != "internal/cli" {
				t.Errorf("%s imports internal/app", rel)
			}
			for prefix, bans := range forbidden {
				if rel != strings.TrimSuffix(prefix, "/") && !(strings.HasSuffix(prefix, "/") && strings.HasPrefix(rel, prefix)) {
					continue
				}
				for _, ban := range bans {
					if strings.HasPrefix(impRel, ban) && !strings.HasPrefix(impRel, rel) && !(prefix == "internal/protocol" && impRel == "internal/protocol/protocolpb") {
						t.Errorf("%s must not import %s", rel, impRel)
					}
				}
			}
		}
	}
}

// TestServerHasNoCentrifugalDependency: the server is our own code; the
// official SDKs may only be used by tests.
func TestServerHasNoCentrifugalDependency(t *testing.T) {
	for _, p := range goList(t, "-deps", "./cmd/herald") {
		if strings.HasPrefix(p.ImportPath, "github.com/centrifugal/") {
			t.Errorf("the herald binary depends on %s", p.ImportPath)
		}
	}
}
