package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldrt/herald/internal/config"
)

func formatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return "yaml"
	case ".toml":
		return "toml"
	}
	return "json"
}

func genconfigCmd(stdout io.Writer) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "genconfig",
		Short: "Write a minimal configuration with random secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p, _ := cmd.Flags().GetString("config"); p != "" {
				out = p
			}
			if out == "" {
				out = config.DefaultFile
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s already exists", out)
			}
			data, err := config.MarshalChanged(config.Generate(), formatOf(out))
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "configuration written to %s\n", out)
			return nil
		},
	}
	return cmd
}

func checkconfigCmd(file *string, stdout, stderr io.Writer) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "checkconfig",
		Short: "Check a configuration file; exits non-zero naming each bad key",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f := *file
			if f == "" {
				f = config.DefaultFile
			}
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("config file: %w", err)
			}
			if _, err := loadConfig(f, nil, strict, stderr); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: configuration is valid\n", f)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&strict, "strict", "s", false, "fail on unknown keys")
	return cmd
}

func defaultconfigCmd(stdout io.Writer) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{
		Use:   "defaultconfig",
		Short: "Write the full configuration with its defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("config")
			format := "json"
			if out != "" {
				format = formatOf(out)
			}
			data, err := config.Marshal(config.Defaults(), format)
			if err != nil {
				return err
			}
			if dry || out == "" {
				_, err := stdout.Write(data)
				return err
			}
			return os.WriteFile(out, data, 0o600)
		},
	}
	cmd.Flags().BoolVarP(&dry, "dry-run", "d", false, "print instead of writing the file")
	return cmd
}
