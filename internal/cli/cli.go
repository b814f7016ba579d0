// Package cli implements the herald command line: the server (root
// command) and the version, genconfig, checkconfig, defaultconfig, gentoken,
// gensubtoken, checktoken and checksubtoken subcommands. It maps flags to
// configuration keys and holds no other logic.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldrt/herald/internal/app"
	"github.com/heraldrt/herald/internal/config"
)

// exitError carries a process exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// serverFlags are the dotted config keys settable by flags on the root
// command, with their shorthands.
var serverFlags = []struct {
	key, short, usage string
	boolean           bool
}{
	{"http_server.address", "a", "address to listen on", false},
	{"http_server.port", "p", "port to listen on (default 8000)", false},
	{"http_server.internal_address", "", "internal endpoints address", false},
	{"http_server.internal_port", "", "internal endpoints port", false},
	{"engine.type", "", "engine type: memory", false},
	{"log.level", "", "log level: none, trace, debug, info, warn, error", false},
	{"log.file", "", "log to this file instead of stdout", false},
	{"client.insecure", "", "INSECURE: accept any client, allow everything", true},
	{"http_api.insecure", "", "INSECURE: server API without key", true},
	{"http_api.external", "", "serve the server API on the external port", true},
	{"prometheus.enabled", "", "enable Prometheus metrics endpoint", true},
	{"health.enabled", "", "enable health endpoint", true},
	{"admin.enabled", "", "enable admin web interface", true},
	{"admin.insecure", "", "INSECURE: admin without password", true},
	{"admin.external", "", "serve admin on the external port", true},
	{"debug.enabled", "", "enable pprof endpoints", true},
	{"sse.enabled", "", "enable SSE transport", true},
	{"http_stream.enabled", "", "enable HTTP-streaming transport", true},
	{"uni_websocket.enabled", "", "enable unidirectional WebSocket", true},
	{"uni_sse.enabled", "", "enable unidirectional SSE", true},
	{"uni_http_stream.enabled", "", "enable unidirectional HTTP-streaming", true},
	{"grpc_api.enabled", "", "enable gRPC API", true},
	{"grpc_api.port", "", "gRPC API port (default 10000)", false},
	{"pid_file", "", "write the process id to this file", false},
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald: a real-time messaging server compatible with Centrifugo v6",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.PersistentFlags().StringVarP(&configFile, "config", "c", "", "configuration file (JSON, YAML or TOML; default config.json)")
	for _, f := range serverFlags {
		if f.boolean {
			root.Flags().BoolP(f.key, f.short, false, f.usage)
		} else {
			root.Flags().StringP(f.key, f.short, "", f.usage)
		}
	}
	root.Flags().Bool("dev", false, "development mode: serve the demo chat page at /demo/")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		return runServer(cmd, configFile, stderr)
	}
	root.AddCommand(
		versionCmd(stdout),
		genconfigCmd(stdout),
		checkconfigCmd(&configFile, stdout, stderr),
		defaultconfigCmd(stdout),
		gentokenCmd(&configFile, stdout, false),
		gentokenCmd(&configFile, stdout, true),
		checktokenCmd(&configFile, stdout, false),
		checktokenCmd(&configFile, stdout, true),
		benchCmd(stdout, stderr),
	)
	return root
}

// changedFlags returns the server flags the user set, as dotted keys.
func changedFlags(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		if strings.Contains(f.Name, ".") || f.Name == "pid_file" {
			out[f.Name] = f.Value.String()
		}
	})
	return out
}

// loadConfig loads and validates the configuration, printing warnings.
func loadConfig(file string, flags map[string]string, strict bool, stderr io.Writer) (config.Config, error) {
	cfg, warnings, err := config.Load(config.LoadOptions{File: file, Env: os.Environ(), Flags: flags, Strict: strict})
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the Herald version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "Herald v%s (compatible with Centrifugo v6 clients and API)\n", app.Version)
		},
	}
}

// newLogger builds the process logger from the log section.
func newLogger(c config.Log, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var level slog.Level
	switch c.Level {
	case "none":
		return slog.New(slog.DiscardHandler), nil, nil
	case "trace", "debug":
		level = slog.LevelDebug
	case "", "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("log.level: unknown level %q", c.Level)
	}
	var w io.Writer = os.Stdout
	var closer io.Closer
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		w, closer = f, f
	}
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts)), closer, nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), closer, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
