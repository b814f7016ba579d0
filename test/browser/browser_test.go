package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/demo"
)

const chromiumPath = "/usr/bin/chromium"

// ensureNodeModules runs npm ci unless node_modules is complete.
func ensureNodeModules(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err == nil {
		if _, err := os.Stat(filepath.Join("node_modules", "centrifuge", "dist", "centrifuge.js")); err == nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in test/browser: %v\n%s", err, out)
	}
}

type scenario struct {
	Name       string           `json:"name"`
	Base       string           `json:"base"`
	APIURL     string           `json:"apiURL"`
	Channel    string           `json:"channel"`
	Transports []map[string]any `json:"transports"`
}

type result struct {
	Name       string   `json:"name"`
	Error      string   `json:"error"`
	Transports []string `json:"transports"`
	Got        []any    `json:"got"`
	Recovered  *bool    `json:"recovered"`
	Log        []string `json:"log"`
}

// TestBrowser runs centrifuge-js in headless Chromium over WebSocket, then
// HTTP-streaming and SSE with WebSocket disabled on the server (forcing the
// SDK's fallback): each scenario subscribes, receives an API publication,
// publishes from the page, loses its connection to a TCP cut and recovers
// the publications sent meanwhile. It then drives the demo page through a
// message, presence and a cut with recovery, and saves a screenshot to
// test-output/demo.png.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: install Debian's chromium (apt-get install -y chromium); never a downloaded browser", chromiumPath)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the browser tests need Node.js >= 20 and npm", tool)
		}
	}
	ensureNodeModules(t)

	var (
		proxiesMu sync.Mutex // the static server reads proxies, which are added after it starts
		proxies   []*cutProxy
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, "page.html") })
	mux.HandleFunc("GET /centrifuge.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("node_modules", "centrifuge", "dist", "centrifuge.js"))
	})
	mux.Handle("/demo/", http.StripPrefix("/demo", demo.Handler()))
	for action, cut := range map[string]bool{"cut": true, "resume": false} {
		mux.HandleFunc("POST /control/"+action, func(w http.ResponseWriter, r *http.Request) {
			proxiesMu.Lock()
			defer proxiesMu.Unlock()
			for _, p := range proxies {
				p.setCut(cut)
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	static := httptest.NewServer(mux)
	defer static.Close()

	withOrigin := func(disableWS bool) func(map[string]any) {
		return func(cfg map[string]any) {
			client := cfg["client"].(map[string]any)
			client["allowed_origins"] = []string{static.URL}
			if disableWS {
				cfg["websocket"] = map[string]any{"disabled": true}
			}
		}
	}
	withWS := startHerald(t, withOrigin(false))
	noWS := startHerald(t, withOrigin(true))
	pWS, pNoWS := newCutProxy(t, withWS.addr), newCutProxy(t, noWS.addr)
	proxiesMu.Lock()
	proxies = append(proxies, pWS, pNoWS)
	proxiesMu.Unlock()

	tr := func(name, scheme, addr, path string) map[string]any {
		return map[string]any{"transport": name, "endpoint": scheme + "://" + addr + path}
	}
	scenarios := []scenario{
		{Name: "websocket", Base: "http://" + pWS.Addr(), APIURL: "http://" + withWS.addr, Channel: "chat:ws",
			Transports: []map[string]any{tr("websocket", "ws", pWS.Addr(), "/connection/websocket")}},
		{Name: "http_stream", Base: "http://" + pNoWS.Addr(), APIURL: "http://" + noWS.addr, Channel: "chat:hs",
			Transports: []map[string]any{tr("websocket", "ws", pNoWS.Addr(), "/connection/websocket"),
				tr("http_stream", "http", pNoWS.Addr(), "/connection/http_stream")}},
		{Name: "sse", Base: "http://" + pNoWS.Addr(), APIURL: "http://" + noWS.addr, Channel: "chat:sse",
			Transports: []map[string]any{tr("websocket", "ws", pNoWS.Addr(), "/connection/websocket"),
				tr("sse", "http", pNoWS.Addr(), "/connection/sse")}},
	}
	outDir := filepath.Join(repoRoot(), "test-output")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(outDir, "demo.png")
	_ = os.Remove(shot)
	cfg, _ := json.Marshal(map[string]any{
		"pageURL": static.URL + "/", "controlURL": static.URL + "/control", "apiKey": apiKey, "scenarios": scenarios,
		"demo": map[string]any{"url": static.URL + "/demo/?server=http://" + pWS.Addr() + "&name=chromium",
			"apiURL": "http://" + withWS.addr, "screenshot": shot},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Env = append(os.Environ(), "BROWSER_TEST="+string(cfg), "CHROMIUM="+chromiumPath)
	out, runErr := cmd.CombinedOutput()
	t.Logf("browser output:\n%s", out)

	results := map[string]result{}
	var demoState map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "RESULT "):
			var r result
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &r); err != nil {
				t.Fatalf("bad result line %q: %v", line, err)
			}
			results[r.Name] = r
		case strings.HasPrefix(line, "DEMO "):
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "DEMO ")), &demoState)
		}
	}
	want := []any{float64(1), "from-browser", float64(2), float64(3), float64(4)}
	for _, s := range scenarios {
		r, ok := results[s.Name]
		switch {
		case !ok:
			t.Errorf("%s: no result", s.Name)
		case r.Error != "":
			t.Errorf("%s: %s", s.Name, r.Error)
		case len(r.Transports) == 0 || r.Transports[0] != s.Name:
			t.Errorf("%s: connected over %v, want %s first", s.Name, r.Transports, s.Name)
		case !reflect.DeepEqual(r.Got, want):
			t.Errorf("%s: received %v, want %v (exactly once, in order)", s.Name, r.Got, want)
		case r.Recovered == nil || !*r.Recovered:
			t.Errorf("%s: resubscription not recovered; log %v", s.Name, r.Log)
		}
	}
	if demoState == nil {
		t.Errorf("demo page check did not finish")
	} else if _, err := os.Stat(shot); err != nil {
		t.Errorf("no demo screenshot: %v", err)
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("node run.mjs: %v", runErr)
	}
}
