package reporter

import (
	"fmt"
	"io"
	"time"
)

// Taint is the replacement latch, as the state dir keeps it and `driftd
// taint status` shows it: once set by
// drift the policy names, it stays set (across reverts, restarts and
// reboots) until `driftd taint clear --reason` clears it.
type Taint struct {
	Tainted    bool      `json:"tainted"`
	Since      time.Time `json:"since,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	BaselineID string    `json:"baseline_id,omitempty"`
	// Trigger is what tripped the latch: a finding, a package, a login.
	Trigger *Trigger `json:"trigger,omitempty"`
	// Actions lists what was done about it, in order.
	Actions []ActionRecord `json:"actions,omitempty"`
	Hook    HookState      `json:"hook"`
	// Cleared is the last clear, kept for the record.
	Cleared *Cleared `json:"cleared,omitempty"`
	// Clears counts the clears over the host's life, the daemon's and the
	// command's alike: driftd_taint_clears_total starts from it, so a clear
	// made while the daemon was down still shows.
	Clears int `json:"clears,omitempty"`
}

// Trigger is what tripped the latch.
type Trigger struct {
	Event      string `json:"event"` // drift, package, ssh_login
	Path       string `json:"path,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Category   string `json:"category,omitempty"`
	Severity   string `json:"severity,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Package    string `json:"package,omitempty"`
	User       string `json:"user,omitempty"`
	RemoteHost string `json:"remote_host,omitempty"`
}

// ActionRecord is one thing done about a taint.
type ActionRecord struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"` // metric, healthz, marker, hook
	Outcome string    `json:"outcome"`
}

// HookState is how far the hook got: it runs until one attempt succeeds or
// the retries are spent, and never again for the same taint.
type HookState struct {
	Attempts int    `json:"attempts"`
	Done     bool   `json:"done"` // succeeded, or gave up
	Outcome  string `json:"outcome,omitempty"`
}

// Cleared records a clear of the latch.
type Cleared struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	Was    string    `json:"was"` // the reason the host had been tainted
}

// TaintEventJSON is a taint set or cleared, in the event history.
type TaintEventJSON struct {
	Reason string `json:"reason"`
	Was    string `json:"was,omitempty"` // for a clear: why the host had been tainted
}

// WriteTaintText renders the latch for a person, first line first: it is
// what node-problem-detector shows as the condition's message.
func WriteTaintText(w io.Writer, t *Taint) error {
	if !t.Tainted {
		fmt.Fprintln(w, "not tainted")
		if c := t.Cleared; c != nil {
			fmt.Fprintf(w, "last cleared %s: %s (was: %s)\n", c.Time.Local().Format(time.DateTime), c.Reason, c.Was)
		}
		return nil
	}
	fmt.Fprintf(w, "TAINTED: replacement required since %s: %s\n", t.Since.Local().Format(time.DateTime), t.Reason)
	if t.BaselineID != "" {
		fmt.Fprintf(w, "baseline %s\n", t.BaselineID)
	}
	for _, a := range t.Actions {
		fmt.Fprintf(w, "  %s  %-8s %s\n", a.Time.Local().Format(time.DateTime), a.Action, a.Outcome)
	}
	return nil
}
