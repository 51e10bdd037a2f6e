package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"driftd/reporter"
)

// Attempt is the outcome of one run of the hook.
type Attempt struct {
	N       int
	Outcome string // HookSuccess, HookFailure or HookTimeout
	Detail  string // the error and the start of the output
	Final   bool   // no more attempts follow
}

// The outcomes of a hook run, as driftd_hook_runs_total labels them.
const (
	HookSuccess = "success"
	HookFailure = "failure"
	HookTimeout = "timeout"
)

// RunHook runs the hook for the latch's taint until one attempt succeeds
// or the retries are spent, resuming after the attempts already recorded,
// with a doubling backoff between attempts. attempted is called after
// each; RunHook returns when it returns false, when ctx is done, or after
// the final attempt.
func (l *Latch) RunHook(ctx context.Context, attempted func(Attempt) bool) {
	RunHook(ctx, l.policy.Hook, HookEnv(l.Taint), l.Taint.Hook.Attempts, attempted)
}

// RunHook runs the hook cfg with env until one attempt succeeds or the
// retries are spent, resuming after the done attempts already made, with
// a doubling backoff between attempts. attempted is called after each;
// RunHook returns when it returns false, when ctx is done, or after the
// final attempt.
func RunHook(ctx context.Context, cfg HookConfig, env []string, done int, attempted func(Attempt) bool) {
	last := cfg.Retries + 1
	for n := done + 1; n <= last; n++ {
		if n > 1 {
			select {
			case <-time.After(cfg.Backoff.Duration << min(n-2, 16)):
			case <-ctx.Done():
				return
			}
		}
		outcome, detail := runOnce(ctx, cfg.Command, env, cfg.Timeout.Duration)
		if ctx.Err() != nil {
			return // stopped: a cleared taint or a shutdown, not the hook's fault
		}
		a := Attempt{N: n, Outcome: outcome, Detail: detail, Final: outcome == HookSuccess || n == last}
		if !attempted(a) || a.Final {
			return
		}
	}
}

// HookEnv is the hook's environment: driftd's own, and what the taint is
// about.
func HookEnv(t *reporter.Taint) []string {
	env := append(os.Environ(), "DRIFTD_REASON="+t.Reason, "DRIFTD_BASELINE_ID="+t.BaselineID)
	if tr := t.Trigger; tr != nil {
		return append(env, "DRIFTD_PATH="+tr.Path, "DRIFTD_CATEGORY="+tr.Category, "DRIFTD_SEVERITY="+tr.Severity)
	}
	return append(env, "DRIFTD_PATH=", "DRIFTD_CATEGORY=", "DRIFTD_SEVERITY=")
}

// runOnce runs argv once, without a shell, and kills its whole process
// group at the timeout.
func runOnce(ctx context.Context, argv, env []string, timeout time.Duration) (outcome, detail string) {
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
		return HookSuccess, output
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return HookTimeout, fmt.Sprintf("killed after %s; output: %s", timeout, output)
	}
	return HookFailure, fmt.Sprintf("%v; output: %s", err, output)
}
