package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"driftd/agent"
	"driftd/agent/config"
	"driftd/agent/policy"
	"driftd/reporter"
)

// errTainted is the exit of `driftd taint status` on a tainted host: 1, as
// node-problem-detector's custom plugins read it (0 OK, 1 problem, 2 unknown).
var errTainted = errors.New("tainted")

func taintCommand() *cobra.Command {
	cmd := newCommand("taint", 0)
	status := newCommand("taint status", 0)
	stateDir, configPath := taintFlags(status)
	format := status.Flags().String("format", "text", "text or json")
	status.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return taintStatus(cmp.Or(*stateDir, cfg.Daemon.StateDir), *format, c.OutOrStdout())
	}
	clear := newCommand("taint clear", 0)
	clearStateDir, clearConfig := taintFlags(clear)
	reason := clear.Flags().String("reason", "", "why the taint is cleared (required; the event records it)")
	clear.RunE = func(c *cobra.Command, _ []string) error {
		if *reason == "" {
			return fmt.Errorf("--reason is required: the event that records the clear names it")
		}
		cfg, err := config.Load(*clearConfig)
		if err != nil {
			return err
		}
		dir := cmp.Or(*clearStateDir, cfg.Daemon.StateDir)
		return taintClear(c.Context(), dir, agent.SocketPath(cfg.Daemon.Socket, *clearStateDir), cfg, *reason, c.OutOrStdout())
	}
	cmd.AddCommand(status, clear)
	return cmd
}

// taintFlags are the flags both taint commands take.
func taintFlags(cmd *cobra.Command) (stateDir, configPath *string) {
	stateDir = cmd.Flags().String("state-dir", "", "the daemon's state directory (default: daemon.state_dir of the config)")
	configPath = cmd.Flags().String("config", "", "config file, for the state dir, the socket and the marker file (default: the embedded default config)")
	return
}

// taintStatus reads the latch from the state dir itself: it answers when
// the daemon is down, which is when a health checker needs it most.
func taintStatus(stateDir, format string, stdout io.Writer) error {
	t, err := policy.Read(stateDir)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(t)
	} else {
		err = reporter.WriteTaintText(stdout, t)
	}
	if err != nil {
		return err
	}
	if t.Tainted {
		return errTainted
	}
	return nil
}

// taintClear asks the running daemon to clear the latch, so that it undoes
// the actions and logs the event; with no daemon running, it clears the
// state dir's latch and removes the marker itself, and prints the event.
func taintClear(ctx context.Context, stateDir, socket string, cfg *config.Loaded, reason string, stdout io.Writer) error {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	resp, err := localRequest(ctx, socket, http.MethodPost, "/v1/taint/clear", body)
	var was reporter.Taint
	switch {
	case err == nil:
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&was); err != nil {
			return fmt.Errorf("daemon socket %s: %w", socket, err)
		}
	case errors.Is(err, errNoDaemon):
		t, err := policy.Clear(stateDir, reason)
		if err != nil {
			return err
		}
		was = *t
		if m := cfg.Policy.MarkerFile; m != "" && t.Tainted {
			if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove marker: %w", err)
			}
		}
		if t.Tainted {
			// No daemon to log it: the event goes to stdout, in the
			// daemon's event format.
			ev, _ := json.Marshal(map[string]any{"time": time.Now().UTC(), "level": "WARN", "msg": "taint_cleared",
				"reason": reason, "was": t.Reason, "since": t.Since, "baseline_id": t.BaselineID, "by": "driftd taint clear (daemon not running)"})
			fmt.Fprintf(stdout, "%s\n", ev)
		}
	default:
		return err
	}
	if !was.Tainted {
		fmt.Fprintln(stdout, "not tainted: nothing to clear")
		return nil
	}
	fmt.Fprintf(stdout, "cleared the taint of %s (%s): %s\n", was.Since.Local().Format(time.DateTime), was.Reason, reason)
	return nil
}

// errNoDaemon is a local socket with no daemon behind it.
var errNoDaemon = errors.New("no daemon")

// errNotRoot is a local socket this user may not open: it is root-only.
var errNotRoot = errors.New("needs root: the local API is root-only")

// localRequest sends a request to the daemon's local socket and returns
// the response when it is 200. With no daemon listening it returns
// errNoDaemon, so that the caller can do the work itself.
func localRequest(ctx context.Context, socket, method, path string, body []byte) (*http.Response, error) {
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}},
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://driftd"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
		return nil, errNoDaemon
	case errors.Is(err, os.ErrPermission):
		return nil, errNotRoot
	case err != nil:
		return nil, fmt.Errorf("daemon socket %s: %w", socket, err)
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("daemon socket %s: %s", socket, bytes.TrimSpace(msg))
	}
	return resp, nil
}
