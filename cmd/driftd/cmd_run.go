package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"driftd/agent"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	configPath, root := scopeFlags(fs)
	opts := agent.Options{Version: version, Events: stdout}
	fs.StringVar(&opts.BaselinePath, "baseline", "", "the manifest (default: baseline.path of the config, inside --root)")
	fs.StringVar(&opts.PubkeyPath, "pubkey", "", "the public key (default: baseline.public_key of the config, inside --root)")
	fs.StringVar(&opts.StateDir, "state-dir", "", "state directory; the local socket goes there too (default: daemon.state_dir of the config)")
	fs.StringVar(&opts.ListenAddress, "web.listen-address", "", "address for /metrics and /healthz (default: web.listen_address of the config)")
	fs.StringVar(&opts.WebConfigFile, "web.config.file", "", "exporter-toolkit web config for TLS and basic auth")
	fs.BoolVar(&opts.Insecure, "insecure-skip-signature-check", false, "LAB USE ONLY: run on a baseline whose signature is not checked; /healthz stays 503")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	opts.ConfigPath, opts.Root = *configPath, *root
	// A bad config or root is a one-line error and exit 2 before anything
	// starts; the daemon loads the config again itself, as a reload does.
	if _, err := loadScope(*configPath, *root); err != nil {
		return err
	}
	opts.Log = slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "driftd")

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	opts.Reload = reload
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return agent.Run(ctx, opts)
}
