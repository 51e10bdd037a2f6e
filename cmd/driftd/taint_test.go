package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// writeHook writes a hook script: it appends a line to runs, and writes
// its environment's DRIFTD_ variables and its PID to files named by the
// run's number. body runs after that.
func writeHook(t *testing.T, dir, body string) (script, runs string) {
	t.Helper()
	script, runs = filepath.Join(dir, "hook.sh"), filepath.Join(dir, "hook-runs")
	src := fmt.Sprintf(`#!/bin/sh
echo "run $*" >> %[1]s
n=$(wc -l < %[1]s)
env | grep '^DRIFTD_' | sort > %[2]s/hook-env-$n
echo $$ > %[2]s/hook-pid-$n
%[3]s
`, runs, dir, body)
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, runs
}

func lines(path string) []string {
	data, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

func readTaint(t *testing.T, stateDir string) (reporter.Taint, result) {
	t.Helper()
	r := driftd(t, nil, "taint", "status", "--state-dir", stateDir, "--format", "json")
	var taint reporter.Taint
	if err := json.Unmarshal([]byte(r.stdout), &taint); err != nil {
		t.Fatalf("taint status: %v\n%v", err, r)
	}
	return taint, r
}

func metricLine(m, name string) string {
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}

// TestTaintLatch: drift below the threshold does not taint; drift at it
// does, once: the metric, /healthz, the marker, and the hook with its
// environment. A revert, a kill -9 and a restart keep the taint without
// running the hook again; `driftd taint clear --reason` clears it, and
// the event names the reason.
func TestTaintLatch(t *testing.T) {
	hookDir := t.TempDir()
	hook, runs := writeHook(t, hookDir, "exit 0")
	marker := filepath.Join(t.TempDir(), "run/replacement-required")
	f := newDaemonFixture(t, fmt.Sprintf(`
[policy]
min_severity = "high"
marker_file = %q
[policy.hook]
command = [%q, "--from-driftd"]
timeout = "10s"
retries = 2
backoff = "100ms"
`, marker, hook))
	state := t.TempDir()
	d := startDaemon(t, f, state)
	id := readStatus(t, d).BaselineID

	// Below the threshold: medium drift.
	os.WriteFile(filepath.Join(f.root, "usr/share/doc/README"), []byte("edited\n"), 0o644)
	d.eventually(5*time.Second, "medium drift is reported", func() bool { return d.hasFinding("/usr/share/doc/README", "modified") })
	if m := metricLine(d.metrics(), "driftd_replacement_required"); m != "driftd_replacement_required 0" {
		t.Errorf("after medium drift: %q, want 0", m)
	}
	if code, body := d.get("/healthz"); code != 200 {
		t.Errorf("after medium drift: /healthz %d %s", code, body)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("marker written for drift below the threshold")
	}
	if taint, r := readTaint(t, state); taint.Tainted || r.code != 0 {
		t.Errorf("taint status after medium drift: %+v, exit %d", taint, r.code)
	}

	// At the threshold: high drift taints.
	hostname := filepath.Join(f.root, "etc/hostname")
	orig, _ := os.Stat(hostname)
	before := time.Now()
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("evil\n"), 0o644)
	d.eventually(5*time.Second, "high drift taints", func() bool {
		return metricLine(d.metrics(), "driftd_replacement_required") == "driftd_replacement_required 1"
	})
	since := metricLine(d.metrics(), "driftd_replacement_required_timestamp_seconds")
	var sinceUnix float64
	fmt.Sscanf(strings.TrimPrefix(since, "driftd_replacement_required_timestamp_seconds "), "%g", &sinceUnix)
	if int64(sinceUnix) < before.Unix()-1 || int64(sinceUnix) > time.Now().Unix() {
		t.Errorf("%q: want the time of the taint", since)
	}
	code, body := d.get("/healthz")
	var h reporter.Health
	json.Unmarshal([]byte(body), &h)
	if code != 503 || !h.ReplacementRequired || !strings.Contains(h.Reason, "/etc/hostname") {
		t.Errorf("/healthz %d %s: want 503 naming /etc/hostname", code, body)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("no marker: %v", err)
	}
	// The hook's attempt is recorded once it has exited: its files are whole.
	d.eventually(10*time.Second, "the hook runs", func() bool { tn, _ := readTaint(t, state); return tn.Hook.Done })
	env, _ := os.ReadFile(filepath.Join(hookDir, "hook-env-1"))
	for _, want := range []string{"DRIFTD_BASELINE_ID=" + id, "DRIFTD_CATEGORY=config", "DRIFTD_PATH=/etc/hostname",
		"DRIFTD_REASON=high drift: modified /etc/hostname", "DRIFTD_SEVERITY=high"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("hook environment lacks %s:\n%s", want, env)
		}
	}
	if got := lines(runs); len(got) != 1 || got[0] != "run_--from-driftd" {
		t.Errorf("hook runs %q: want one, with its argument", got)
	}
	d.eventually(5*time.Second, "the hook's success is counted", func() bool {
		return strings.Contains(d.metrics(), `driftd_hook_runs_total{outcome="success"} 1`)
	})
	taint, r := readTaint(t, state)
	if !taint.Tainted || r.code != 1 || taint.Trigger == nil || taint.Trigger.Path != "/etc/hostname" || !taint.Hook.Done || taint.Hook.Attempts != 1 {
		t.Errorf("taint status: %+v, exit %d: want tainted by /etc/hostname, the hook done in one attempt, exit 1", taint, r.code)
	}
	text := driftd(t, nil, "taint", "status", "--state-dir", state)
	if first := strings.SplitN(text.stdout, "\n", 2)[0]; text.code != 1 || !strings.HasPrefix(first, "TAINTED: replacement required since ") || !strings.Contains(first, "/etc/hostname") {
		t.Errorf("taint status text: %v", text)
	}

	// A revert keeps the taint.
	os.WriteFile(hostname, []byte("web-1\n"), 0o644)
	os.Chtimes(hostname, orig.ModTime(), orig.ModTime())
	d.eventually(5*time.Second, "the revert is seen", func() bool { return !d.hasFinding("/etc/hostname", "modified") })
	if code, _ := d.get("/healthz"); code != 503 {
		t.Errorf("after the revert, /healthz %d: want 503", code)
	}

	// kill -9 and a restart keep it, and do not run the hook again.
	d.cmd.Process.Kill()
	<-d.exited
	os.Remove(marker) // a reboot clears /run: the restart writes it again
	d = startDaemon(t, f, state)
	if m := metricLine(d.metrics(), "driftd_replacement_required"); m != "driftd_replacement_required 1" {
		t.Errorf("after kill -9 and a restart: %q", m)
	}
	if m := metricLine(d.metrics(), "driftd_replacement_required_timestamp_seconds"); m != since {
		t.Errorf("after the restart %q, want %q: the time of the taint", m, since)
	}
	if code, _ := d.get("/healthz"); code != 503 {
		t.Errorf("after the restart, /healthz %d: want 503", code)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the restart did not write the marker again: %v", err)
	}
	// The hook starts, when it must, as the latch is loaded: before the
	// first check, which READY (startDaemon) waits for. A fast scan asked
	// for now and finished proves the loop has long been past that point.
	d.awaitScan("fast")
	if got := lines(runs); len(got) != 1 {
		t.Errorf("the hook ran again after the restart: %q", got)
	}

	// Only a clear, with a reason, clears it.
	if r := driftd(t, nil, "taint", "clear", "--state-dir", state); r.code != 2 || !strings.Contains(r.stderr, "--reason is required") {
		t.Errorf("clear without a reason: %v", r)
	}
	r = driftd(t, nil, "taint", "clear", "--state-dir", state, "--reason", "instance 42 investigated: test change")
	if r.code != 0 || !strings.Contains(r.stdout, "cleared the taint") {
		t.Fatalf("clear: %v", r)
	}
	if m := metricLine(d.metrics(), "driftd_replacement_required"); m != "driftd_replacement_required 0" {
		t.Errorf("after the clear: %q", m)
	}
	if code, body := d.get("/healthz"); code != 200 {
		t.Errorf("after the clear, /healthz %d %s", code, body)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the marker stays after the clear")
	}
	if ev := d.events(); !strings.Contains(ev, `"msg":"taint_cleared","reason":"instance 42 investigated: test change","was":"high drift: modified /etc/hostname"`) {
		t.Errorf("no taint_cleared event naming the reason:\n%s", ev)
	}
	if taint, r := readTaint(t, state); taint.Tainted || r.code != 0 || taint.Cleared == nil || taint.Cleared.Reason != "instance 42 investigated: test change" {
		t.Errorf("taint status after the clear: %+v, exit %d", taint, r.code)
	}
}

