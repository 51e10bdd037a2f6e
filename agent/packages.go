package agent

import (
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"driftd/baseline"
	"driftd/baseline/explain"
	"driftd/baseline/pkgdb"
	"driftd/reporter"
)

// packages is the daemon's view of the package databases: the package
// drift now, and the explainer that tells which file changes a package
// change accounts for.
type packages struct {
	fingerprint string // of the databases last read
	check       explain.Packages
	dbDirs      []string // where package operations write, root-relative
	reading     bool     // a read is running
	again       bool     // and another was asked for meanwhile
	read        bool     // read at least once under this baseline
}

// packagesRead is a finished read of the package databases.
type packagesRead struct {
	fingerprint string
	base        *baseline.Manifest // the baseline it was compared with
	check       explain.Packages
	// explained are the findings held when the read started, explained
	// anew by the job (explaining hashes files: not on the loop).
	explained []baseline.Finding
}

// packageSettle is how long the package databases must be quiet before
// they are read: a package operation writes them many times.
const packageSettle = time.Second

// requestPackages reads the package databases again if they changed since
// the last read (or always, with force), as a job; the result comes back
// to the loop on pkgDone.
func (d *Daemon) requestPackages(force bool) {
	if d.base == nil {
		return
	}
	if d.pkgs.reading {
		d.pkgs.again = true // the databases may change after this read took them
		return
	}
	fp := pkgdb.Fingerprint(d.opts.Root)
	if !force && d.pkgs.read && fp == d.pkgs.fingerprint {
		return
	}
	d.pkgs.reading = true
	p, base, ctx := d.pipe, d.base, d.ctx
	held := make([]baseline.Finding, 0, len(d.state.current))
	for _, t := range d.state.current {
		held = append(held, t.Finding)
	}
	d.jobs.Go(func() {
		r := packagesRead{fingerprint: fp, base: base, check: p.Packages(ctx), explained: held}
		r.check.Explain(r.explained)
		select {
		case d.pkgDone <- r:
		case <-ctx.Done():
		}
	})
}

// applyPackages takes a read of the package databases into the state:
// it announces package changes, annotates every file finding anew, and
// updates the metrics.
func (d *Daemon) applyPackages(r packagesRead) {
	d.pkgs.reading = false
	if d.pkgs.again {
		d.pkgs.again = false
		defer d.requestPackages(false) // the fingerprint says whether they did
	}
	if r.base != d.base {
		return // read against a baseline no longer in force
	}
	for _, u := range r.check.Unverified {
		if !slices.Contains(d.pkgs.check.Unverified, u) {
			d.log.Error("package databases not verified", "reason", u)
		}
	}
	old := d.pkgs.check.Findings
	d.pkgs.fingerprint, d.pkgs.check = r.fingerprint, r.check
	d.announcePackages(old, r.check.Findings)
	d.unsaved = true // the package findings are saved with the file findings
	for _, f := range r.explained {
		// A finding that changed since the job took it was explained by
		// the comparison that changed it.
		if t, ok := d.state.current[f.Path]; ok && t.After == f.After && t.Before == f.Before {
			t.Owner, t.ExplainedBy, t.ByHand = f.Owner, f.ExplainedBy, f.ByHand
		}
	}
	if r.check.Checked {
		d.metrics.SetPackageDrift(r.check.Findings)
	}
	d.pkgs.read = true
	// Reading the databases leaves megabytes of garbage (dpkg's status
	// file alone is a few), and it happens rarely: hand it back now.
	debug.FreeOSMemory()
	if d.checked {
		d.announce() // the first check is complete with its packages
	}
	d.publish()
}

// announcePackages logs and counts what changed between two package
// comparisons: a package finding that is new ("drift"), different
// ("changed") or gone ("reverted").
func (d *Daemon) announcePackages(old, now []baseline.PackageFinding) {
	before := map[string]*baseline.PackageFinding{}
	for i := range old {
		before[old[i].Package().Key()] = &old[i]
	}
	sev := d.cfg.PackageSeverity()
	announce := func(event Event, f *baseline.PackageFinding) {
		p := f.Package()
		d.events.LogAttrs(context.Background(), eventLevel(event), string(event),
			slog.String("kind", f.Kind.String()), slog.String("category", baseline.PackageCategory),
			slog.String("severity", sev.String()), slog.String("manager", p.Manager), slog.String("package", p.Name),
			slog.String("arch", p.Arch), slog.String("before", f.Before.Version), slog.String("after", f.After.Version),
			slog.String("baseline_id", d.baselineID()))
		if event == EventDrift {
			d.metrics.DriftEvents.WithLabelValues(baseline.PackageCategory, f.Kind.String()).Inc()
		}
		j := reporter.NewPackageFindingJSON(f, sev)
		d.remember(reporter.EventJSON{Time: time.Now(), Event: string(event), Package: &j})
	}
	still := map[string]bool{}
	for i := range now {
		f := &now[i]
		still[f.Package().Key()] = true
		switch b, ok := before[f.Package().Key()]; {
		case !ok:
			announce(EventDrift, f)
			d.trip(d.cfg.Policy.ForPackage(f, sev))
		case *b != *f:
			announce(EventChanged, f)
			d.trip(d.cfg.Policy.ForPackage(f, sev))
		}
	}
	for i := range old {
		if !still[old[i].Package().Key()] {
			announce(EventReverted, &old[i])
		}
	}
}
