package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// hookRunner is the goroutine that runs the hook for one taint. The loop
// owns it: it starts it, takes its attempts, and stops it.
type hookRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// hookAttempt is the outcome of one run of the hook.
type hookAttempt struct {
	attempt int
	outcome string // success, failure, timeout
	detail  string // the error and the start of the output
	final   bool   // no more attempts follow
}

// The outcomes of a hook run, as driftd_hook_runs_total labels them.
const (
	hookSuccess = "success"
	hookFailure = "failure"
	hookTimeout = "timeout"
)

// startHook runs the hook for the current taint, resuming after the
// attempts a previous run of the daemon made.
func (d *Daemon) startHook() {
	if d.hook != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	h := &hookRunner{cancel: cancel, done: make(chan struct{})}
	d.hook = h
	cfg := d.cfg.Policy.Hook
	env := d.hookEnv()
	first := d.taint.Hook.Attempts + 1
	last := cfg.Retries + 1
	go func() {
		defer close(h.done)
		for attempt := first; attempt <= last; attempt++ {
			if attempt > 1 {
				wait := cfg.Backoff.Duration << min(attempt-2, 16)
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
			outcome, detail := runHook(ctx, cfg.Command, env, cfg.Timeout.Duration)
			if ctx.Err() != nil {
				return // stopped: a cleared taint or a shutdown, not the hook's fault
			}
			a := hookAttempt{attempt: attempt, outcome: outcome, detail: detail, final: outcome == hookSuccess || attempt == last}
			select {
			case d.hookDone <- a:
			case <-ctx.Done():
				return
			}
			if a.final {
				return
			}
		}
	}()
}

// stopHook stops the hook's goroutine and waits for it.
func (d *Daemon) stopHook() {
	if d.hook == nil {
		return
	}
	d.hook.cancel()
	<-d.hook.done
	d.hook = nil
}

// hookEnv is the hook's environment: driftd's own, and what the taint is
// about.
func (d *Daemon) hookEnv() []string {
	t := d.taint
	env := append(os.Environ(), "DRIFTD_REASON="+t.Reason, "DRIFTD_BASELINE_ID="+t.BaselineID)
	if tr := t.Trigger; tr != nil {
		env = append(env, "DRIFTD_PATH="+tr.Path, "DRIFTD_CATEGORY="+tr.Category, "DRIFTD_SEVERITY="+tr.Severity)
	} else {
		env = append(env, "DRIFTD_PATH=", "DRIFTD_CATEGORY=", "DRIFTD_SEVERITY=")
	}
	return env
}

// runHook runs argv once, without a shell, and kills its whole process
// group at the timeout.
func runHook(ctx context.Context, argv, env []string, timeout time.Duration) (outcome, detail string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second // a grandchild holding the output open cannot hold us
	err := cmd.Run()
	output := strings.TrimSpace(out.String())
	if len(output) > 512 {
		output = output[:512] + "..."
	}
	switch {
	case err == nil:
		return hookSuccess, output
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return hookTimeout, fmt.Sprintf("killed after %s; output: %s", timeout, output)
	}
	return hookFailure, fmt.Sprintf("%v; output: %s", err, output)
}

// hookAttempted takes an attempt's outcome into the latch, the log and the
// metrics.
func (d *Daemon) hookAttempted(a hookAttempt) {
	h := &d.taint.Hook
	h.Attempts, h.Outcome = a.attempt, a.outcome
	if a.final {
		h.Done = true
		<-d.hook.done // it returns right after a final attempt
		d.hook = nil
	}
	d.metrics.HookRuns.WithLabelValues(a.outcome).Inc()
	d.record("hook", fmt.Sprintf("attempt %d: %s", a.attempt, a.outcome))
	level := slog.LevelInfo
	if a.outcome != hookSuccess {
		level = slog.LevelError
	}
	d.events.LogAttrs(context.Background(), level, "hook", slog.Int("attempt", a.attempt), slog.String("outcome", a.outcome),
		slog.String("detail", a.detail), slog.Bool("final", a.final), slog.String("baseline_id", d.baselineID()))
	d.saveTaint()
}