func readStatus(t *testing.T, d *daemon) reporter.StatusJSON {
	t.Helper()
	s, _ := d.status()
	return s
}

// TestTaintHookTimeoutAndFailure: a hook that hangs is killed, with its
// process group, at its timeout and retried; a hook that fails is retried
// and each failure counted; neither runs past its retries.
func TestTaintHookTimeoutAndFailure(t *testing.T) {
	for _, tt := range []struct {
		name, body, outcome string
		retries             int
	}{
		{"hangs", "sleep 60 & wait", "timeout", 1},
		{"fails", "exit 3", "failure", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hookDir := t.TempDir()
			hook, runs := writeHook(t, hookDir, tt.body)
			f := newDaemonFixture(t, fmt.Sprintf(`
[policy.hook]
command = [%q]
timeout = "500ms"
retries = %d
backoff = "100ms"
`, hook, tt.retries))
			state := t.TempDir()
			d := startDaemon(t, f, state)
			os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
			want := fmt.Sprintf(`driftd_hook_runs_total{outcome=%q} %d`, tt.outcome, tt.retries+1)
			d.eventually(15*time.Second, "every attempt is counted: "+want, func() bool { return strings.Contains(d.metrics(), want) })
			if n := len(lines(runs)); n != tt.retries+1 {
				t.Errorf("%d runs, want %d", n, tt.retries+1)
			}
			// The final attempt is saved as done; the hook's job ends
			// with it, so no run can follow.
			d.eventually(5*time.Second, "the hook is done", func() bool { tn, _ := readTaint(t, state); return tn.Hook.Done })
			if n := len(lines(runs)); n != tt.retries+1 {
				t.Errorf("%d runs after the last attempt, want %d", n, tt.retries+1)
			}
			taint, _ := readTaint(t, state)
			if !taint.Hook.Done || taint.Hook.Attempts != tt.retries+1 || taint.Hook.Outcome != tt.outcome {
				t.Errorf("hook state %+v", taint.Hook)
			}
			if tt.outcome == "timeout" {
				for i := 1; i <= tt.retries+1; i++ {
					pid, _ := os.ReadFile(filepath.Join(hookDir, fmt.Sprintf("hook-pid-%d", i)))
					var p int
					fmt.Sscan(string(pid), &p)
					if alive := liveInGroup(p); p == 0 || len(alive) > 0 {
						t.Errorf("attempt %d: process group %d still has live processes after the timeout: %v", i, p, alive)
					}
				}
			}
			if ev := d.events(); !strings.Contains(ev, `"msg":"hook","attempt":1,"outcome":"`+tt.outcome+`"`) {
				t.Errorf("no hook event for attempt 1:\n%s", ev)
			}
		})
	}
}

