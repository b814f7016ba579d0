package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldrt/herald/internal/bench"
)

// benchCmd builds `herald bench` and its scenario subcommands.
func benchCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		o        bench.Options
		insecure bool
		jsonOut  bool
		plotDir  string
		quiet    bool
		caCert   string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a server speaking client protocol v2 and the HTTP API (Herald or Centrifugo)",
		Long: `Load any server speaking the Centrifugo client protocol v2 over WebSocket and the
HTTP server API, and report throughput, loss, latency and (with --server-pid) the
server's CPU, memory, descriptors and threads. See docs/bench.md.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.WSURL, "ws", "ws://127.0.0.1:8000/connection/websocket", "WebSocket endpoint")
	pf.StringVar(&o.APIURL, "api", "http://127.0.0.1:8000/api", "HTTP server API prefix")
	pf.StringVar(&o.APIKey, "api-key", "", "server API key (sent as X-API-Key)")
	pf.StringVar(&o.TokenSecret, "token-secret", "", "HS256 secret to mint connection tokens")
	pf.BoolVar(&insecure, "insecure", false, "send no connection token (server with client.insecure or anonymous connect)")
	pf.StringVar(&o.Protocol, "protocol", "json", "client protocol: json or protobuf")
	pf.IntVar(&o.ServerPID, "server-pid", 0, "server process id, to read its CPU, RSS, fds and threads from /proc")
	pf.DurationVar(&o.Duration, "duration", 10*time.Second, "measured phase length (per round for churn)")
	pf.BoolVar(&o.AllowRemote, "allow-remote", false, "allow non-loopback targets")
	pf.StringVar(&caCert, "ca-cert", "", "PEM file of certificates to trust for wss:// and https:// targets (default: the system's roots)")
	pf.StringVar(&o.SourceAddrs, "source-addrs", "127.0.0.2-127.0.0.250", `local addresses to spread loopback connections over ("none" to disable)`)
	pf.IntVar(&o.ConnectConcurrency, "connect-concurrency", 128, "connections set up at once")
	pf.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one network step")
	pf.DurationVar(&o.Drain, "drain", 5*time.Second, "wait for the last deliveries after publishing")
	pf.StringVar(&o.ChannelPrefix, "channel-prefix", "bench", "channel name prefix")
	pf.BoolVar(&jsonOut, "json", false, "print a one-line JSON summary after the human summary")
	pf.StringVar(&plotDir, "plot", "", "write SVG latency histogram and throughput charts into this directory")
	pf.BoolVar(&quiet, "quiet", false, "no progress lines")
	pf.StringVar(&o.Label, "label", "", "name of the server under test, recorded in the report (for bench summary)")

	run := func(scenario func(ctx context.Context, o bench.Options) (*bench.Report, error)) func(*cobra.Command, []string) error {
		return func(*cobra.Command, []string) error {
			if o.TokenSecret != "" && insecure {
				return fmt.Errorf("--token-secret and --insecure exclude each other")
			}
			if caCert != "" {
				cfg, err := bench.TLSConfigFromCA(caCert)
				if err != nil {
					return fmt.Errorf("--ca-cert: %w", err)
				}
				o.TLS = cfg
			}
			if !quiet {
				o.Progress = stderr
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := scenario(ctx, o)
			if err != nil {
				return err
			}
			if err := rep.WriteHuman(stdout); err != nil {
				return err
			}
			if plotDir != "" {
				paths, err := rep.WritePlots(plotDir)
				if err != nil {
					return err
				}
				for _, p := range paths {
					fmt.Fprintln(stdout, "  plot:", p)
				}
			}
			if jsonOut {
				return rep.WriteJSON(stdout)
			}
			return nil
		}
	}

	var fc bench.FanoutConfig
	fanout := &cobra.Command{
		Use:   "fanout",
		Short: "C subscribers on K channels, API publishes at R/s: delivery, loss, order, latency",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, o bench.Options) (*bench.Report, error) {
			return bench.Fanout(ctx, o, fc)
		}),
	}
	fanout.Flags().IntVarP(&fc.Subscribers, "subscribers", "C", 100, "subscriber connections")
	fanout.Flags().IntVarP(&fc.Channels, "channels", "K", 1, "channels (subscribers round-robin)")
	fanout.Flags().Float64VarP(&fc.Rate, "rate", "R", 100, "API publishes per second, total")
	fanout.Flags().IntVar(&fc.Publishers, "publishers", 16, "API publishing workers (each owns channels)")
	fanout.Flags().IntVar(&fc.PayloadPad, "payload-pad", 0, "extra payload bytes")

	var cc bench.ConnsConfig
	conns := &cobra.Command{
		Use:   "conns",
		Short: "N idle subscribed connections held with pings: connect rate, server RSS/fds/threads/CPU per connection",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, o bench.Options) (*bench.Report, error) {
			return bench.Conns(ctx, o, cc)
		}),
	}
	conns.Flags().IntVarP(&cc.Connections, "connections", "N", 1000, "connections")
	conns.Flags().IntVar(&cc.Channels, "channels", 0, "distinct channels (0: one per connection)")

	var pc bench.PubrateConfig
	pubrate := &cobra.Command{
		Use:   "pubrate",
		Short: "P keep-alive workers publishing as fast as possible: requests/s, latency, server CPU per request",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, o bench.Options) (*bench.Report, error) {
			return bench.Pubrate(ctx, o, pc)
		}),
	}
	pubrate.Flags().IntVarP(&pc.Workers, "workers", "P", 32, "publishing workers")
	pubrate.Flags().IntVarP(&pc.Channels, "channels", "M", 100, "channels")
	pubrate.Flags().IntVar(&pc.Subscribers, "subscribers", 0, "subscriber connections (0: none)")
	pubrate.Flags().IntVar(&pc.PayloadPad, "payload-pad", 0, "extra payload bytes")

	var hc bench.ChurnConfig
	churn := &cobra.Command{
		Use:   "churn",
		Short: "rounds of connect-subscribe-close cycles: cycles/s, server RSS and fds per round",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, o bench.Options) (*bench.Report, error) {
			return bench.Churn(ctx, o, hc)
		}),
	}
	churn.Flags().IntVarP(&hc.Rounds, "rounds", "R", 5, "rounds")
	churn.Flags().IntVar(&hc.Cycles, "cycles", 1000, "cycles per round")
	churn.Flags().IntVar(&hc.Concurrency, "concurrency", 32, "cycles in flight")
	churn.Flags().IntVar(&hc.Channels, "channels", 10, "channels")
	churn.Flags().DurationVar(&hc.Settle, "settle", time.Second, "pause before sampling the server after a round")
	churn.Flags().BoolVar(&hc.CloseWait, "close-wait", false, "wait for the server to close each connection after the close frame, as browsers do")

	summary := &cobra.Command{
		Use:   "summary FILE...",
		Short: "Compare reports written with --json --label: medians per label and their ratios, as Markdown",
		Long: `Read the JSON report lines of earlier runs (files written with --json; other lines
are skipped) and print, for each scenario and parameter set, the median, range and
run count of each figure per --label, and the first label's median as a ratio to
each other label's. Run the servers in turn, several times each, and summarise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			var reps []*bench.Report
			for _, name := range files {
				f, err := os.Open(name) //nolint:gosec // the user names the files to read
				if err != nil {
					return err
				}
				rs, err := bench.ReadReports(f, name)
				_ = f.Close()
				if err != nil {
					return err
				}
				reps = append(reps, rs...)
			}
			if len(reps) == 0 {
				return fmt.Errorf("no bench reports in %s", strings.Join(files, ", "))
			}
			return bench.Summarize(reps).WriteMarkdown(stdout)
		},
	}

	cmd.AddCommand(fanout, conns, pubrate, churn, summary)
	return cmd
}
