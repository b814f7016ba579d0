package bench_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/bench"
	"github.com/heraldrt/herald/internal/testutil/testcert"
)

// options returns bench options aimed at f with short phases.
func options(f *fakeServer, proto string) bench.Options {
	return bench.Options{
		WSURL: f.wsURL(), APIURL: f.apiURL(), Protocol: proto,
		Duration: 500 * time.Millisecond, Drain: 300 * time.Millisecond,
		Timeout: 5 * time.Second, ProgressInterval: 100 * time.Millisecond,
	}
}

func TestFanoutDetectsInjectedFaults(t *testing.T) {
	for _, proto := range []string{"json", "protobuf"} {
		t.Run(proto, func(t *testing.T) {
			f := newFakeServer(t, map[int]fault{
				0: {drop: 3},
				1: {dup: 5},
				2: {swap: 7},
				3: {drop: 2, dup: 9, swap: 20},
			})
			var progress bytes.Buffer
			o := options(f, proto)
			o.Progress = &progress
			rep, err := bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 6, Channels: 2, Rate: 200})
			if err != nil {
				t.Fatal(err)
			}
			// 200/s for 0.5s = 100 publishes, 50 per channel, 3 subscribers each.
			d := rep.Delivery
			want := bench.DeliveryCounts{Expected: 300, Delivered: 298, Lost: 2, Duplicates: 2, OrderViolations: 2}
			if *d != want {
				t.Fatalf("delivery = %+v, want %+v; errors %v", *d, want, rep.Errors)
			}
			if got := rep.Figures["publishes_ok"]; got != 100 {
				t.Fatalf("publishes_ok = %v, want 100", got)
			}
			if rep.Latency == nil || rep.Latency.Count != 298 {
				t.Fatalf("latency = %+v, want 298 samples", rep.Latency)
			}
			if rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
				t.Fatalf("percentiles not ordered: %+v", rep.Latency)
			}
			if !bytes.Contains(progress.Bytes(), []byte("[fanout")) {
				t.Fatalf("no progress line in %q", progress.String())
			}
		})
	}
}

// TestFanoutFailedPublishes: publishes the server refuses are counted as
// errors, and the channels that had one are judged on totals: no loss, no
// order violation and nothing extra is reported for the gaps they leave in
// the sequence numbers.
func TestFanoutFailedPublishes(t *testing.T) {
	f := newFakeServer(t, nil)
	f.failEvery = 10
	rep, err := bench.Fanout(context.Background(), options(f, "json"), bench.FanoutConfig{Subscribers: 6, Channels: 2, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	// 100 publishes, 10 refused: 90 accepted, 45 per channel, 3 subscribers each.
	want := bench.DeliveryCounts{Expected: 270, Delivered: 270}
	if *rep.Delivery != want {
		t.Fatalf("delivery = %+v, want %+v", *rep.Delivery, want)
	}
	if ok, failed := rep.Figures["publishes_ok"], rep.Figures["publish_errors"]; ok != 90 || failed != 10 {
		t.Fatalf("publishes ok %v, errors %v; want 90 and 10", ok, failed)
	}
	if len(rep.Errors) == 0 {
		t.Fatal("no error reported for the refused publishes")
	}
}

func TestFanoutCleanRunAnswersPings(t *testing.T) {
	f := newFakeServer(t, nil)
	o := options(f, "json")
	o.ServerPID = os.Getpid()
	rep, err := bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 10, Channels: 3, Rate: 300})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Delivery
	if d.Lost != 0 || d.Duplicates != 0 || d.OrderViolations != 0 || d.Malformed != 0 || d.Expected == 0 || d.Delivered != d.Expected {
		t.Fatalf("delivery = %+v; errors %v", *d, rep.Errors)
	}
	if rep.Figures["pings_answered"] == 0 || f.pongs.Load() == 0 {
		t.Fatalf("pings answered %v, fake counted %d pongs", rep.Figures["pings_answered"], f.pongs.Load())
	}
	if rep.Server == nil || rep.Figures["server_cpu_us_per_delivered"] <= 0 {
		t.Fatalf("no server figures: %+v %v", rep.Server, rep.Figures)
	}
	if k, ok := rep.Figures["server_cpu_kernel_share"]; ok && (k < 0 || k > 1) {
		t.Fatalf("kernel share %v", k)
	}
	var out bytes.Buffer
	if err := rep.WriteHuman(&out); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(out.Bytes(), []byte("\n")); lines < 5 {
		t.Fatalf("short summary:\n%s", out.String())
	}
	dir := t.TempDir()
	paths, err := rep.WritePlots(dir)
	if err != nil || len(paths) != 2 {
		t.Fatalf("plots %v, %v", paths, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte("<svg")) || !bytes.HasSuffix(b, []byte("</svg>\n")) {
			t.Fatalf("%s: not an SVG document (%v)", filepath.Base(p), err)
		}
	}
}

