package check

import (
	"context"
	"encoding/hex"
	"slices"
	"time"

	"driftd/baseline"
	"driftd/baseline/explain"
	"driftd/baseline/sshpaths"
	"driftd/baseline/textdiff"
	"driftd/baseline/walk"
)

// Options are what a pipeline compares: a verified manifest, the root, the
// config's rules, and where the host keeps its seal.
type Options struct {
	Root     string
	Manifest *baseline.Manifest // verified (or explicitly not, for lab use); never changed
	Rules    *baseline.Rules    // the config's; the SSH paths are added here
	// StateDir holds the host's seal. Empty: the root is an image checked
	// from outside, with no first boot.
	StateDir         string
	Workers          int
	CrossFilesystems bool
	Version          string // written into a seal
	// WindowStart and CloudInitTimeout bound the wait for cloud-init
	// before a seal: past WindowStart+CloudInitTimeout the host is sealed
	// all the same. A zero WindowStart waits for cloud-init alone.
	WindowStart      time.Time
	CloudInitTimeout time.Duration
	// PublicKey is the config's baseline.public_key, root-relative: one of
	// driftd's own paths (baseline.SelfPaths), watched at critical.
	PublicKey string
	// ReadOnly: another driftd (the daemon) holds the state dir; this
	// pipeline reads the seal and record but writes neither.
	ReadOnly bool
}

// Pipeline compares a root with its baseline. It does not change once
// made (sealing or new SSH paths make a new one), so scans running on one
// pipeline may overlap a switch to the next.
type Pipeline struct {
	opts     Options
	rules    *baseline.Rules // the config's, with the SSH paths
	sshPaths []string
	seal     SealState
	entries  *baseline.Base // the baseline as compared: the manifest's, or its sealed view
}

// New makes the pipeline for opts: it derives the SSH paths from the root
// and reads the seal. It seals nothing: see SealDue and Seal.
func New(opts Options) (*Pipeline, error) {
	p := &Pipeline{opts: opts, entries: baseline.BaseOf(opts.Manifest.Entries)}
	if err := p.setSSHPaths(baseline.MergeSSHPaths(opts.Manifest.Header.SSHPaths, sshpaths.Derive(opts.Root))); err != nil {
		return nil, err
	}
	switch {
	case !p.rules.HasFirstBoot():
		p.seal = SealState{Mode: NoFirstBoot, Reason: "no rule marks first_boot paths"}
	case opts.StateDir == "":
		p.seal = SealState{Mode: NoFirstBoot, Reason: "an image checked from outside: no first boot"}
	default:
		p.seal = openSeal(opts.StateDir, opts.Manifest.Header.ContentHash())
		if p.seal.Mode == Sealed {
			p.useSeal(p.seal.Seal, p.seal.Reason)
		}
	}
	return p, nil
}

func (p *Pipeline) setSSHPaths(paths []string) error {
	rules, err := p.opts.Rules.WithSSH(paths)
	if err == nil {
		rules, err = rules.WithSelf(baseline.SelfPaths(p.opts.PublicKey))
	}
	if err != nil {
		return err
	}
	p.rules, p.sshPaths = rules, paths
	return nil
}

// Rederive derives the SSH paths from the root again (after the users or
// the sshd config changed); it returns a new pipeline when they changed.
func (p *Pipeline) Rederive() (*Pipeline, bool, error) {
	paths := baseline.MergeSSHPaths(p.opts.Manifest.Header.SSHPaths, sshpaths.Derive(p.opts.Root))
	if slices.Equal(paths, p.sshPaths) {
		return p, false, nil
	}
	next := *p
	if err := next.setSSHPaths(paths); err != nil {
		return p, false, err
	}
	return &next, true, nil
}

// Manifest is the signed baseline, as read.
func (p *Pipeline) Manifest() *baseline.Manifest { return p.opts.Manifest }

// Rules are the rules in force, the SSH paths included.
func (p *Pipeline) Rules() *baseline.Rules { return p.rules }

// SSHPaths are the SSH paths derived from the baseline and the root.
func (p *Pipeline) SSHPaths() []string { return p.sshPaths }

// SealState is the first-boot state.
func (p *Pipeline) SealState() SealState { return p.seal }

// Result is a comparison through the pipeline.
type Result struct {
	baseline.Result
	// Pending are changed first-boot paths on a host not sealed yet:
	// not drift yet, and never clean.
	Pending []baseline.Finding
	Entries int // entries walked
}

// Explain fills in each finding's package, and what accounts for it, from
// a read of the package databases: the pending ones' too.
func (r *Result) Explain(pkgs *explain.Packages) {
	pkgs.Explain(r.Findings)
	pkgs.Explain(r.Pending)
}

// Scan says how much a comparison reads.
type Scan struct {
	// Fast reads only what changed since the bake (size, times, inode);
	// otherwise every file is read and hashed.
	Fast bool
	// BytesPerSecond limits the hashing rate; 0: no limit.
	BytesPerSecond int64
	// Workers overrides the pipeline's pool size when positive.
	Workers int
	// Progress, when set, counts what the walk has done.
	Progress *walk.Progress
	// BeforeList, when set, is called with each directory before it is
	// listed (see walk.Walker).
	BeforeList func(dir string)
}

