package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"driftd/agent/config"
	"driftd/baseline"
	"driftd/baseline/check"
	"driftd/baseline/manifest"
	"driftd/baseline/pkgdb"
	"driftd/reporter"
)

// loadBaseline reads and verifies the baseline a config names.
func (d *Daemon) loadBaseline(cfg *config.Loaded) (*baseline.Manifest, error) {
	path := override(d.opts.BaselinePath, filepath.Join(d.opts.Root, cfg.Baseline.Path))
	var pub ed25519.PublicKey
	if !d.opts.Insecure {
		var err error
		if pub, err = manifest.LoadPublicKey(override(d.opts.PubkeyPath, filepath.Join(d.opts.Root, cfg.Baseline.PublicKey))); err != nil {
			return nil, err
		}
	}
	return manifest.Read(path, pub)
}

// pinned passes a loaded baseline on if it is the one the host is pinned
// to (pinning it at the first start), and refuses any other: the refusal
// is the error, and is said loudly.
func (d *Daemon) pinned(m *baseline.Manifest, err error) (*baseline.Manifest, error) {
	if err != nil {
		return nil, err
	}
	err = check.Pin(d.stateDir, m)
	d.guard.wrote("host.json")
	if errors.Is(err, check.ErrPinned) {
		d.refuseBaseline(m, err)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// setBaseline puts a loaded (and pinned) baseline in force, with its
// pipeline, or records why there is none.
func (d *Daemon) setBaseline(m *baseline.Manifest, err error) {
	var p *check.Pipeline
	if err == nil {
		p, err = check.New(check.Options{
			Root:             d.opts.Root,
			Manifest:         m,
			Rules:            d.cfg.Rules,
			StateDir:         d.stateDir,
			Workers:          d.cfg.Scan.WorkerCount(),
			CrossFilesystems: d.cfg.Scan.CrossFilesystems,
			Version:          d.opts.Version,
			WindowStart:      time.Now(),
			CloudInitTimeout: d.cfg.FirstBoot.CloudInitTimeout.Duration,
			PublicKey:        d.cfg.Baseline.PublicKey,
		})
	}
	if err != nil {
		d.base, d.pipe, d.baseReason = nil, nil, "baseline not verified: "+err.Error()
		d.log.Error("baseline not verified: driftd runs but vouches for nothing", "err", err)
		d.metrics.BaselineVerified.Set(0)
		return
	}
	d.base, d.pipe, d.baseReason = m, p, ""
	d.baseFile = override(d.opts.BaselinePath, filepath.Join(d.opts.Root, d.cfg.Baseline.Path))
	d.baseRel = baseline.RootPath(d.cfg.Baseline.Path)
	d.baseStamp, _ = stampOf(d.baseFile, false)
	for _, f := range p.TamperFindings() {
		d.log.Error("the first-boot seal was tampered with", "reason", p.SealState().Tampered)
		d.addTamper(f, EventSealTampered)
	}
	d.pkgs = packages{dbDirs: pkgdb.DatabaseDirs(d.opts.Root)}
	d.startSeal()
	if !m.Verified {
		d.baseReason = "baseline signature not checked (--insecure-skip-signature-check)"
	}
	d.metrics.SetBaseline(m.ID(), m.Header.Labels)
	d.metrics.BaselineVerified.Set(map[bool]float64{true: 1}[m.Verified])
	d.metrics.SetClasses(p.Rules().Classes())
}

func (d *Daemon) statePath() string { return filepath.Join(d.stateDir, "findings.json") }

// start begins monitoring under a verified baseline: restore the state
// (exported at once, with each finding's class), watch, and start the
// first full check. The loop serves the local API meanwhile (status
// "starting").
func (d *Daemon) start() {
	d.state = newFindings()
	pkgs, err := d.state.load(d.statePath(), d.base.ID(), d.pipe.Rules())
	if err != nil {
		d.log.Warn("findings state not restored: findings will be announced as new", "err", err)
	}
	d.pkgs.check.Findings = pkgs // announced before the restart: not news
	if len(pkgs) > 0 {
		d.metrics.SetPackageDrift(pkgs)
	}
	d.exportDrift()
	if d.cfg.Watch.Enabled && d.watch == nil {
		w, err := newWatcher(d.opts.Root, d.cfg.Watch.MaxDirectories, d.cfg.Watch.Attribution, d.log, d.metrics)
		if err != nil {
			d.log.Error("cannot watch: relying on the fast scan", "err", err)
		} else {
			d.watch = w
		}
	}
	if d.watch != nil {
		// The package databases are watched even where the rules leave
		// them out: a package change must show within seconds.
		d.watch.add(d.pkgs.dbDirs)
	}
	// Watches are added as the first check walks, so a change during it
	// is caught; nothing is reported clean until it is done.
	d.checked = false
	d.requestScan(ModeFull)
}

// reload loads the config and the baseline again. Only when both are good
// do they replace the ones in force; a bad reload keeps the old ones and
// sets driftd_config_last_reload_successful to 0.
func (d *Daemon) reload() {
	cfg, err := config.Load(d.opts.ConfigPath)
	var m *baseline.Manifest
	if err == nil {
		m, err = d.pinned(d.loadBaseline(cfg))
	}
	if err != nil {
		d.metrics.ConfigReloadSuccessful.Set(0)
		d.metrics.ReloadFailures.Inc()
		d.log.Error("reload failed: the previous config and baseline stay in force", "err", err)
		d.events.LogAttrs(context.Background(), slog.LevelWarn, string(EventReloadFailed), slog.String("err", err.Error()),
			slog.String("by", "SIGHUP"), slog.String("baseline_id", d.baselineID()))
		d.remember(reporter.EventJSON{Time: time.Now(), Event: string(EventReloadFailed)})
		d.publish()
		return
	}
	changed := d.base == nil || m.Digest != d.base.Digest
	d.cfg = cfg
	d.latch = d.latchFor(d.latch.Taint)
	d.setBaseline(m, nil)
	d.requestPackages(true)
	d.metrics.ConfigReloadSuccessful.Set(1)
	d.log.Info("reloaded", "config", cfg.Name, "baseline_id", m.ID())
	if changed && !d.scanning {
		d.start() // a new image's baseline: its own state, a first check
		d.announce()
	} else {
		d.requestScan(ModeFast) // the rules may have changed the scope
	}
	d.publish()
}

// sshConfigPath reports whether a changed path may change the SSH paths
// derived from the root: the users, or the sshd config.
func sshConfigPath(p string) bool {
	return p == "/etc/passwd" || p == "/etc/ssh" || strings.HasPrefix(p, "/etc/ssh/")
}

// deriveSSHPaths derives the SSH paths again after the users or the sshd
// config changed; new paths are scanned at once.
func (d *Daemon) deriveSSHPaths() {
	if d.pipe == nil {
		return
	}
	p, changed, err := d.pipe.Rederive()
	if err != nil {
		d.log.Error("derived SSH paths not watched", "err", err)
		return
	}
	if !changed {
		return
	}
	d.pipe = p
	d.metrics.SetClasses(p.Rules().Classes())
	d.log.Info("SSH paths changed with the users or the sshd config: scanning", "paths", len(p.SSHPaths()))
	d.requestScan(ModeFast)
}

// refuseBaseline says that a baseline other than the pinned one was
// offered: counted, an event, a critical finding in driftd's own category
// that no scan clears, and the taint the policy gives it.
func (d *Daemon) refuseBaseline(m *baseline.Manifest, err error) {
	d.metrics.BaselineChanges.WithLabelValues("refused").Inc()
	d.log.Error("baseline refused: this host is pinned to its image's baseline for life; a new image means a new host", "err", err)
	d.events.LogAttrs(context.Background(), slog.LevelError, string(EventBaselineRefused), slog.String("err", err.Error()),
		slog.String("offered", m.ID()), slog.String("key_id", m.Header.KeyID))
	d.addTamper(check.Tampered(baseline.RootPath(d.cfg.Baseline.Path), "pinned baseline"), EventBaselineRefused)
}

// addTamper holds a finding about driftd itself: it stays until the host
// is replaced (no scan makes or clears it), and trips the policy.
func (d *Daemon) addTamper(f baseline.Finding, event Event) {
	if d.tamper == nil {
		d.tamper = map[string]*tracked{}
	}
	if _, seen := d.tamper[f.Path]; !seen {
		t := &tracked{Finding: f, FirstSeen: time.Now()}
		d.tamper[f.Path] = t
		d.metrics.DriftEvents.WithLabelValues(f.Rule.Category, f.Kind.String()).Inc()
		d.events.LogAttrs(context.Background(), slog.LevelError, string(EventDrift), findingAttrs(&f, d.baselineID(), t.FirstSeen)...)
		j := reporter.NewFindingJSON(&f)
		d.remember(reporter.EventJSON{Time: time.Now(), Event: string(event), Find: &j})
	}
	d.trip(d.cfg.Policy.ForFinding(&f))
	d.exportDrift()
}
