package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"driftd/baseline"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func hookLatch(t *testing.T, argv ...string) *Latch {
	t.Helper()
	p, dir := testPolicy(t)
	p.Hook = HookConfig{Command: argv, Timeout: baseline.Duration{Duration: 2 * time.Second}, Retries: 2, Backoff: baseline.Duration{Duration: time.Millisecond}}
	l, _ := Open(dir, p)
	l.Trip(&Trip{Reason: "why"}, "abc")
	return l
}

func TestHookSucceedsOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	l := hookLatch(t, script(t, `echo "$DRIFTD_REASON $DRIFTD_BASELINE_ID" >> `+out+"\n"))
	var got []Attempt
	l.RunHook(context.Background(), func(a Attempt) bool { got = append(got, a); l.HookAttempted(a); return true })
	if len(got) != 1 || got[0].Outcome != HookSuccess || !got[0].Final || !l.Taint.Hook.Done || l.HookDue() {
		t.Fatalf("attempts %+v, state %+v", got, l.Taint.Hook)
	}
	if env, _ := os.ReadFile(out); string(env) != "why abc\n" {
		t.Errorf("the hook saw %q", env)
	}
}

func TestHookRetriesThenGivesUp(t *testing.T) {
	l := hookLatch(t, script(t, "echo no; exit 3\n"))
	var got []Attempt
	l.RunHook(context.Background(), func(a Attempt) bool { got = append(got, a); l.HookAttempted(a); return true })
	if len(got) != 3 || got[2].Outcome != HookFailure || !got[2].Final || got[1].Final || !strings.Contains(got[0].Detail, "no") {
		t.Fatalf("attempts %+v", got)
	}
	if !l.Taint.Hook.Done || l.Taint.Hook.Attempts != 3 {
		t.Errorf("state %+v", l.Taint.Hook)
	}
}

func TestHookResumesAfterRecordedAttempts(t *testing.T) {
	l := hookLatch(t, script(t, "exit 1\n"))
	l.Taint.Hook.Attempts = 2 // a previous run made two
	var got []Attempt
	l.RunHook(context.Background(), func(a Attempt) bool { got = append(got, a); return true })
	if len(got) != 1 || got[0].N != 3 || !got[0].Final {
		t.Errorf("resumed attempts %+v, want attempt 3 alone", got)
	}
}

func TestHookTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	l := hookLatch(t, script(t, "sleep 30 & echo $! > "+pidFile+"\nwait\n"))
	l.policy.Hook.Timeout = baseline.Duration{Duration: 300 * time.Millisecond}
	l.policy.Hook.Retries = 0
	start := time.Now()
	var got []Attempt
	l.RunHook(context.Background(), func(a Attempt) bool { got = append(got, a); return true })
	if len(got) != 1 || got[0].Outcome != HookTimeout || time.Since(start) > 5*time.Second {
		t.Fatalf("attempts %+v after %v", got, time.Since(start))
	}
	pid, _ := os.ReadFile(pidFile)
	// SIGKILL is delivered asynchronously: the child must be dead (gone,
	// or a zombie awaiting its reaper) within moments, not in 30 s.
	deadline := time.Now().Add(2 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %s outlived the timeout: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
