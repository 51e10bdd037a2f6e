package main

import (
	"context"
	"fmt"
	"io"

	"driftd/baseline/manifest"
)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	out := fs.String("out", "", "write PREFIX.key (mode 0600) and PREFIX.pub")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
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
