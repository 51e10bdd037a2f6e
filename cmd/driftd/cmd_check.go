package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"driftd/agent/config"
	"driftd/agent/containers"
	"driftd/agent/imagebaseline"
	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/baseline/check"
	"driftd/baseline/manifest"
	"driftd/reporter"
)

func checkCommand() *cobra.Command {
	cmd := newCommand("check", 0)
	fs := cmd.Flags()
	configPath, root := scopeFlags(fs)
	manifestPath := fs.String("baseline", "", "the manifest (default: baseline.path of the config, inside --root)")
	pubPath := fs.String("pubkey", "", "the public key (default: baseline.public_key of the config, inside --root)")
	format := fs.String("format", "text", "report format: text or json")
	textfile := fs.String("textfile", "", "also write metrics here for node_exporter's textfile collector")
	insecure := fs.Bool("insecure-skip-signature-check", false, "LAB USE ONLY: compare against a manifest whose signature is not checked; the result is never clean")
	stateDir := fs.String("state-dir", "", "the host's state: its seal and taint latch (default: daemon.state_dir of the config when --root is /; none for an image root, which has no first boot)")
	container := fs.String("container", "", "check this running container (id, id prefix or name) against its image instead of the host against its baseline")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if *format != "text" && *format != "json" {
			return fmt.Errorf("--format %q: want text or json", *format)
		}
		if *container != "" {
			return checkContainer(ctx, *configPath, *stateDir, *container, *format, stdout)
		}
		if *textfile != "" {
			// Before the scan, not after it: a missing directory is a typo.
			if fi, err := os.Stat(filepath.Dir(*textfile)); err != nil || !fi.IsDir() {
				return fmt.Errorf("--textfile %s: directory %s does not exist (node_exporter's textfile directory, e.g. /var/lib/prometheus/node-exporter)", *textfile, filepath.Dir(*textfile))
			}
		}
		s, err := loadScope(*configPath, *root)
		if err != nil {
			return err
		}
		if *manifestPath == "" {
			*manifestPath = s.inRoot(s.config.Baseline.Path)
		}
		var pub ed25519.PublicKey
		if !*insecure {
			if *pubPath == "" {
				*pubPath = s.inRoot(s.config.Baseline.PublicKey)
			}
			if pub, err = manifest.LoadPublicKey(*pubPath); err != nil {
				return err
			}
		}
		m, err := manifest.Read(*manifestPath, pub)
		if err != nil {
			if *textfile != "" {
				if terr := reporter.WriteUnverifiedTextfile(*textfile); terr != nil {
					fmt.Fprintf(stderr, "driftd check: %v\n", terr)
				}
			}
			return err
		}
		if *insecure {
			fmt.Fprintf(stderr, "WARNING: --insecure-skip-signature-check: the signature of %s was NOT checked\n", *manifestPath)
		}
		// A live host (root /) keeps its seal and latch in the config's state
		// dir; an image root checked from outside has neither, unless a state
		// dir is given.
		if *stateDir == "" && s.root == "/" {
			*stateDir = s.config.Daemon.StateDir
		}

		// One writer per state dir: where the daemon runs, it seals and
		// taints; this check reads what it wrote and writes nothing.
		readOnly := false
		var tampered []baseline.Finding
		if *stateDir != "" {
			release, err := check.LockStateDir(*stateDir)
			switch {
			case errors.Is(err, check.ErrLocked):
				readOnly = true
			case err != nil:
				return err
			default:
				defer release()
			}
			if m.Verified && !readOnly {
				if err := check.Pin(*stateDir, m); errors.Is(err, check.ErrPinned) {
					fmt.Fprintf(stderr, "driftd check: baseline refused: %v\n", err)
					tampered = append(tampered, check.Tampered(baseline.RootPath(s.config.Baseline.Path), "pinned baseline"))
				} else if err != nil {
					return err
				}
			}
		}

		start := time.Now()
		p, err := check.New(check.Options{
			Root:             s.root,
			Manifest:         m,
			Rules:            s.config.Rules,
			StateDir:         *stateDir,
			Workers:          s.config.Scan.WorkerCount(),
			CrossFilesystems: s.config.Scan.CrossFilesystems,
			Version:          version,
			WindowStart:      bootTime(s.root),
			CloudInitTimeout: s.config.FirstBoot.CloudInitTimeout.Duration,
			ReadOnly:         readOnly,
			PublicKey:        s.config.Baseline.PublicKey,
		})
		if err != nil {
			return err
		}
		// The walk feeds the comparison as it goes: the observed tree is
		// never held whole, only what differs.
		p, v, err := p.Check(ctx, check.Scan{Progress: s.progress(stderr, "check")})
		s.stopProgress()
		if err != nil {
			return err
		}
		v.Findings = append(v.Findings, tampered...)
		seal := p.SealState()
		if seal.Tampered != "" {
			fmt.Fprintf(stderr, "driftd check: %s\n", seal.Tampered)
		}
		rep := &reporter.CheckReport{
			Root:     s.root,
			Manifest: m,
			Result:   v.Result.Result,
			Observed: v.Entries,
			Started:  start,
			Duration: time.Since(start),

			Packages:          v.Packages.Findings,
			PackagesChecked:   v.Packages.Checked,
			PackageSeverity:   s.config.PackageSeverity(),
			PackageUnverified: v.Packages.Unverified,
			Warnings:          v.Packages.Warnings,

			Pending:        v.Pending,
			Seal:           seal.Mode.String(),
			SealReason:     seal.Reason,
			SealedNow:      v.Sealed,
			Classes:        p.Rules().Classes(),
			BaselineLabels: s.config.Metrics.BaselineLabels,
		}
		if m.Header.RulesDigest != s.config.Rules.Digest() {
			rep.Warnings = append(rep.Warnings, "the rules differ from those the baseline was baked with: paths whose scope changed show as added or removed")
		}
		if readOnly {
			rep.Warnings = append(rep.Warnings, "the daemon holds the state dir: this check neither seals nor taints (the daemon does)")
			if t, err := policy.Read(*stateDir); err == nil {
				rep.Taint = t
			}
		} else if *stateDir != "" && m.Verified {
			pol := s.config.Policy.ForRoot(s.root)
			latch, err := applyPolicy(ctx, &pol, s.config.PackageSeverity(), *stateDir, m.ID(), &v, stderr)
			if err != nil {
				return err
			}
			rep.Taint = latch.Taint
		}
		if *textfile != "" {
			if err := rep.WriteTextfile(*textfile); err != nil {
				return err
			}
		}
		if *format == "json" {
			err = rep.WriteJSON(stdout)
		} else {
			err = rep.WriteText(stdout)
		}
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		switch rep.Status() {
		case reporter.StatusDrift:
			return errDrift
		case reporter.StatusUnverified, reporter.StatusUnsealed:
			return errUnverified
		}
		return nil
	}
	return cmd
}

