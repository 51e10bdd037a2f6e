package main

import (
	"crypto/ed25519"
	"fmt"

	"github.com/spf13/cobra"

	"driftd/agent/config"
	"driftd/baseline"
	"driftd/baseline/manifest"
	"driftd/baseline/pkgdb"
	"driftd/reporter"
)

func showCommand() *cobra.Command {
	cmd := newCommand("show", 1)
	fs := cmd.Flags()
	format := fs.String("format", "text", "text or json")
	pubPath := fs.String("pubkey", "", "verify the signature with this public key")
	sbom := fs.String("sbom", "", "export the package list as an SBOM instead: cyclonedx (1.5) or spdx (2.3), JSON")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		stdout := cmd.OutOrStdout()
		if *sbom != "" && *sbom != reporter.SBOMCycloneDX && *sbom != reporter.SBOMSPDX {
			return fmt.Errorf("--sbom %q: want %s or %s", *sbom, reporter.SBOMCycloneDX, reporter.SBOMSPDX)
		}
		m, err := readForDisplay(pos[0], *pubPath)
		if err != nil {
			return err
		}
		if *sbom != "" {
			return reporter.WriteSBOM(stdout, m, *sbom, version)
		}
		switch *format {
		case "text":
			return reporter.WriteManifestText(stdout, m)
		case "json":
			return reporter.WriteManifestJSON(stdout, m)
		}
		return fmt.Errorf("--format %q: want text or json", *format)
	}
	return cmd
}

func diffCommand() *cobra.Command {
	cmd := newCommand("diff", 2)
	fs := cmd.Flags()
	format := fs.String("format", "text", "text or json")
	configPath := fs.String("config", "", "the config whose rules classify each path (default: the embedded default)")
	pubPath := fs.String("pubkey", "", "verify both signatures with this public key")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		stdout := cmd.OutOrStdout()
		if *format != "text" && *format != "json" {
			return fmt.Errorf("--format %q: want text or json", *format)
		}
		from, err := readForDisplay(pos[0], *pubPath)
		if err != nil {
			return err
		}
		to, err := readForDisplay(pos[1], *pubPath)
		if err != nil {
			return err
		}
		if a, b := from.Header.ContentHash(), to.Header.ContentHash(); a != b {
			return fmt.Errorf("%s digests by %s and %s by %s: their contents cannot be compared (bake both with the same --hash)", pos[0], a, pos[1], b)
		}
		cfg, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		// Classified as a check would: the config's rules, the derived SSH
		// paths of either image, driftd's own files.
		rules, err := cfg.Rules.WithSSH(baseline.MergeSSHPaths(from.Header.SSHPaths, to.Header.SSHPaths))
		if err == nil {
			rules, err = rules.WithSelf(baseline.SelfPaths(cfg.Baseline.PublicKey))
		}
		if err != nil {
			return err
		}
		d := &reporter.DiffReport{From: from, To: to, Result: baseline.Diff(from, to, rules, pkgdb.ManagerDirs), Packages: baseline.DiffPackages(from, to),
			PackageSeverity: cfg.PackageSeverity()}
		if *format == "json" {
			err = d.WriteJSON(stdout)
		} else {
			err = d.WriteText(stdout)
		}
		if err != nil {
			return err
		}
		if len(d.Result.Findings) > 0 || len(d.Packages) > 0 {
			return errDrift // the images differ: exit 1, as check's drift
		}
		return nil
	}
	return cmd
}

// readForDisplay reads a manifest to look at: verified when a key is given,
// otherwise read as is (show says which).
func readForDisplay(path, pubPath string) (*baseline.Manifest, error) {
	var pub ed25519.PublicKey
	if pubPath != "" {
		var err error
		if pub, err = manifest.LoadPublicKey(pubPath); err != nil {
			return nil, err
		}
	}
	return manifest.Read(path, pub)
}