func TestFanoutAuth(t *testing.T) {
	f := newFakeServer(t, nil)
	f.secret, f.apiKey = "s3cret", "key"
	o := options(f, "json")
	o.Duration = 200 * time.Millisecond
	o.TokenSecret, o.APIKey = "s3cret", "key"
	rep, err := bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 2, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["subscribers_connected"] != 2 || rep.Figures["publish_errors"] != 0 || rep.Delivery.Lost != 0 {
		t.Fatalf("figures %v delivery %+v errors %v", rep.Figures, *rep.Delivery, rep.Errors)
	}

	o.TokenSecret, o.APIKey = "wrong", "wrong"
	rep, err = bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 2, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["connect_failures"] != 2 || rep.Figures["publish_errors"] != 10 || len(rep.Errors) == 0 {
		t.Fatalf("figures %v errors %v", rep.Figures, rep.Errors)
	}
}

func TestConnsSmoke(t *testing.T) {
	f := newFakeServer(t, nil)
	o := options(f, "protobuf")
	o.ServerPID = os.Getpid()
	o.Duration = 300 * time.Millisecond
	rep, err := bench.Conns(context.Background(), o, bench.ConnsConfig{Connections: 30})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["connections"] != 30 || rep.Figures["connect_failures"] != 0 || rep.Figures["connections_lost_during_hold"] != 0 {
		t.Fatalf("figures %v errors %v", rep.Figures, rep.Errors)
	}
	if rep.Figures["pings_answered"] == 0 || rep.Figures["connect_rate_per_sec"] <= 0 {
		t.Fatalf("figures %v", rep.Figures)
	}
	if _, ok := rep.Figures["server_idle_cpu_us_per_conn_per_sec"]; !ok || rep.Server == nil {
		t.Fatalf("no server figures: %v", rep.Figures)
	}
	if n := f.remoteCount(); n < 2 {
		t.Fatalf("connections came from %d source address(es), want them spread", n)
	}
	eventually(t, 5*time.Second, func() bool { return f.closes.Load() == 30 }, "fake server saw %d closes, want 30", &f.closes)
}

func TestPubrateSmoke(t *testing.T) {
	for _, subs := range []int{0, 6} {
		f := newFakeServer(t, nil)
		o := options(f, "json")
		o.ServerPID = os.Getpid()
		o.Duration = 300 * time.Millisecond
		rep, err := bench.Pubrate(context.Background(), o, bench.PubrateConfig{Workers: 4, Channels: 3, Subscribers: subs})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Figures["requests"] == 0 || rep.Figures["request_errors"] != 0 || rep.Latency == nil {
			t.Fatalf("subs=%d figures %v errors %v", subs, rep.Figures, rep.Errors)
		}
		if _, ok := rep.Figures["server_cpu_us_per_request"]; !ok {
			t.Fatalf("no server cpu figure: %v", rep.Figures)
		}
		if subs > 0 && (rep.Delivery == nil || rep.Delivery.Lost != 0 || rep.Delivery.Duplicates != 0 ||
			rep.Delivery.Delivered != rep.Delivery.Expected || rep.Delivery.Expected == 0) {
			t.Fatalf("delivery %+v", rep.Delivery)
		}
		if subs == 0 && rep.Delivery != nil {
			t.Fatalf("delivery without subscribers: %+v", rep.Delivery)
		}
	}
}