// TestFirstBootSeal: on a host with cloud-init, a first_boot path changed
// before the seal is not drift; the seal comes when cloud-init has
// finished; after it, a change is drift; a restart does not seal again,
// and neither does driftd seal. A check uses the seal too.
func TestFirstBootSeal(t *testing.T) {
	f := newDaemonFixture(t, `
[[rule]]
paths = ["/etc/hostname"]
first_boot = true

[first_boot]
cloud_init_timeout = "1h"
`)
	writeTree(t, f.root, map[string]string{"usr/bin/cloud-init": "#!/bin/sh\n"})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatal(r)
	}
	state := t.TempDir()
	d := startDaemon(t, f, state)
	if s := readStatus(t, d); s.Seal.Sealed || !strings.Contains(s.Seal.Reason, "waiting for cloud-init") {
		t.Fatalf("seal %+v: want waiting for cloud-init", s.Seal)
	}

	// Before the seal: cloud-init sets the hostname. Not drift.
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("i-0abc123\n"), 0o644)
	os.WriteFile(filepath.Join(f.root, "usr/share/doc/README"), []byte("after\n"), 0o644)
	d.eventually(5*time.Second, "the other change is seen", func() bool { return d.hasFinding("/usr/share/doc/README", "modified") })
	if d.hasFinding("/etc/hostname", "modified") {
		t.Error("a first-boot path changed before the seal is reported as drift")
	}

	writeTree(t, f.root, map[string]string{"var/lib/cloud/instance/boot-finished": "done\n"})
	d.eventually(5*time.Second, "the host seals once cloud-init has finished", func() bool { return readStatus(t, d).Seal.Sealed })
	sealed := readStatus(t, d).Seal
	if sealed.Paths != 1 || !strings.Contains(d.events(), `"msg":"sealed","why":"cloud-init finished","paths":1`) {
		t.Errorf("seal %+v; events:\n%s", sealed, d.events())
	}
	d.awaitScan("fast") // the first-boot paths compared with the seal
	if d.hasFinding("/etc/hostname", "modified") {
		t.Error("the first-boot change shows as drift after the seal: the seal did not record it")
	}

	// After the seal: a change is drift.
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("by-hand\n"), 0o644)
	d.eventually(5*time.Second, "a change after the seal is drift", func() bool { return d.hasFinding("/etc/hostname", "modified") })

	// A restart does not seal again, and neither does driftd seal.
	d.stop()
	d = startDaemon(t, f, state)
	if s := readStatus(t, d); !s.Seal.Sealed || !s.Seal.Time.Equal(sealed.Time) {
		t.Errorf("after the restart, seal %+v, want the first one %+v", s.Seal, sealed)
	}
	if !d.hasFinding("/etc/hostname", "modified") {
		t.Error("after the restart the change is gone: the host was sealed again")
	}
	if r := driftd(t, nil, "seal", "--config", f.config, "--root", f.root, "--state-dir", state); r.code != 2 || !strings.Contains(r.stderr, "sealed already") {
		t.Errorf("driftd seal on a sealed host: %v", r)
	}
	d.stop()

	// A check with the state dir compares with the seal: the change after
	// it is drift, the first-boot one before it is not.
	rep := checkJSON(t, f.check(t, "--state-dir", state, "--format", "json"))
	var paths []string
	for _, x := range rep["findings"].([]any) {
		paths = append(paths, x.(map[string]any)["path"].(string))
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/var/lib") }) // cloud-init's boot-finished
	if strings.Join(paths, " ") != "/etc/hostname /usr/share/doc/README" {
		t.Errorf("check with the seal: findings %q", paths)
	}
	// A check on a state dir with no seal, cloud-init finished, seals as
	// the daemon would: what changed before is the first boot's.
	r := f.check(t, "--state-dir", t.TempDir())
	if strings.Contains(r.stdout, "/etc/hostname") || !strings.Contains(r.stdout, "sealed the first-boot paths now (cloud-init finished)") {
		t.Errorf("check without a seal:\n%s", r.stdout)
	}
}

// TestSealWithoutDaemon: driftd seal with no daemon running seals the state
// dir itself, once.
func TestSealWithoutDaemon(t *testing.T) {
	f := newFixture(t)
	cfg := testConfig + "\n[[rule]]\npaths = [\"/etc/hostname\"]\nfirst_boot = true\n"
	os.WriteFile(f.config, []byte(cfg), 0o644)
	state := t.TempDir()
	r := driftd(t, nil, "seal", "--config", f.config, "--root", f.root, "--state-dir", state)
	if r.code != 0 || !strings.Contains(r.stdout, "sealed 1 first-boot paths") {
		t.Fatalf("seal: %v", r)
	}
	if r := driftd(t, nil, "seal", "--config", f.config, "--root", f.root, "--state-dir", state); r.code != 2 || !strings.Contains(r.stderr, "sealed already") {
		t.Errorf("second seal: %v", r)
	}
}

// liveInGroup lists the processes of process group pgid that are not
// zombies (a killed process that nobody reaped yet is dead all the same).
func liveInGroup(pgid int) []string {
	var alive []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
		rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
		f := strings.Fields(rest)
		if len(f) > 2 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
			alive = append(alive, st)
		}
	}
	return alive
}
