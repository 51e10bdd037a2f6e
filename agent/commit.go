package agent

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"driftd/baseline"
	"driftd/baseline/check"
	"driftd/reporter"
)

// Event is the name of an event in the JSON event stream.
type Event string

// The events the daemon writes.
const (
	EventDrift        Event = "drift"    // a path or package drifted
	EventChanged      Event = "changed"  // a drifted path or package changed again
	EventReverted     Event = "reverted" // back as baked
	EventSealed       Event = "sealed"
	EventTaint        Event = "taint"
	EventTaintCleared Event = "taint_cleared"
	EventHook         Event = "hook"
	EventSSHLogin     Event = "ssh_login"
	EventSSHSession   Event = "ssh_session" // open when the daemon started
	EventSSHLogout    Event = "ssh_logout"  // a login from sshd's log ended
	// EventBaselineRefused is another baseline or key than the pinned one.
	EventBaselineRefused Event = "baseline_refused"
	EventReloadFailed    Event = "reload_failed"
	// EventSealTampered is a seal missing or not the one driftd wrote.
	EventSealTampered Event = "seal_tampered"
	// EventStateTampered is a write to the state dir driftd did not make.
	EventStateTampered Event = "state_tampered"
)

// commit takes the comparison of the scopes into the state, announces what
// changed, and updates the metrics and the saved state. mode is how the
// comparison was made: each new or changed finding's event says whether
// it was seen in real time (watch) or by a scan (fast or full), which is
// how a directory past the watch limit is covered.
func (d *Daemon) commit(scope scopes, res check.Result, mode ScanMode) {
	changes := d.state.apply(scope, res, time.Now())
	for i := range changes {
		c := &changes[i]
		if c.Event == EventDrift || c.Event == EventChanged {
			c.Finding.By = d.actor(c.Finding.Path)
			d.state.current[c.Finding.Path].By = c.Finding.By
		}
	}
	id := d.base.ID()
	keepFrom := len(changes) - historySize // only the last ones stay in the history
	for i, c := range changes {
		f := &c.Finding
		foundBy := string(mode) // how it was seen; a reverted finding was not
		if c.Event == EventReverted {
			foundBy = ""
		}
		attrs := findingAttrs(f, id, c.FirstSeen)
		if foundBy != "" {
			attrs = append(attrs, slog.String("found_by", foundBy))
		}
		d.events.LogAttrs(context.Background(), eventLevel(c.Event), string(c.Event), attrs...)
		if c.Event == EventDrift {
			d.metrics.DriftEvents.WithLabelValues(f.Rule.Category, f.Kind.String()).Inc()
		}
		if c.Event != EventReverted {
			d.trip(d.cfg.Policy.ForFinding(f))
		}
		if i >= keepFrom {
			j := reporter.NewFindingJSON(f)
			d.remember(reporter.EventJSON{Time: time.Now(), Event: string(c.Event), Find: &j, FoundBy: foundBy})
		}
	}
	d.exportDrift()
	if len(changes) > 0 {
		d.unsaved = true
		d.sinceFree += len(changes)
	}
}

// findingAttrs are a finding's event fields.
func findingAttrs(f *baseline.Finding, baselineID string, firstSeen time.Time) []slog.Attr {
	path, path64 := reporter.RawString(f.Path)
	attrs := []slog.Attr{
		slog.String("path", path), slog.String("kind", f.Kind.String()), slog.Any("changes", f.Changes.Names()),
		slog.String("category", f.Rule.Category), slog.String("severity", f.Rule.Severity.String()),
		slog.String("rule", f.Rule.Pattern), slog.String("baseline_id", baselineID), slog.Time("first_seen", firstSeen),
	}
	if path64 != "" {
		attrs = append(attrs, slog.String("path_base64", path64))
	}
	if f.Owner != nil {
		attrs = append(attrs, slog.String("package", f.Owner.Name))
	}
	if e := f.ExplainedBy; e != nil {
		attrs = append(attrs, slog.Group("explained_by", "manager", e.Manager, "package", e.Package, "before", e.Before, "after", e.After))
	} else if f.ByHand {
		attrs = append(attrs, slog.Bool("by_hand", true))
	}
	if f.Diff != "" {
		attrs = append(attrs, slog.String("diff", f.Diff))
	}
	if f.DiffNote != "" {
		attrs = append(attrs, slog.String("diff_note", f.DiffNote))
	}
	if a := f.By; a != nil {
		by := []any{"pid", a.PID, "comm", a.Comm, "exe", a.Exe, "uid", a.UID, "user", a.User,
			"loginuid", a.LoginUID, "session", a.Session}
		if l := a.Login; l != nil {
			by = append(by, slog.GroupAttrs("login", loginAttrs(l)...))
		}
		attrs = append(attrs, slog.Group("by", by...))
	}
	return attrs
}

// exportDrift sets the drift metrics from the state: every class the rules
// can produce, 0 when clean.
func (d *Daemon) exportDrift() {
	if d.pipe != nil {
		d.metrics.SetClasses(d.pipe.Rules().Classes())
	}
	d.metrics.SetClasses([]baseline.Class{{Category: baseline.DriftdCategory, Severity: baseline.SeverityCritical}})
	counts := d.state.classes()
	for _, t := range d.tamper {
		counts[baseline.Class{Category: t.Rule.Category, Severity: t.Rule.Severity}]++
	}
	d.metrics.SetDrift(counts)
	d.metrics.UnverifiedPaths.Set(float64(len(d.state.unverified)))
}

// remember keeps an event in the recent history the local API serves.
func (d *Daemon) remember(e reporter.EventJSON) {
	if len(d.history) >= historySize {
		d.history = append(d.history[:0], d.history[len(d.history)-historySize+1:]...)
	}
	d.history = append(d.history, e)
}

// handBack returns memory to the host after more than minChanges changes
// (a storm leaves garbage the runtime would give back slowly), at most
// every 2 s; the save tick calls it with 0 to catch the end of a burst.
func (d *Daemon) handBack(minChanges int) {
	if d.sinceFree > minChanges && time.Since(d.lastFree) > 2*time.Second {
		debug.FreeOSMemory()
		d.lastFree, d.sinceFree = time.Now(), 0
	}
}

// saveEvery is how often changed findings are written to the state dir: a
// crash loses at most that much of the first-seen times (such findings are
// announced again after the restart); a storm of changes does not rewrite
// the state file on every batch.
const saveEvery = 5 * time.Second

// save writes the findings to the state dir if they changed.
func (d *Daemon) save() {
	if !d.unsaved || d.base == nil {
		return
	}
	err := d.state.save(d.statePath(), d.base.ID(), d.pkgs.check.Findings)
	d.guard.wrote("findings.json")
	if err != nil {
		d.log.Error("findings state not saved", "err", err)
		return
	}
	d.unsaved = false
}

func eventLevel(e Event) slog.Level {
	if e == EventReverted {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}
