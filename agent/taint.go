package agent

import (
	"context"
	"log/slog"
	"time"

	"driftd/agent/policy"
	"driftd/reporter"
)

// openLatch opens the state dir's latch under the config in force; its
// writes are the daemon's own, which the state dir guard expects.
func (d *Daemon) openLatch() (*policy.Latch, error) {
	pol := d.cfg.Policy.ForRoot(d.opts.Root)
	l, err := policy.Open(d.stateDir, &pol)
	l.Written = func() { d.guard.wrote("taint.json") }
	return l, err
}

// latchFor is the state dir's latch under the config in force, holding t.
func (d *Daemon) latchFor(t *reporter.Taint) *policy.Latch {
	l, _ := d.openLatch()
	l.Taint = t
	return l
}

// loadTaint restores the latch at start. A latch that cannot be read is
// taken as set: driftd never clears a taint by losing it.
func (d *Daemon) loadTaint() {
	l, err := d.openLatch()
	if err != nil {
		d.log.Error("taint state unreadable: the host is taken as tainted", "err", err)
	}
	d.latch = l
	d.metrics.TaintClears.Add(float64(l.Taint.Clears)) // clears over the host's life, the command's too
	if t := l.Taint; t.Tainted {
		d.log.Warn("host is tainted: replacement required", "since", t.Since, "reason", t.Reason)
		d.applyTaint()
	}
}

// trip sets the latch for drift the policy names (trip non-nil), and acts
// on it.
func (d *Daemon) trip(trip *policy.Trip) {
	tripped, err := d.latch.Trip(trip, d.baselineID())
	if err != nil {
		d.log.Error("taint not saved: it holds in memory", "err", err)
	}
	if !tripped {
		return
	}
	d.events.LogAttrs(context.Background(), slog.LevelError, string(EventTaint),
		slog.String("reason", trip.Reason), slog.Any("trigger", trip.Trigger), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: string(EventTaint), Taint: &reporter.TaintEventJSON{Reason: trip.Reason}})
	d.applyTaint()
}

// applyTaint does what the latch calls for: the metrics, /healthz, the
// marker file, and the hook unless it is done; it saves the record of
// them. Each but the hook is idempotent, so a restart applies them again.
func (d *Daemon) applyTaint() {
	t := d.latch.Taint
	d.metrics.ReplacementRequired.Set(1)
	d.metrics.ReplacementSince.Set(float64(t.Since.Unix()))
	d.latch.Record("metric", "driftd_replacement_required 1")
	d.publish()
	d.latch.Record("healthz", "503")
	if err := d.latch.WriteMarker(); err != nil {
		d.log.Error("replacement marker not written", "err", err)
	}
	d.saveTaint()
	if d.latch.HookDue() {
		d.startHook()
	}
}

// saveTaint writes the latch; a failure is logged (the latch holds in
// memory, and the next save tries again).
func (d *Daemon) saveTaint() {
	err := d.latch.Save()
	if err != nil {
		d.log.Error("taint not saved", "err", err)
	}
}

// clearTaint clears the latch on an operator's word, undoes the actions
// that can be undone, and says so in the events.
func (d *Daemon) clearTaint(reason string, by reporter.Peer) error {
	d.stopHook()
	was, err := d.latch.Clear(reason)
	if was == nil {
		return err
	}
	if err != nil {
		d.log.Error("taint cleared", "err", err)
	}
	d.metrics.ReplacementRequired.Set(0)
	d.metrics.ReplacementSince.Set(0)
	d.metrics.TaintClears.Inc()
	d.events.LogAttrs(context.Background(), slog.LevelWarn, string(EventTaintCleared),
		slog.String("reason", reason), slog.String("was", was.Reason), slog.Time("since", was.Since),
		slog.Any("by", peerAttr(by)), slog.String("baseline_id", d.baselineID()))
	d.remember(reporter.EventJSON{Time: time.Now(), Event: string(EventTaintCleared), Taint: &reporter.TaintEventJSON{Reason: reason, Was: was.Reason}})
	d.publish()
	return nil
}

// hookRunner is the job that runs the hook for one taint. The loop owns
// it: it starts it, takes its attempts, and stops it.
type hookRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startHook runs the hook for the current taint off the loop, resuming
// after the attempts a previous run made; each attempt comes back to the
// loop on hookDone.
func (d *Daemon) startHook() {
	if d.hook != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	h := &hookRunner{cancel: cancel, done: make(chan struct{})}
	d.hook = h
	latch := *d.latch // the job reads its own copy: the loop owns the latch
	go func() {
		defer close(h.done)
		latch.RunHook(ctx, func(a policy.Attempt) bool {
			select {
			case d.hookDone <- a:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
}

// stopHook stops the hook's job and waits for it.
func (d *Daemon) stopHook() {
	if d.hook == nil {
		return
	}
	d.hook.cancel()
	<-d.hook.done
	d.hook = nil
}

// hookAttempted takes an attempt's outcome into the latch, the log and the
// metrics.
func (d *Daemon) hookAttempted(a policy.Attempt) {
	if a.Final {
		<-d.hook.done // it returns right after a final attempt
		d.hook = nil
	}
	err := d.latch.HookAttempted(a)
	if err != nil {
		d.log.Error("taint not saved", "err", err)
	}
	d.metrics.HookRuns.WithLabelValues(a.Outcome).Inc()
	level := slog.LevelInfo
	if a.Outcome != policy.HookSuccess {
		level = slog.LevelError
	}
	d.events.LogAttrs(context.Background(), level, string(EventHook), slog.Int("attempt", a.N), slog.String("outcome", a.Outcome),
		slog.String("detail", a.Detail), slog.Bool("final", a.Final), slog.String("baseline_id", d.baselineID()))
}

// peerAttr is who asked, for an event: the local socket peer's uid and
// pid as the kernel gave them.
func peerAttr(p reporter.Peer) any {
	if !p.Known {
		return "unknown"
	}
	return map[string]int{"uid": p.UID, "pid": p.PID}
}
