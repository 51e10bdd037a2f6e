package check

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline"
	"driftd/baseline/manifest"
	"driftd/baseline/walk"
)

// SealPath is where a state dir keeps the seal: the first-boot paths as
// they were when the host was sealed.
func SealPath(stateDir string) string { return filepath.Join(stateDir, "seal.manifest") }

// ErrSealed is a seal asked for on a host sealed already: a host is sealed
// once.
var ErrSealed = errors.New("check: the host is sealed already")

// ReadSeal reads a state dir's seal; nil when the host is not sealed.
func ReadSeal(stateDir string) (*baseline.Manifest, error) {
	if _, err := os.Stat(SealPath(stateDir)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	// The seal is signed with a key made for it and then forgotten: it
	// lives in the root-only state dir, and its signature proves nothing.
	return manifest.Read(SealPath(stateDir), nil)
}

// WriteSeal records the first-boot paths under root as they are now, in
// the state dir. It refuses a host that is sealed already. Pipeline.Seal
// is the usual way; `driftd seal` with no daemon calls it directly. alg is
// the baseline's hash: the seal's digests stand in for the baseline's.
func WriteSeal(ctx context.Context, root string, rules *baseline.Rules, alg baseline.Hash, workers int, stateDir, version string) (*baseline.Manifest, error) {
	if !rules.HasFirstBoot() {
		return nil, errors.New("check: no rule marks first_boot paths: nothing to seal")
	}
	if _, err := os.Stat(SealPath(stateDir)); err == nil {
		return nil, ErrSealed
	}
	// A host is sealed once: with its seal gone, the record still says
	// so, and a new seal would absorb whatever changed since.
	if rec, err := ReadRecord(stateDir); err != nil || rec != nil && !rec.Sealed.IsZero() {
		return nil, fmt.Errorf("%w (the host record says so: a missing seal is not made again)", ErrSealed)
	}
	w := &walk.Walker{Root: root, Rules: rules.FirstBootRules(), Workers: workers, Hash: alg}
	entries, err := w.Walk(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	m := &baseline.Manifest{
		Header: baseline.Header{DriftdVersion: version, Created: time.Now().Unix(), Labels: map[string]string{"kind": "seal"},
			RulesDigest: rules.Digest(), Hash: alg.String()},
		Entries: baseline.Pack(entries),
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := manifest.Write(SealPath(stateDir), m, key); err != nil {
		return nil, err
	}
	if err := recordSeal(stateDir, m); err != nil {
		return nil, err
	}
	return m, nil
}

// FirstBoot is how a pipeline treats the first-boot paths.
type FirstBoot uint8

// The first-boot modes.
const (
	// NoFirstBoot: every path is compared with the baseline. An image
	// checked from outside (no state dir) has no first boot; nor has a
	// config without first_boot rules.
	NoFirstBoot FirstBoot = iota
	// Sealed: the first-boot paths are compared with the host's seal.
	Sealed
	// Unsealed: the first-boot window is open (or the seal is unreadable):
	// changed first-boot paths are pending, neither drift nor clean.
	Unsealed
)

// String names the mode as status and reports do.
func (fb FirstBoot) String() string {
	return [...]string{"none", "sealed", "unsealed"}[fb]
}

// SealState is the first-boot state of a pipeline.
type SealState struct {
	Mode   FirstBoot
	Seal   *baseline.Manifest // when Sealed
	Reason string             // why the mode is what it is
	// Unreadable: a seal exists but cannot be read. It is never made
	// again (that would absorb what changed since).
	Unreadable bool
	// Tampered says why the host's seal cannot be trusted though its
	// window has closed for good: missing, or not the one driftd wrote.
	// The first-boot paths are then compared with the baseline, with no
	// exemption, and the tampering is a critical finding.
	Tampered string
}

func (p *Pipeline) cloudInitInstalled() bool {
	return exists(filepath.Join(p.opts.Root, "usr/bin/cloud-init"))
}

func (p *Pipeline) cloudInitDone() bool {
	return exists(filepath.Join(p.opts.Root, "var/lib/cloud/instance/boot-finished"))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// CloudInitFinished is SealDue's reason when cloud-init has finished.
const CloudInitFinished = "cloud-init finished"

// SealDue reports whether an unsealed host should be sealed now, and why:
// at once where cloud-init is not installed, once it has finished where it
// is, or when the wait for it has passed WindowStart + CloudInitTimeout.
func (p *Pipeline) SealDue(now time.Time) (why string, due bool) {
	if p.seal.Mode != Unsealed || p.seal.Unreadable {
		return "", false
	}
	switch {
	case !p.cloudInitInstalled():
		return "first check, no cloud-init", true
	case p.cloudInitDone():
		return CloudInitFinished, true
	case !p.opts.WindowStart.IsZero() && now.After(p.opts.WindowStart.Add(p.opts.CloudInitTimeout)):
		return "cloud-init did not finish within " + p.opts.CloudInitTimeout.String(), true
	}
	return "", false
}

// Seal records the first-boot paths as they are now and returns the
// pipeline that compares them with that record from now on.
func (p *Pipeline) Seal(ctx context.Context, why string) (*Pipeline, error) {
	if p.seal.Mode == Sealed {
		return nil, ErrSealed
	}
	if p.opts.ReadOnly {
		return nil, errors.New("check: the state dir is held by another driftd: it seals, not this one")
	}
	if p.opts.StateDir == "" || !p.rules.HasFirstBoot() {
		return nil, errors.New("check: nothing to seal: no state dir, or no rule marks first_boot paths")
	}
	m, err := WriteSeal(ctx, p.opts.Root, p.rules, p.opts.Manifest.Header.ContentHash(), p.opts.Workers, p.opts.StateDir, p.opts.Version)
	if err != nil {
		return nil, err
	}
	return p.WithSeal(m, why), nil
}

// WithSeal is the pipeline with a seal made by Seal in force: for a
// daemon whose pipeline changed (new SSH paths) while the seal was made.
func (p *Pipeline) WithSeal(m *baseline.Manifest, why string) *Pipeline {
	next := *p
	next.useSeal(m, why)
	return &next
}

// useSeal puts a seal in force: a view of the baseline whose first-boot
// paths are as the seal recorded them. The manifest's entries stay as
// signed.
func (p *Pipeline) useSeal(m *baseline.Manifest, why string) {
	p.seal = SealState{Mode: Sealed, Seal: m, Reason: why}
	p.entries = baseline.SealedBase(p.opts.Manifest.Entries, m.Entries, p.rules)
}
