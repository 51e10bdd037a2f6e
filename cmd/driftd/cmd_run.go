package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"driftd/agent"
)

func runCommand() *cobra.Command {
	cmd := newCommand("run", 0)
	fs := cmd.Flags()
	configPath, root := scopeFlags(fs)
	opts := agent.Options{Version: version}
	fs.StringVar(&opts.BaselinePath, "baseline", "", "the manifest (default: baseline.path of the config, inside --root)")
	fs.StringVar(&opts.PubkeyPath, "pubkey", "", "the public key (default: baseline.public_key of the config, inside --root)")
	fs.StringVar(&opts.StateDir, "state-dir", "", "state directory; the local socket goes there too (default: daemon.state_dir of the config)")
	fs.StringVar(&opts.ListenAddress, "web.listen-address", "", "address for /metrics and /healthz (default: web.listen_address of the config)")
	fs.StringVar(&opts.WebConfigFile, "web.config.file", "", "exporter-toolkit web config for TLS and basic auth")
	fs.BoolVar(&opts.Insecure, "insecure-skip-signature-check", false, "LAB USE ONLY: run on a baseline whose signature is not checked; /healthz stays 503")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		opts.Events = cmd.OutOrStdout()
		opts.ConfigPath, opts.Root = *configPath, *root
		// A bad config or root is a one-line error and exit 2 before anything
		// starts; the daemon loads the config again itself, as a reload does.
		if _, err := loadScope(*configPath, *root); err != nil {
			return err
		}
		opts.Log = slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "driftd")

		// SIGHUP reloads; SIGUSR1 asks for a fast scan now, SIGUSR2 a full one.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		reload := make(chan struct{}, 1)
		scan := make(chan agent.ScanMode, 1)
		opts.Reload, opts.Scan = reload, scan
		// The signal goroutine ends with the daemon, however it returns.
		sigCtx, stopSigs := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopSigs(); <-done }()
		go func() {
			defer close(done)
			for {
				select {
				case sig := <-sigs:
					switch sig {
					case syscall.SIGHUP:
						offer(reload, struct{}{})
					case syscall.SIGUSR1:
						offer(scan, agent.ModeFast)
					case syscall.SIGUSR2:
						offer(scan, agent.ModeFull)
					}
				case <-sigCtx.Done():
					return
				}
			}
		}()
		return agent.Run(ctx, opts)
	}
	return cmd
}

// offer sends v unless a value is waiting already: repeated signals
// coalesce into one request.
func offer[T any](c chan T, v T) {
	select {
	case c <- v:
	default:
	}
}
