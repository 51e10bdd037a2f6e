package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"driftd/baseline/atomicfile"
	"driftd/reporter"
)

// LatchPath is where a state dir keeps the latch.
func LatchPath(stateDir string) string { return filepath.Join(stateDir, "taint.json") }

// Read reads the latch of a state dir. No file means not tainted. A file
// that cannot be read or parsed is an error: the caller must not take it
// for "not tainted".
func Read(stateDir string) (*reporter.Taint, error) {
	data, err := os.ReadFile(LatchPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return &reporter.Taint{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read taint: %w", err)
	}
	var t reporter.Taint
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("taint %s: %w", LatchPath(stateDir), err)
	}
	return &t, nil
}

// write saves the latch atomically and durably: written beside, synced,
// renamed, and the directory synced.
func write(stateDir string, t *reporter.Taint) error {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(LatchPath(stateDir), append(data, '\n'), 0o600)
}

// Clear clears the latch of a state dir for reason, keeping the record of
// what it was, for `driftd taint clear` with no daemon running. It returns
// the taint as it was.
func Clear(stateDir, reason string) (was *reporter.Taint, err error) {
	t, err := Read(stateDir)
	if err != nil {
		return nil, err
	}
	if !t.Tainted {
		return t, nil
	}
	return t, write(stateDir, cleared(t, reason))
}

// cleared is the latch after a clear: not tainted, with the record of the
// clear and of the taint it cleared.
func cleared(was *reporter.Taint, reason string) *reporter.Taint {
	return &reporter.Taint{Cleared: &reporter.Cleared{Time: time.Now().UTC(), Reason: reason, Was: was.Reason}, Clears: was.Clears + 1}
}

// Latch is the taint latch of one state dir, held by its one user (the
// daemon's loop, or one check) and written through to the state dir.
type Latch struct {
	dir    string
	policy *Config
	// Taint is the latch as it stands; read it, change it only through
	// the methods.
	Taint *reporter.Taint
	// Written, when set, is called after each write of the latch's file:
	// for a user that keeps a record of its own writes (the daemon's
	// state dir guard).
	Written func()
}

// Open reads the latch of a state dir. A latch that cannot be read is
// taken as set (driftd never clears a taint by losing it); the error says
// why, for the log.
func Open(stateDir string, p *Config) (*Latch, error) {
	t, err := Read(stateDir)
	if err != nil {
		t = &reporter.Taint{Tainted: true, Since: time.Now().UTC(), Reason: "taint state unreadable: " + err.Error()}
	}
	return &Latch{dir: stateDir, policy: p, Taint: t}, err
}

// Tainted reports whether the host is marked for replacement.
func (l *Latch) Tainted() bool { return l.Taint.Tainted }

// Trip sets the latch for trip unless it is set already, and saves it
// before anything acts on it. It reports whether the latch was tripped now.
func (l *Latch) Trip(trip *Trip, baselineID string) (bool, error) {
	if trip == nil || l.Taint.Tainted {
		return false, nil
	}
	l.Taint = &reporter.Taint{Tainted: true, Since: time.Now().UTC(), Reason: trip.Reason, BaselineID: baselineID,
		Trigger: trip.Trigger, Cleared: l.Taint.Cleared, Clears: l.Taint.Clears}
	return true, l.Save()
}

// Save writes the latch.
func (l *Latch) Save() error { return l.write(l.Taint) }

// write writes t as the latch's file and says so to Written.
func (l *Latch) write(t *reporter.Taint) error {
	err := write(l.dir, t)
	if l.Written != nil {
		l.Written()
	}
	return err
}

// Record adds an action to the latch's record; the same action with the
// same outcome applied again (by a restart, or the next check) is not
// recorded twice.
func (l *Latch) Record(action, outcome string) {
	for _, a := range l.Taint.Actions {
		if a.Action == action && a.Outcome == outcome {
			return
		}
	}
	l.Taint.Actions = append(l.Taint.Actions, reporter.ActionRecord{Time: time.Now().UTC(), Action: action, Outcome: outcome})
}

// WriteMarker writes the marker file, if the policy names one, and records
// the outcome. It is idempotent.
func (l *Latch) WriteMarker() error {
	m := l.policy.MarkerFile
	if m == "" {
		return nil
	}
	t := l.Taint
	body, _ := json.Marshal(map[string]any{"since": t.Since, "reason": t.Reason, "baseline_id": t.BaselineID})
	err := os.MkdirAll(filepath.Dir(m), 0o755)
	if err == nil {
		err = atomicfile.WriteFile(m, append(body, '\n'), 0o644)
	}
	if err != nil {
		err = fmt.Errorf("marker %s: %w", m, err)
		l.Record("marker", "failed: "+err.Error())
		return err
	}
	l.Record("marker", "written "+m)
	return nil
}

// HookDue reports whether the hook should run: the host is tainted, a hook
// is configured, and it has neither succeeded nor given up.
func (l *Latch) HookDue() bool {
	return l.Taint.Tainted && len(l.policy.Hook.Command) > 0 && !l.Taint.Hook.Done
}

// HookAttempted takes an attempt's outcome into the latch and saves it.
func (l *Latch) HookAttempted(a Attempt) error {
	h := &l.Taint.Hook
	h.Attempts, h.Outcome = a.N, a.Outcome
	h.Done = h.Done || a.Final
	l.Record("hook", fmt.Sprintf("attempt %d: %s", a.N, a.Outcome))
	return l.Save()
}

// Clear clears the latch on an operator's word and removes the marker. It
// returns the taint as it was.
func (l *Latch) Clear(reason string) (*reporter.Taint, error) {
	if reason == "" {
		return nil, errors.New("a reason is required")
	}
	was := l.Taint
	next := cleared(was, reason)
	if err := l.write(next); err != nil {
		return nil, err
	}
	l.Taint = next
	if m := l.policy.MarkerFile; m != "" {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return was, fmt.Errorf("the latch is cleared, but the marker stays: %w", err)
		}
	}
	return was, nil
}
