package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"driftd/agent/config"
)

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config", stderr)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if pos[0] != "default" {
		return fmt.Errorf("unknown config command %q (known: default)", pos[0])
	}
	_, err = stdout.Write(config.Default)
	return err
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if _, err := parse(newFlags("version", stderr), args, 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "driftd %s (%s)\n", version, runtime.Version())
	return nil
}
