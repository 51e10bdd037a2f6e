package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"driftd/agent"
	"driftd/agent/config"
	"driftd/baseline"
	"driftd/reporter"
)

func statusCommand() *cobra.Command {
	cmd := newCommand("status", 0)
	fs := cmd.Flags()
	stateDir := fs.String("state-dir", "", "the daemon's state directory: its socket is driftd.sock there (default: daemon.socket of the config, else "+agent.DefaultSocket+")")
	configPath := fs.String("config", "", "config file, for daemon.socket (default: the embedded default config)")
	format := fs.String("format", "text", "text or json")
	var filter reporter.StatusFilter
	fs.StringVar(&filter.Path, "path", "", "only findings at this path or below it")
	fs.StringVar(&filter.Category, "category", "", "only findings of this category (ssh, binaries, package, ...)")
	severity := fs.String("severity", "", "only findings at this severity or above (info, low, medium, high, critical)")
	showContainers := fs.Bool("containers", false, "the running containers' drift against their images, not the host's")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		if *format != "text" && *format != "json" {
			return fmt.Errorf("--format %q: want text or json", *format)
		}
		if *severity != "" {
			sev, err := baseline.ParseSeverity(*severity)
			if err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			filter.MinSeverity = &sev
		}
		cfg, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		socket := agent.SocketPath(cfg.Daemon.Socket, *stateDir)
		if *showContainers {
			return statusContainers(ctx, socket, *format, stdout)
		}
		var s reporter.StatusJSON
		if err := getFromDaemon(ctx, socket, "/v1/status", &s); err != nil {
			return err
		}
		s = filter.Apply(s)
		if *format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(s)
		} else {
			width := 0
			if f, ok := stdout.(*os.File); ok {
				width = reporter.TerminalWidth(f)
			}
			err = reporter.WriteStatusText(stdout, &s, width)
		}
		if err != nil {
			return err
		}
		switch s.Status {
		case reporter.StatusClean:
			return nil
		case reporter.StatusDrift:
			return errDrift
		}
		return errUnverified
	}
	return cmd
}

// statusContainers shows the daemon's view of the containers: 0 when all
// are clean, 1 when one has drifted, 2 when one could not be read or the
// daemon cannot tell which run (its answer is then an error).
func statusContainers(ctx context.Context, socket, format string, stdout io.Writer) error {
	var cs []reporter.ContainerJSON
	if err := getFromDaemon(ctx, socket, "/v1/containers", &cs); err != nil {
		return err
	}
	if err := writeContainers(stdout, cs, format); err != nil {
		return err
	}
	return containersVerdict(cs)
}

// getFromDaemon decodes the daemon's JSON answer to GET path into v.
func getFromDaemon(ctx context.Context, socket, path string, v any) error {
	resp, err := localRequest(ctx, socket, http.MethodGet, path, nil)
	if errors.Is(err, errNoDaemon) {
		return fmt.Errorf("daemon socket %s: nothing listens (is driftd run going?)", socket)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("daemon socket %s: %w", socket, err)
	}
	return nil
}

// writeContainers prints containers as text or JSON.
func writeContainers(w io.Writer, cs []reporter.ContainerJSON, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(cs)
	}
	return reporter.WriteContainersText(w, cs)
}

// containersVerdict is the exit of a report on containers: drift in any
// is drift; else one unread is not verified.
func containersVerdict(cs []reporter.ContainerJSON) error {
	verdict := error(nil)
	for _, c := range cs {
		switch c.Status {
		case reporter.StatusDrift:
			return errDrift
		case reporter.StatusClean:
		default:
			verdict = errUnverified
		}
	}
	return verdict
}
