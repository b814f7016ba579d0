package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/heraldrt/herald/internal/app"
)

// runServer runs the server until SIGINT/SIGTERM; SIGHUP reloads token keys,
// namespaces and client options from the same sources.
func runServer(cmd *cobra.Command, configFile string, stderr io.Writer) error {
	flags := changedFlags(cmd.Flags())
	cfg, err := loadConfig(configFile, flags, false, stderr)
	if err != nil {
		return err
	}
	logger, closer, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if closer != nil {
		defer func() { _ = closer.Close() }()
	}
	if cfg.PidFile != "" {
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pid_file: %w", err)
		}
		defer func() { _ = os.Remove(cfg.PidFile) }()
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		return err
	}
	if dev, _ := cmd.Flags().GetBool("dev"); dev {
		a.EnableDemo()
		logger.Warn("development mode: demo page at /demo/")
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := a.Start(context.Background()); err != nil {
		return err
	}
	logger.Info("herald started", "version", app.Version, "engine", cfg.Engine.Type, "node", a.Node().ID())
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			newCfg, err := loadConfig(configFile, flags, false, stderr)
			if err == nil {
				err = a.Reload(newCfg)
			}
			if err != nil {
				logger.Error("reload failed, keeping the previous configuration", "error", err)
				continue
			}
			logger.Info("configuration reloaded")
			continue
		}
		logger.Info("shutting down", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
		err := a.Shutdown(ctx)
		cancel()
		if err != nil {
			logger.Error("shutdown", "error", err)
			return exitError{code: 1}
		}
		return nil
	}
	return nil
}