func TestChurnSmoke(t *testing.T) {
	f := newFakeServer(t, nil)
	o := options(f, "json")
	o.ServerPID = os.Getpid()
	o.Duration = 3 * time.Second
	rep, err := bench.Churn(context.Background(), o, bench.ChurnConfig{Rounds: 3, Cycles: 20, Concurrency: 4, Settle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["cycles"] != 60 || rep.Figures["failures"] != 0 || len(rep.Rounds) != 3 {
		t.Fatalf("figures %v rounds %+v errors %v", rep.Figures, rep.Rounds, rep.Errors)
	}
	for i, rd := range rep.Rounds {
		if rd.Cycles != 20 || rd.Server == nil || rd.Server.RSSBytes == 0 {
			t.Fatalf("round %d: %+v", i, rd)
		}
	}
	if _, ok := rep.Figures["server_fd_growth"]; !ok {
		t.Fatalf("no growth figures: %v", rep.Figures)
	}
	if f.connects.Load() != 60 {
		t.Fatalf("fake server saw %d connects", f.connects.Load())
	}
	// By default a cycle closes its socket right after its close frame.
	waitCloses(t, f, 60)
	if f.closedFirst.Load() != 60 || f.waitedForServer.Load() != 0 {
		t.Fatalf("clients closed first %d times, waited for the server %d times; want 60 and 0",
			f.closedFirst.Load(), f.waitedForServer.Load())
	}
}

// waitCloses waits until the fake server has closed n connections.
func waitCloses(t *testing.T, f *fakeServer, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); f.closes.Load() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server closed %d connections, want %d", f.closes.Load(), n)
		}
	}
}

