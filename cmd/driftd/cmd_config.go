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
	configPath := fs.String("config", "", "the main config file; its directory's driftd.d/*.toml are layered over it (default: the embedded default alone)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	switch pos[0] {
	case "default":
		_, err = stdout.Write(config.Default)
		return err
	case "show":
		l, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return l.Show(stdout)
	}
	return fmt.Errorf("unknown config command %q (known: default, show)", pos[0])
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if _, err := parse(newFlags("version", stderr), args, 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "driftd %s (%s)\n", version, runtime.Version())
	return nil
}
