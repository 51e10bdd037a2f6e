package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"driftd/agent/config"
)

func configCommand() *cobra.Command {
	cmd := newCommand("config", 0)
	def := newCommand("config default", 0)
	def.RunE = func(c *cobra.Command, _ []string) error {
		_, err := c.OutOrStdout().Write(config.Default)
		return err
	}
	show := newCommand("config show", 0)
	configPath := show.Flags().String("config", "", "the main config file; its directory's driftd.d/*.toml are layered over it (default: the embedded default alone)")
	show.RunE = func(c *cobra.Command, _ []string) error {
		l, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return l.Show(c.OutOrStdout())
	}
	cmd.AddCommand(def, show)
	return cmd
}

func versionCommand() *cobra.Command {
	cmd := newCommand("version", 0)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		fmt.Fprintf(c.OutOrStdout(), "driftd %s (%s)\n", version, runtime.Version())
		return nil
	}
	return cmd
}
