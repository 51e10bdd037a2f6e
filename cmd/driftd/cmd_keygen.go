package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"driftd/baseline/manifest"
)

func keygenCommand() *cobra.Command {
	cmd := newCommand("keygen", 0)
	fs := cmd.Flags()
	out := fs.String("out", "", "write PREFIX.key (mode 0600) and PREFIX.pub")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		stdout := cmd.OutOrStdout()
		if *out == "" {
			return fmt.Errorf("--out PREFIX is required")
		}
		keyPath, pubPath, err := manifest.GenerateKey(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", keyPath, pubPath)
		return nil
	}
	return cmd
}
