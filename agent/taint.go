package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline"
	"driftd/reporter"
)

// TaintPath is where a state dir keeps the latch.
func TaintPath(stateDir string) string { return filepath.Join(stateDir, "taint.json") }

// ReadTaint reads the latch of a state dir. No file means not tainted. A
// file that cannot be read or parsed is an error: the caller must not take
// it for "not tainted".
func ReadTaint(stateDir string) (*reporter.Taint, error) {
	data, err := os.ReadFile(TaintPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return &reporter.Taint{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read taint: %w", err)
	}
	var t reporter.Taint
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("taint %s: %w", TaintPath(stateDir), err)
	}
	return &t, nil
}

// WriteTaint saves the latch atomically and durably: written beside, synced,
// renamed, and the directory synced.
func WriteTaint(stateDir string, t *reporter.Taint) error {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return baseline.WriteFileAtomic(TaintPath(stateDir), append(data, '\n'), 0o600)
}

// ClearTaint clears the latch of a state dir for reason, keeping the record
// of what it was. It returns the taint as it was.
func ClearTaint(stateDir, reason string) (was *reporter.Taint, err error) {
	t, err := ReadTaint(stateDir)
	if err != nil {
		return nil, err
	}
	if !t.Tainted {
		return t, nil
	}
	return t, WriteTaint(stateDir, cleared(t, reason))
}

// cleared is the latch after a clear: not tainted, with the record of the
// clear and of the taint it cleared.
func cleared(was *reporter.Taint, reason string) *reporter.Taint {
	return &reporter.Taint{Cleared: &reporter.Cleared{Time: time.Now().UTC(), Reason: reason, Was: was.Reason}}
}

// loadTaint restores the latch at start. A latch that cannot be read is
// taken as set: driftd never clears a taint by losing it.
func (d *Daemon) loadTaint() {
	t, err := ReadTaint(d.stateDir)
	if err != nil {
		d.log.Error("taint state unreadable: the host is taken as tainted", "err", err)
		t = &reporter.Taint{Tainted: true, Since: time.Now().UTC(), Reason: "taint state unreadable: " + err.Error()}
	}
	d.taint = t
	if t.Tainted {
		d.log.Warn("host is tainted: replacement required", "since", t.Since, "reason", t.Reason)
		d.applyTaint()
	}
}

// considerTaint trips the latch if trigger is drift the policy names.
func (d *Daemon) considerTaint(taints bool, reason string, trigger *reporter.Trigger) {
	if !taints || d.taint.Tainted {
		return
	}
	d.taint = &reporter.Taint{Tainted: true, Since: time.Now().UTC(), Reason: reason, BaselineID: d.baselineID(),
		Trigger: trigger, Cleared: d.taint.Cleared}
	d.events.LogAttrs(context.Background(), slog.LevelError, "taint",
		slog.String("reason", reason), slog.Any("trigger", trigger), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: "taint", Taint: &reporter.TaintEventJSON{Reason: reason}})
	d.saveTaint() // the latch is durable before anything acts on it
	d.applyTaint()
}

// taintFinding trips the latch for a file finding the policy names.
func (d *Daemon) taintFinding(f *baseline.Finding) {
	if d.taint.Tainted || !d.cfg.Policy.Taints(f.Rule.Category, f.Rule.Severity) {
		return
	}
	t := &reporter.Trigger{Event: "drift", Path: f.Path, Kind: f.Kind.String(), Category: f.Rule.Category,
		Severity: f.Rule.Severity.String(), Rule: f.Rule.Pattern}
	if f.Owner != nil {
		t.Package = f.Owner.Name
	}
	d.considerTaint(true, fmt.Sprintf("%s drift: %s %s", f.Rule.Severity, f.Kind, reporter.DisplayPath(f.Path)), t)
}

// taintPackage trips the latch for a package finding the policy names.
func (d *Daemon) taintPackage(f *baseline.PackageFinding) {
	sev := d.cfg.PackageSeverity()
	taints := d.cfg.Policy.Packages || d.cfg.Policy.Taints(baseline.PackageCategory, sev)
	p := f.Package()
	d.considerTaint(taints, fmt.Sprintf("package %s: %s %s", f.Change(), p.Manager, p.Name),
		&reporter.Trigger{Event: "package", Kind: f.Kind.String(), Category: baseline.PackageCategory, Severity: sev.String(), Package: p.Name})
}

// taintLogin trips the latch for a remote login, when the policy says so.
func (d *Daemon) taintLogin(s session) {
	d.considerTaint(d.cfg.SSH.TaintOnLogin, fmt.Sprintf("ssh login: %s from %s", s.User, s.Host),
		&reporter.Trigger{Event: "ssh_login", Category: baseline.SSHCategory, User: s.User, RemoteHost: s.Host})
}

// applyTaint does what the latch calls for: the metrics, /healthz, the
// marker file, and the hook unless it is done; it saves the record of
// them. Each but the hook is idempotent, so a restart applies them again.
func (d *Daemon) applyTaint() {
	t := d.taint
	d.metrics.ReplacementRequired.Set(1)
	d.metrics.ReplacementSince.Set(float64(t.Since.Unix()))
	d.record("metric", "driftd_replacement_required 1")
	d.publish()
	d.record("healthz", "503")
	if m := d.cfg.Policy.MarkerFile; m != "" {
		body, _ := json.Marshal(map[string]any{"since": t.Since, "reason": t.Reason, "baseline_id": t.BaselineID})
		outcome := "written " + m
		if err := writeMarker(m, append(body, '\n')); err != nil {
			d.log.Error("replacement marker not written", "err", err)
			outcome = "failed: " + err.Error()
		}
		d.record("marker", outcome)
	}
	d.saveTaint()
	if len(d.cfg.Policy.Hook.Command) > 0 && !t.Hook.Done {
		d.startHook()
	}
}

func writeMarker(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("marker %s: %w", path, err)
	}
	return baseline.WriteFileAtomic(path, body, 0o644)
}

// record adds an action to the latch's record; a restart re-applying the
// same action with the same outcome is not recorded twice.
func (d *Daemon) record(action, outcome string) {
	acts := d.taint.Actions
	for _, a := range acts {
		if a.Action == action && a.Outcome == outcome {
			return
		}
	}
	d.taint.Actions = append(acts, reporter.ActionRecord{Time: time.Now().UTC(), Action: action, Outcome: outcome})
}

// saveTaint writes the latch; a failure is logged (the latch holds in
// memory, and the next save tries again).
func (d *Daemon) saveTaint() {
	if err := WriteTaint(d.stateDir, d.taint); err != nil {
		d.log.Error("taint not saved", "err", err)
	}
}

// clearTaint clears the latch on an operator's word, undoes the actions
// that can be undone, and says so in the events.
func (d *Daemon) clearTaint(reason string) error {
	if reason == "" {
		return errors.New("a reason is required")
	}
	was := d.taint
	d.stopHook()
	d.taint = cleared(was, reason)
	if err := WriteTaint(d.stateDir, d.taint); err != nil {
		d.taint = was
		return err
	}
	if m := d.cfg.Policy.MarkerFile; m != "" {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.log.Error("replacement marker not removed", "err", err)
		}
	}
	d.metrics.ReplacementRequired.Set(0)
	d.metrics.ReplacementSince.Set(0)
	d.events.LogAttrs(context.Background(), slog.LevelWarn, "taint_cleared",
		slog.String("reason", reason), slog.String("was", was.Reason), slog.Time("since", was.Since),
		slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: "taint_cleared", Taint: &reporter.TaintEventJSON{Reason: reason, Was: was.Reason}})
	d.publish()
	return nil
}