// applyPolicy latches the taint in the state dir when the check found
// drift the policy names, writes the marker and runs the hook until it is
// done, as the daemon would: one latch, whichever of them runs. Actions a
// previous run finished are not done again.
func applyPolicy(ctx context.Context, pol *policy.Config, pkgSeverity baseline.Severity, stateDir, baselineID string, v *check.Verdict, stderr io.Writer) (*policy.Latch, error) {
	latch, err := policy.Open(stateDir, pol)
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v: the host is taken as tainted\n", err)
	}
	var trip *policy.Trip
	for i := range v.Findings {
		if trip = pol.ForFinding(&v.Findings[i]); trip != nil {
			break
		}
	}
	for i := 0; trip == nil && i < len(v.Packages.Findings); i++ {
		trip = pol.ForPackage(&v.Packages.Findings[i], pkgSeverity)
	}
	if _, err := latch.Trip(trip, baselineID); err != nil {
		return nil, fmt.Errorf("taint: %w", err)
	}
	if !latch.Tainted() {
		return latch, nil
	}
	latch.Record("textfile", "driftd_replacement_required 1")
	if err := latch.WriteMarker(); err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
	}
	if latch.HookDue() {
		latch.RunHook(ctx, func(a policy.Attempt) bool {
			if a.Outcome != policy.HookSuccess {
				fmt.Fprintf(stderr, "driftd check: hook attempt %d: %s: %s\n", a.N, a.Outcome, a.Detail)
			}
			if err := latch.HookAttempted(a); err != nil {
				fmt.Fprintf(stderr, "driftd check: taint not saved: %v\n", err)
			}
			return true
		})
	}
	return latch, latch.Save()
}

// bootTime is when this host booted, from /proc/stat, for a check of the
// live host (root /): the first-boot window closes at most
// first_boot.cloud_init_timeout after it. Zero elsewhere, or when unknown.
func bootTime(root string) time.Time {
	if root != "/" {
		return time.Time{}
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(secs, 0)
			}
		}
	}
	return time.Time{}
}

// checkContainer compares one running container with its image and
// reports it: 0 clean, 1 drift, 2 when it could not be read. The seals of
// first-boot paths are read from stateDir (default: the config's).
func checkContainer(ctx context.Context, configPath, stateDir, key, format string, stdout io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if stateDir == "" {
		stateDir = cfg.Daemon.StateDir
	}
	baked, err := imagebaseline.Reader(cfg.Containers.TrustedKeys)
	if err != nil {
		return err
	}
	opts := containers.Options{Baked: baked, StateDir: filepath.Join(stateDir, containers.StateDirName)}
	c, err := containers.CheckOne(ctx, cfg.Containers, cfg.ContainerRules, opts, cfg.Scan.WorkerCount(), key)
	if err != nil {
		return err
	}
	if err := writeContainers(stdout, []reporter.ContainerJSON{c}, format); err != nil {
		return err
	}
	return containersVerdict([]reporter.ContainerJSON{c})
}