// Compare walks path below the root (everything, for "/") and compares it
// with the baseline.
func (p *Pipeline) Compare(ctx context.Context, path string, scan Scan) (Result, error) {
	w := &walk.Walker{
		Root:             p.opts.Root,
		Rules:            p.rules,
		Workers:          p.opts.Workers,
		CrossFilesystems: p.opts.CrossFilesystems,
		BytesPerSecond:   scan.BytesPerSecond,
		Progress:         scan.Progress,
		BeforeList:       scan.BeforeList,
		Hash:             p.opts.Manifest.Header.ContentHash(),
	}
	if scan.Workers > 0 {
		w.Workers = scan.Workers
	}
	if scan.Fast {
		w.Known = baseline.KnownFrom(p.entries)
	}
	c := baseline.NewScopedComparer(p.entries, p.rules, path)
	c.Accept(p.opts.Manifest.Header.AcceptedUnreadable)
	res, n, err := walk.CompareWith(ctx, w, c, path)
	if err != nil {
		return Result{}, err
	}
	res.SetHash(w.Hash)
	textdiff.Annotate(p.opts.Root, res.Findings, p.opts.Manifest.Contents, p.rules, textdiff.DefaultMaxBytes)
	out := Result{Result: res, Entries: n}
	if p.seal.Mode == Unsealed {
		out.Findings, out.Pending = p.rules.SplitFirstBoot(res.Findings)
	}
	return out, nil
}

// Packages reads the package databases under the root and compares them
// with the baseline's inventory; its Explain annotates file findings.
func (p *Pipeline) Packages(ctx context.Context) explain.Packages {
	return explain.Check(ctx, p.opts.Root, p.opts.Manifest)
}

// Verdict is a whole check's outcome: the comparison of the whole root,
// the packages, and each finding explained.
type Verdict struct {
	Result
	Packages explain.Packages
	// Sealed is why this check sealed the host, if it did.
	Sealed string
}

// Check seals the host if its first-boot window has closed, compares the
// whole root, reads the packages and explains each finding: what `driftd
// check` reports. It returns the pipeline in force after it (sealed, if
// it sealed).
func (p *Pipeline) Check(ctx context.Context, scan Scan) (*Pipeline, Verdict, error) {
	var v Verdict
	if why, due := p.SealDue(time.Now()); due && !p.opts.ReadOnly {
		sealed, err := p.Seal(ctx, why)
		if err != nil {
			return p, v, err
		}
		p, v.Sealed = sealed, why
	}
	res, err := p.Compare(ctx, "/", scan)
	if err != nil {
		return p, v, err
	}
	v.Result = res
	v.Packages = p.Packages(ctx)
	v.Result.Explain(&v.Packages)
	v.Findings = append(v.Findings, p.TamperFindings()...)
	return p, v, nil
}

// openSeal reads a live host's seal and checks it against the host's
// record: a seal the record does not know (other content, another key), or
// none where the record says the host was sealed, is tampering. So is a
// seal whose digests are not by alg, the baseline's hash: driftd seals
// with the baseline's.
func openSeal(stateDir string, alg baseline.Hash) SealState {
	rec, rerr := ReadRecord(stateDir)
	m, err := ReadSeal(stateDir)
	sealedBefore := rec != nil && !rec.Sealed.IsZero()
	switch {
	case rerr != nil:
		return SealState{Mode: NoFirstBoot, Tampered: "host record unreadable: " + rerr.Error()}
	case m == nil && err == nil && sealedBefore:
		return SealState{Mode: NoFirstBoot, Tampered: "seal missing: the host was sealed " + rec.Sealed.Format(time.RFC3339)}
	case err != nil && sealedBefore:
		return SealState{Mode: NoFirstBoot, Tampered: "seal unreadable: " + err.Error()}
	case err != nil:
		return SealState{Mode: Unsealed, Unreadable: true, Reason: "seal unreadable: " + err.Error()}
	case m == nil:
		return SealState{Mode: Unsealed, Reason: "not sealed yet"}
	case !sealedBefore || rec.SealDigest != hex.EncodeToString(m.Digest[:]):
		return SealState{Mode: NoFirstBoot, Tampered: "seal not written by driftd: its digest is not the one recorded"}
	case m.Header.ContentHash() != alg:
		return SealState{Mode: NoFirstBoot, Tampered: "seal digests by " + m.Header.ContentHash().String() + ", the baseline by " + alg.String() + ": not a seal of this baseline"}
	}
	return SealState{Mode: Sealed, Seal: m, Reason: "sealed " + rec.Sealed.Format(time.RFC3339)}
}

// TamperFindings are the findings the seal's state makes: one, on the
// seal's path, when it was tampered with.
func (p *Pipeline) TamperFindings() []baseline.Finding {
	if p.seal.Tampered == "" {
		return nil
	}
	return []baseline.Finding{Tampered(SealPath(p.opts.StateDir), p.seal.Tampered)}
}
