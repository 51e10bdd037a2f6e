package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// docsCommand writes the man pages and the shell completions from the
// commands' own definitions, for the packages (make docs). Hidden: it is
// for building driftd, not for running it.
func docsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "docs --out DIR",
		Short:  "Write the man pages and shell completions",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	out := cmd.Flags().String("out", "", "the directory to write man1/ and completions/ into")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if *out == "" {
			return fmt.Errorf("--out DIR is required")
		}
		root := c.Root()
		man := filepath.Join(*out, "man1")
		comp := filepath.Join(*out, "completions")
		for _, d := range []string{man, comp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		root.DisableAutoGenTag = true // the same definitions give the same pages
		header := &doc.GenManHeader{Title: "DRIFTD", Section: "1", Source: "driftd " + version, Manual: "driftd manual"}
		if err := doc.GenManTree(root, header, man); err != nil {
			return fmt.Errorf("man pages: %w", err)
		}
		var bash, zsh, fish bytes.Buffer
		if err := root.GenBashCompletionV2(&bash, true); err != nil {
			return err
		}
		if err := root.GenZshCompletion(&zsh); err != nil {
			return err
		}
		if err := root.GenFishCompletion(&fish, true); err != nil {
			return err
		}
		for name, b := range map[string][]byte{"driftd.bash": bash.Bytes(), "_driftd": zsh.Bytes(), "driftd.fish": fish.Bytes()} {
			if err := os.WriteFile(filepath.Join(comp, name), b, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(c.OutOrStdout(), "wrote %s and %s\n", man, comp)
		return nil
	}
	return cmd
}
