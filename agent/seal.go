package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline"
	"driftd/reporter"
)

// SealPath is where a state dir keeps the seal: the first-boot paths as
// they were when the host was sealed.
func SealPath(stateDir string) string { return filepath.Join(stateDir, "seal.manifest") }

// ErrSealed is a seal asked for on a host sealed already: a host is sealed
// once.
var ErrSealed = errors.New("the host is sealed already")

// ReadSeal reads a state dir's seal; nil when the host is not sealed.
func ReadSeal(stateDir string) (*baseline.Manifest, error) {
	if _, err := os.Stat(SealPath(stateDir)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	// The seal is signed with a key made for it and then forgotten: it
	// lives in the root-only state dir, and its signature proves nothing.
	return baseline.ReadManifest(SealPath(stateDir), nil)
}

// Seal records the first-boot paths under root as they are now, in the
// state dir. It refuses a host that is sealed already.
func Seal(ctx context.Context, root string, rules *baseline.Rules, workers int, stateDir, version string) (*baseline.Manifest, error) {
	if !rules.HasFirstBoot() {
		return nil, errors.New("no rule marks first_boot paths: nothing to seal")
	}
	if _, err := os.Stat(SealPath(stateDir)); err == nil {
		return nil, ErrSealed
	}
	w := &baseline.Walker{Root: root, Rules: rules.FirstBootRules(), Workers: workers}
	entries, err := w.Walk(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	m := &baseline.Manifest{
		Header:  baseline.Header{DriftdVersion: version, Created: time.Now().Unix(), Labels: map[string]string{"kind": "seal"}, RulesDigest: rules.Digest()},
		Entries: entries,
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := baseline.WriteManifest(SealPath(stateDir), m, key); err != nil {
		return nil, err
	}
	return m, nil
}

// sealing is the daemon's view of the first-boot seal.
type sealing struct {
	sealed   *baseline.Manifest // nil until sealed
	deadline time.Time          // waiting for cloud-init until then; zero: not waiting
	reason   string
}

// cloudInitPoll is how often a host waiting for cloud-init looks for
// boot-finished.
const cloudInitPoll = time.Second

// startSeal restores the seal, or decides when to seal: at once, or once
// cloud-init has finished where it is installed.
func (d *Daemon) startSeal() {
	d.seal = sealing{}
	if !d.rules.HasFirstBoot() {
		d.seal.reason = "no rule marks first_boot paths"
		return
	}
	m, err := ReadSeal(d.stateDir)
	if err != nil {
		// A seal that cannot be read is not re-made: that would absorb
		// what changed since. The first-boot paths stay unchecked, said
		// loudly, until an operator removes the file.
		d.log.Error("seal unreadable: first-boot paths are not checked", "err", err)
		d.seal.reason = "seal unreadable: " + err.Error()
		return
	}
	if m != nil {
		d.useSeal(m)
		return
	}
	if !d.cloudInitInstalled() || d.cloudInitDone() {
		d.sealNow("first start")
		return
	}
	d.seal.deadline = time.Now().Add(d.cfg.FirstBoot.CloudInitTimeout.Duration)
	d.seal.reason = "waiting for cloud-init to finish"
	d.log.Info("first boot: the seal waits for cloud-init", "timeout", d.cfg.FirstBoot.CloudInitTimeout)
}

func (d *Daemon) cloudInitInstalled() bool {
	return exists(filepath.Join(d.opts.Root, "usr/bin/cloud-init"))
}

func (d *Daemon) cloudInitDone() bool {
	return exists(filepath.Join(d.opts.Root, "var/lib/cloud/instance/boot-finished"))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pollSeal seals a host that waits for cloud-init once it has finished, or
// once the wait has timed out.
func (d *Daemon) pollSeal() {
	switch {
	case d.seal.deadline.IsZero():
	case d.cloudInitDone():
		d.sealNow("cloud-init finished")
	case time.Now().After(d.seal.deadline):
		d.log.Warn("cloud-init did not finish in time: sealing all the same", "timeout", d.cfg.FirstBoot.CloudInitTimeout)
		d.sealNow("cloud-init did not finish within " + d.cfg.FirstBoot.CloudInitTimeout.String())
	}
}

// sealNow seals the host and compares the first-boot paths from now on.
func (d *Daemon) sealNow(why string) error {
	if d.seal.sealed != nil {
		return ErrSealed
	}
	m, err := Seal(d.ctx, d.opts.Root, d.rules, d.cfg.Scan.WorkerCount(), d.stateDir, d.opts.Version)
	if err != nil {
		d.log.Error("seal failed", "err", err)
		return err
	}
	d.seal.deadline = time.Time{}
	d.useSeal(m)
	d.seal.reason = why
	d.events.LogAttrs(context.Background(), slog.LevelInfo, "sealed", slog.String("why", why),
		slog.Int("paths", len(m.Entries)), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: "sealed"})
	if d.checked {
		d.requestScan(d.ctx, "fast") // the first-boot paths are compared from now on
	}
	return nil
}

// useSeal puts a seal in force: the baseline's first-boot paths are
// replaced by their state at the seal.
func (d *Daemon) useSeal(m *baseline.Manifest) {
	d.seal.sealed = m
	d.base.Entries = baseline.WithSealed(d.base.Entries, m.Entries, d.rules.FirstBoot)
}

// unsealed drops the findings on first-boot paths while the host is not
// sealed: they may change until then.
func (d *Daemon) unsealed(findings []baseline.Finding) []baseline.Finding {
	if d.seal.sealed != nil {
		return findings
	}
	return d.rules.WithoutFirstBoot(findings)
}

func (d *Daemon) sealJSON() reporter.SealJSON {
	s := reporter.SealJSON{Reason: d.seal.reason}
	if m := d.seal.sealed; m != nil {
		s.Sealed, s.Time, s.Paths = true, time.Unix(m.Header.Created, 0).UTC(), len(m.Entries)
	}
	return s
}
