package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"driftd/agent"
	"driftd/baseline"
	"driftd/reporter"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	configPath, root := scopeFlags(fs)
	manifestPath := fs.String("baseline", "", "the manifest (default: baseline.path of the config, inside --root)")
	pubPath := fs.String("pubkey", "", "the public key (default: baseline.public_key of the config, inside --root)")
	format := fs.String("format", "text", "report format: text or json")
	textfile := fs.String("textfile", "", "also write metrics here for node_exporter's textfile collector")
	insecure := fs.Bool("insecure-skip-signature-check", false, "LAB USE ONLY: compare against a manifest whose signature is not checked; the result is never clean")
	stateDir := fs.String("state-dir", "", "where the host's seal of its first-boot paths is (default: daemon.state_dir of the config, when --root is /)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format %q: want text or json", *format)
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
		if pub, err = baseline.LoadPublicKey(*pubPath); err != nil {
			return err
		}
	}
	m, err := baseline.ReadManifest(*manifestPath, pub)
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

	// The walk feeds the comparison as it goes: the observed tree is
	// never held whole, only what differs.
	start := time.Now()
	if err := s.withSSH(baseline.MergeSSHPaths(m.Header.SSHPaths, baseline.SSHPaths(s.root))); err != nil {
		return err
	}
	if *stateDir == "" && s.root == "/" {
		*stateDir = s.config.Daemon.StateDir
	}
	firstBoot, err := applySeal(m, s.rules, *stateDir)
	if err != nil {
		return err
	}
	res, observed, err := baseline.CompareWalk(ctx, s.walker(stderr, "check"), m.Entries, "/", nil)
	s.stopProgress()
	if err != nil {
		return err
	}
	res.Findings, firstBoot.skipped = firstBoot.filter(res.Findings)
	pkgs := baseline.CheckPackages(s.root, m)
	pkgs.Explain(res.Findings)
	rep := &reporter.CheckReport{
		Root:     s.root,
		Manifest: m,
		Result:   res,
		Observed: observed,
		Started:  start,
		Duration: time.Since(start),

		Packages:          pkgs.Findings,
		PackagesChecked:   pkgs.Checked,
		PackageSeverity:   s.config.PackageSeverity(),
		PackageUnverified: pkgs.Unverified,
		Warnings:          pkgs.Warnings,
	}
	if firstBoot.skipped > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the host is not sealed: %d changed first-boot paths are not reported (they may change until `driftd seal`)", firstBoot.skipped))
	}
	if m.Header.RulesDigest != s.config.Rules.Digest() {
		rep.Warnings = append(rep.Warnings, "the rules differ from those the baseline was baked with: paths whose scope changed show as added or removed")
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
	case reporter.StatusUnverified:
		return errUnverified
	}
	return nil
}

// firstBootPaths is what a check does with first-boot paths: compare them
// with the host's seal, or, on a host not sealed yet, leave them out.
type firstBootPaths struct {
	unsealed bool
	rules    *baseline.Rules
	skipped  int
}

// applySeal puts the state dir's seal, if any, into m's entries.
func applySeal(m *baseline.Manifest, rules *baseline.Rules, stateDir string) (firstBootPaths, error) {
	if !rules.HasFirstBoot() {
		return firstBootPaths{}, nil
	}
	var seal *baseline.Manifest
	if stateDir != "" {
		var err error
		if seal, err = agent.ReadSeal(stateDir); err != nil {
			return firstBootPaths{}, err
		}
	}
	if seal == nil {
		return firstBootPaths{unsealed: true, rules: rules}, nil
	}
	m.Entries = baseline.WithSealed(m.Entries, seal.Entries, rules.FirstBoot)
	return firstBootPaths{}, nil
}

// filter leaves out the first-boot findings of a host not sealed yet.
func (fb firstBootPaths) filter(findings []baseline.Finding) ([]baseline.Finding, int) {
	if !fb.unsealed {
		return findings, 0
	}
	kept := fb.rules.WithoutFirstBoot(findings)
	return kept, len(findings) - len(kept)
}