// TestChurnCloseWait: with CloseWait every client waits for the server's
// close (the fake server finds each still open after answering its close
// frame), each cycle ends by that close well before the client's
// one-second limit, and the report says which close it measured.
func TestChurnCloseWait(t *testing.T) {
	f := newFakeServer(t, nil)
	o := options(f, "json")
	o.Duration = 10 * time.Second
	start := time.Now()
	rep, err := bench.Churn(context.Background(), o, bench.ChurnConfig{Rounds: 1, Cycles: 20, Concurrency: 2, Settle: 20 * time.Millisecond, CloseWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["cycles"] != 20 || rep.Figures["failures"] != 0 || rep.Params["close_wait"] != true {
		t.Fatalf("figures %v params %v errors %v", rep.Figures, rep.Params, rep.Errors)
	}
	// Ten cycles in a row per worker: had each waited for its limit
	// instead of the server's close, the round would take ten seconds.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("20 cycles took %v: the client waited out its limit", d)
	}
	waitCloses(t, f, 20)
	if f.waitedForServer.Load() != 20 || f.closedFirst.Load() != 0 {
		t.Fatalf("clients waited for the server %d times, closed first %d times; want 20 and 0",
			f.waitedForServer.Load(), f.closedFirst.Load())
	}
}

func TestCancelStopsScenario(t *testing.T) {
	f := newFakeServer(t, nil)
	o := options(f, "json")
	o.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	rep, err := bench.Conns(ctx, o, bench.ConnsConfig{Connections: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || time.Since(t0) > 5*time.Second {
		t.Fatalf("interrupted=%v after %v", rep.Interrupted, time.Since(t0))
	}
}

func TestRefusesRemoteTargets(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ws, api string
		remote  bool
	}{
		{"ws://127.0.0.1:8000/connection/websocket", "http://127.0.0.1:8000/api", false},
		{"ws://[::1]:8000/connection/websocket", "http://localhost:8000/api", false},
		{"ws://10.1.2.3:8000/connection/websocket", "http://127.0.0.1:8000/api", true},
		{"ws://127.0.0.1:8000/connection/websocket", "http://192.0.2.7:8000/api", true},
	} {
		o := bench.Options{WSURL: tc.ws, APIURL: tc.api}
		err := o.Validate(ctx)
		if tc.remote != errors.Is(err, bench.ErrRemoteTarget) {
			t.Fatalf("%s %s: err = %v, remote %v", tc.ws, tc.api, err, tc.remote)
		}
		if !tc.remote && err != nil {
			t.Fatalf("%s: %v", tc.ws, err)
		}
		o.AllowRemote = true
		if err := o.Validate(ctx); err != nil {
			t.Fatalf("%s with AllowRemote: %v", tc.ws, err)
		}
	}
	o := bench.Options{WSURL: "ws://10.1.2.3:1/connection/websocket"}
	if _, err := bench.Fanout(ctx, o, bench.FanoutConfig{}); !errors.Is(err, bench.ErrRemoteTarget) {
		t.Fatalf("Fanout: %v", err)
	}
	for _, bad := range []bench.Options{{Protocol: "xml"}, {WSURL: "http://127.0.0.1/x"}, {SourceAddrs: "127.0.0.9-127.0.0.2"}} {
		if err := bad.Validate(ctx); err == nil {
			t.Fatalf("%+v: no error", bad)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := bench.ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes <= 0 || s.Threads < 1 || s.FDs < 3 || s.CPUSeconds < 0 {
		t.Fatalf("sample %+v", s)
	}
	// Open many files, so that descriptors other tests open or close
	// meanwhile cannot hide the change.
	const opened = 200
	for i := 0; i < opened; i++ {
		fh, err := os.Open(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
	}
	s2, err := bench.ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s2.FDs < s.FDs+opened-50 {
		t.Fatalf("fds %d then %d after opening %d files", s.FDs, s2.FDs, opened)
	}
	// Burn CPU until /proc counts at least 3 ticks more (bounded at 5s,
	// since a loaded machine may deschedule the loop).
	deadline := time.Now().Add(5 * time.Second)
	for {
		for x, spin := 0, time.Now().Add(10*time.Millisecond); time.Now().Before(spin); x++ {
			_ = x * x
		}
		s3, err := bench.ReadProc(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if s3.CPUSeconds >= s.CPUSeconds+0.03 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cpu %.2fs then %.2fs after 5s of busy loop", s.CPUSeconds, s3.CPUSeconds)
		}
	}
	if _, err := bench.ReadProc(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

// eventually polls cond every 5ms until it holds or timeout passes, then
// fails with msg formatted with the current value of n.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, n *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, n.Load())
		}
		runtime.Gosched()
		<-time.After(5 * time.Millisecond)
	}
}

// TestFanoutOverTLS: with Options.TLS trusting the server's certificate,
// the tool loads a wss:// and https:// server; without it, the unknown
// certificate is refused.
func TestFanoutOverTLS(t *testing.T) {
	f := startFakeServer(t, nil, true)
	o := options(f, "json")
	if !strings.HasPrefix(o.WSURL, "wss://") || !strings.HasPrefix(o.APIURL, "https://") {
		t.Fatalf("targets %s %s, want wss and https", o.WSURL, o.APIURL)
	}
	rep, err := bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 2, Channels: 1, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["connect_failures"] != 2 || rep.Figures["publishes_ok"] != 0 {
		t.Fatalf("a server with an untrusted certificate was loaded: %v %v", rep.Figures, rep.Errors)
	}
	for e := range rep.Errors {
		if !strings.Contains(e, "unknown authority") {
			t.Fatalf("error %q, want the untrusted certificate", e)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	o.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	rep, err = bench.Fanout(context.Background(), o, bench.FanoutConfig{Subscribers: 4, Channels: 2, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Delivery; d.Expected == 0 || d.Delivered != d.Expected || d.Lost != 0 || d.Duplicates != 0 || d.OrderViolations != 0 {
		t.Fatalf("delivery over TLS = %+v; errors %v", *d, rep.Errors)
	}
}

func TestTLSConfigFromCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := bench.TLSConfigFromCA(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing file was accepted")
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bench.TLSConfigFromCA(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file without a certificate: %v", err)
	}
	certPEM, _ := testcert.New(t)
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := bench.TLSConfigFromCA(good); err != nil || cfg.RootCAs == nil {
		t.Errorf("a certificate file: %v, %v", cfg, err)
	}
}
