package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"driftd/baseline"
	"driftd/baseline/manifest"
	"driftd/baseline/pkgdb"
	"driftd/baseline/sshpaths"
	"driftd/baseline/textdiff"
	"driftd/baseline/walk"
	"driftd/reporter"
)

func bakeCommand() *cobra.Command {
	cmd := newCommand("bake", 0)
	fs := cmd.Flags()
	configPath, root := scopeFlags(fs)
	keyPath := fs.String("key", "", "private key that signs the baseline (from driftd keygen)")
	out := fs.String("out", "", "where to write the manifest")
	hashName := fs.String("hash", "sha256", "the digest of contents and xattr values: sha256, or blake3 (about twice as fast on large files); checks use the baseline's")
	allowUnreadable := fs.Bool("allow-unreadable", false, "bake even when some paths could not be read in full; the manifest records them as accepted, and every check says so")
	lbls := labels{}
	fs.Var(lbls, "label", "a key=value label for the image; repeatable")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if *keyPath == "" || *out == "" {
			return fmt.Errorf("--key and --out are required")
		}
		alg, err := baseline.ParseHash(*hashName)
		if err != nil {
			return fmt.Errorf("--hash %q: want sha256 or blake3", *hashName)
		}
		created, err := creationTime()
		if err != nil {
			return err
		}
		s, err := loadScope(*configPath, *root)
		if err != nil {
			return err
		}
		key, err := manifest.LoadPrivateKey(*keyPath)
		if err != nil {
			return err
		}

		start := time.Now()
		sshPaths := sshpaths.Derive(s.root)
		if err := s.withSSH(sshPaths); err != nil {
			return err
		}
		// The package databases are read while the tree is walked.
		pkgs := make(chan packagesRead, 1)
		go func() { pkgs <- readPackages(ctx, s.root) }()
		w := s.walker(stderr, "bake")
		w.Hash = alg
		entries, err := w.WalkPacked(ctx)
		s.stopProgress()
		p := <-pkgs
		if err != nil {
			return err
		}
		if p.err != nil {
			return p.err
		}
		unreadable := unreadablePaths(entries)
		if len(unreadable) > 0 && !*allowUnreadable {
			return fmt.Errorf("%d paths could not be read in full, so no host of this image could verify them: %s (fix them, narrow the rules, or pass --allow-unreadable)",
				len(unreadable), describeUnreadable(entries))
		}
		m := &baseline.Manifest{
			Header: baseline.Header{
				AcceptedUnreadable: unreadable,
				DriftdVersion:      version,
				Hash:               alg.String(),
				Created:            created,
				Labels:             lbls,
				RulesDigest:        s.config.Rules.Digest(),
				PackageManagers:    p.inv.Managers,
				OS:                 pkgdb.ReadOSRelease(s.root),
				SSHPaths:           sshPaths,
			},
			Entries:  entries,
			Packages: p.inv.Packages,
		}
		m.SetOwners(p.owners)
		m.Contents = textdiff.Keep(s.root, entries, alg, s.rules, textdiff.DefaultMaxBytes)
		if err := manifest.Write(*out, m, key); err != nil {
			return err
		}
		c := m.Header.Counts
		fmt.Fprintf(stdout, "baked %s: baseline %s, %d entries (%d files, %d bytes) in %s\n",
			*out, m.ID(), c.Entries, c.Files, c.Bytes, time.Since(start).Round(time.Millisecond))
		if n := len(m.Contents); n > 0 {
			size := 0
			for _, c := range m.Contents {
				size += len(c)
			}
			fmt.Fprintf(stdout, "kept %d text files for diffs (%d bytes compressed)\n", n, size)
		}
		for _, st := range m.Header.PackageManagers {
			if st.Status == baseline.Inventoried {
				fmt.Fprintf(stdout, "packages %s: %d\n", st.Manager, st.Packages)
			} else {
				fmt.Fprintf(stderr, "warning: %s\n", st.Reason)
			}
		}
		if len(unreadable) > 0 {
			fmt.Fprintf(stderr, "warning: %d paths could not be read in full and are accepted as such (--allow-unreadable); every check says so: %s\n",
				len(unreadable), describeUnreadable(entries))
		}
		return nil
	}
	return cmd
}

// unreadablePaths are the entries the walk could not read in full.
func unreadablePaths(entries *baseline.Packed) []string {
	if entries.Counts().Errors == 0 {
		return nil
	}
	var out []string
	entries.All(func(_ int, e *baseline.Entry) bool {
		if e.Err != "" {
			out = append(out, e.Path)
		}
		return true
	})
	return out
}

// describeUnreadable names the first few unreadable entries and why, on
// one line.
func describeUnreadable(entries *baseline.Packed) string {
	var parts []string
	n := 0
	entries.All(func(_ int, e *baseline.Entry) bool {
		if e.Err != "" {
			if n++; n <= 5 {
				parts = append(parts, reporter.DisplayPath(e.Path)+" ("+e.Err+")")
			}
		}
		return true
	})
	if n > 5 {
		parts = append(parts, fmt.Sprintf("and %d more", n-5))
	}
	return strings.Join(parts, ", ")
}

// packagesRead is the package inventory of a root and who owns each path.
type packagesRead struct {
	inv    *baseline.Inventory
	owners map[string]int
	err    error
}

func readPackages(ctx context.Context, root string) packagesRead {
	inv, owners, err := pkgdb.ReadInventoryOwners(ctx, root)
	return packagesRead{inv: inv, owners: owners, err: err}
}

// creationTime is SOURCE_DATE_EPOCH when set, for reproducible images.
func creationTime() (int64, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok {
		return time.Now().Unix(), nil
	}
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a Unix time", s)
	}
	return t, nil
}

// walker walks the scope's root, with progress on stderr while it runs
// when stderr is a terminal (the returned walker's caller must call stop).
func (s *scope) walker(stderr io.Writer, verb string) *walk.Walker {
	return &walk.Walker{
		Root:             s.root,
		Rules:            s.rules,
		Workers:          s.config.Scan.WorkerCount(),
		CrossFilesystems: s.config.Scan.CrossFilesystems,
		Progress:         s.progress(stderr, verb),
	}
}

// progress is a walk's progress, drawn on stderr while it runs when stderr
// is a terminal (the caller must call stopProgress).
func (s *scope) progress(stderr io.Writer, verb string) *walk.Progress {
	// Bake holds every entry until the end, check the whole baseline, and
	// neither allocates much besides: a low GC target keeps the peak RSS
	// near the live heap for a few per cent more GC work.
	debug.SetGCPercent(25)
	p := &walk.Progress{}
	if f, ok := stderr.(*os.File); ok && reporter.IsTerminal(f) {
		s.stopProgress = reporter.ShowProgress(stderr, verb, p, walk.EstimateTree(s.root))
	}
	return p
}
