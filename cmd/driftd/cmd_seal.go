package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"driftd/agent"
	"driftd/baseline/check"
	"driftd/baseline/manifest"
	"driftd/reporter"
)

func sealCommand() *cobra.Command {
	cmd := newCommand("seal", 0)
	fs := cmd.Flags()
	configPath, root := scopeFlags(fs)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default: daemon.state_dir of the config)")
	manifestPath := fs.String("baseline", "", "with no daemon, the baseline the seal is for, whose hash it digests by (default: baseline.path of the config, inside --root)")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		s, err := loadScope(*configPath, *root)
		if err != nil {
			return err
		}
		dir := cmp.Or(*stateDir, s.config.Daemon.StateDir)
		socket := agent.SocketPath(s.config.Daemon.Socket, *stateDir)
		resp, err := localRequest(ctx, socket, http.MethodPost, "/v1/seal", nil)
		switch {
		case err == nil:
			defer resp.Body.Close()
			var sj reporter.SealJSON
			if err := json.NewDecoder(resp.Body).Decode(&sj); err != nil {
				return fmt.Errorf("daemon socket %s: %w", socket, err)
			}
			fmt.Fprintf(stdout, "sealed %d first-boot paths at %s\n", sj.Paths, sj.Time.Local().Format(time.DateTime))
			return nil
		case errors.Is(err, errNoDaemon):
		default:
			return err
		}
		// No daemon: seal the state dir directly; the daemon takes it up at
		// its next start.
		// The seal digests as the baseline does; which hash that is, the
		// baseline's header says (the seal is checked against the verified
		// baseline when it is taken up).
		header, err := manifest.ReadHeader(cmp.Or(*manifestPath, s.inRoot(s.config.Baseline.Path)))
		if err != nil {
			return fmt.Errorf("seal: %w (--baseline names it)", err)
		}
		m, err := check.WriteSeal(ctx, s.root, s.rules, header.ContentHash(), s.config.Scan.WorkerCount(), dir, version)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sealed %d first-boot paths in %s\n", m.Entries.Len(), check.SealPath(dir))
		return nil
	}
	return cmd
}
