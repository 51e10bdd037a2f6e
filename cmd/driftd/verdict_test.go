package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"driftd/reporter"
)

// firstBootFixture is an image root with users, their keys and a hostname,
// baked with the embedded default config: the rules a new user runs.
func firstBootFixture(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, root: filepath.Join(dir, "root"), key: filepath.Join(dir, "k.key"), pub: filepath.Join(dir, "k.pub")}
	f.manifest = filepath.Join(dir, "baseline.manifest")
	writeTree(t, f.root, map[string]string{
		"etc/passwd":                      "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"etc/hostname":                    "image\n",
		"etc/ssh/sshd_config":             "PermitRootLogin no\n",
		"root/.ssh/authorized_keys":       "ssh-ed25519 AAAAbaked root@image\n",
		"home/alice/.ssh/authorized_keys": "ssh-ed25519 AAAAbaked alice@image\n",
		"usr/bin/tool":                    "#!/bin/sh\n",
	})
	writeTree(t, f.root, extra)
	if r := driftd(t, nil, "keygen", "--out", filepath.Join(dir, "k")); r.code != 0 {
		t.Fatalf("keygen: %v", r)
	}
	if r := driftd(t, nil, "bake", "--root", f.root, "--key", f.key, "--out", f.manifest, "--label", "image=web", "--label", "version=1"); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	return f
}

// intrude makes the held-out changes: a new key for a user and for root,
// and a removed hostname.
func intrude(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"root/.ssh/authorized_keys", "home/alice/.ssh/authorized_keys"} {
		fh, err := os.OpenFile(filepath.Join(root, p), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteString("ssh-ed25519 AAAAintruder evil@example\n")
		fh.Close()
	}
	if err := os.Remove(filepath.Join(root, "etc/hostname")); err != nil {
		t.Fatal(err)
	}
}

func findingsOf(t *testing.T, r result) map[string]reporter.FindingJSON {
	t.Helper()
	var j reporter.CheckJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("check output is not JSON: %v\n%v", err, r)
	}
	out := map[string]reporter.FindingJSON{}
	for _, f := range j.Findings {
		out[f.Path] = f
	}
	return out
}

// An image root checked from outside (no state dir) has no first boot:
// every change to a first-boot path is drift.
func TestCheckImageRootHasNoFirstBoot(t *testing.T) {
	f := firstBootFixture(t, nil)
	intrude(t, f.root)
	r := driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--format", "json")
	if r.code != exitDrift {
		t.Fatalf("check --root of an intruded image: want exit 1\n%v", r)
	}
	got := findingsOf(t, r)
	for path, want := range map[string]string{
		"/root/.ssh/authorized_keys":       "modified ssh critical",
		"/home/alice/.ssh/authorized_keys": "modified ssh critical",
		"/etc/hostname":                    "removed",
	} {
		g, ok := got[path]
		if !ok {
			t.Errorf("%s not reported\n%v", path, r)
			continue
		}
		if have := g.Kind + " " + g.Category + " " + g.Severity; !strings.HasPrefix(have, want) {
			t.Errorf("%s: %s, want %s", path, have, want)
		}
	}
	text := driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub)
	if strings.Contains(text.stdout, "clean") || strings.Contains(text.stdout, "match the baseline") {
		t.Errorf("the text calls an intruded image clean:\n%v", text)
	}
}

// A live host (a state dir) whose first-boot window is still open (cloud-init
// installed, not finished) is never called clean when first-boot paths
// changed: it is "unsealed", exit 2, and each path is listed.
func TestCheckUnsealedIsNeverClean(t *testing.T) {
	f := firstBootFixture(t, map[string]string{"usr/bin/cloud-init": "#!/bin/sh\n", "var/lib/cloud/.keep": ""})
	intrude(t, f.root)
	state := t.TempDir()
	r := driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", state, "--format", "json")
	if r.code != exitUnverified {
		t.Fatalf("unsealed host with changed first-boot paths: want exit 2\n%v", r)
	}
	var j map[string]any
	json.Unmarshal([]byte(r.stdout), &j)
	if j["status"] != "unsealed" {
		t.Errorf("status %v, want unsealed\n%v", j["status"], r)
	}
	for _, p := range []string{"/root/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys", "/etc/hostname"} {
		if !strings.Contains(r.stdout, p) {
			t.Errorf("%s not listed for the unsealed host\n%v", p, r)
		}
	}
	text := driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", state)
	if regexp.MustCompile(`clean|paths match`).MatchString(text.stdout) {
		t.Errorf("the text of an unsealed, changed host says clean:\n%v", text)
	}
	if _, err := os.Stat(filepath.Join(state, "seal.manifest")); err == nil {
		t.Errorf("sealed while cloud-init has not finished")
	}

	// cloud-init finishes: the next check seals, and a change after the
	// seal is drift.
	writeTree(t, f.root, map[string]string{"var/lib/cloud/instance/boot-finished": "done\n"})
	r = driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", state)
	if r.code != exitOK {
		t.Fatalf("the check that seals: want exit 0 (what changed before the seal is the first boot's)\n%v", r)
	}
	if !strings.Contains(r.stdout, "sealed") {
		t.Errorf("the check that sealed does not say so:\n%v", r)
	}
	writeTree(t, f.root, map[string]string{"root/.ssh/authorized_keys": "ssh-ed25519 AAAAlater later@example\n"})
	r = driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", state, "--format", "json")
	if g := findingsOf(t, r)["/root/.ssh/authorized_keys"]; r.code != exitDrift || g.Category != "ssh" {
		t.Errorf("a key added after the seal: want exit 1, ssh\n%v", r)
	}
}

// A host that runs only the hourly check: the check seals, latches the
// taint on critical drift, writes the marker, runs the hook once across
// runs, and writes the daemon's metric set for node_exporter.
func TestCheckOnlyHost(t *testing.T) {
	f := firstBootFixture(t, nil)
	state := t.TempDir()
	marker := filepath.Join(state, "marker", "replacement-required")
	runs := filepath.Join(t.TempDir(), "hook-runs")
	hook := filepath.Join(t.TempDir(), "hook.sh")
	writeTree(t, filepath.Dir(hook), map[string]string{filepath.Base(hook): "#!/bin/sh\necho \"$DRIFTD_PATH\" >> " + runs + "\n"})
	os.Chmod(hook, 0o755)
	// The default config, with a marker file and a hook of the test's.
	def, err := os.ReadFile("../../agent/config/driftd.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(def), `marker_file = "/run/driftd/replacement-required"`, `marker_file = "`+marker+`"`, 1)
	cfg = strings.Replace(cfg, "command = []", `command = ["`+hook+`"]`, 1)
	config := filepath.Join(f.dir, "driftd.toml")
	writeTree(t, f.dir, map[string]string{"driftd.toml": cfg})
	textfile := filepath.Join(t.TempDir(), "driftd.prom")
	check := func() result {
		return driftd(t, nil, "check", "--config", config, "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub,
			"--state-dir", state, "--textfile", textfile)
	}
	if r := check(); r.code != exitOK || !strings.Contains(r.stdout, "sealed") {
		t.Fatalf("first check: want it to seal, clean\n%v", r)
	}
	prom, _ := os.ReadFile(textfile)
	for _, want := range []string{
		`driftd_replacement_required 0`,
		`driftd_baseline_info{baseline_id="`,
		`image="web"`,
		`driftd_last_scan_timestamp_seconds{mode="check"}`,
		`driftd_drift_paths{category="ssh",severity="critical"} 0`,
	} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("clean textfile lacks %s:\n%s", want, prom)
		}
	}

	intrude(t, f.root)
	for i := range 2 {
		r := check()
		if r.code != exitDrift {
			t.Fatalf("check %d after the intrusion: want exit 1\n%v", i+1, r)
		}
	}
	if got, _ := os.ReadFile(runs); strings.Count(string(got), "\n") != 1 {
		t.Errorf("hook runs across two checks: %q, want one", got)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("marker: %v", err)
	}
	taint := driftd(t, nil, "taint", "status", "--state-dir", state)
	if taint.code != exitDrift {
		t.Errorf("taint status after critical drift in a check: want tainted (exit 1)\n%v", taint)
	}
	prom, _ = os.ReadFile(textfile)
	if !strings.Contains(string(prom), "driftd_replacement_required 1") {
		t.Errorf("tainted textfile:\n%s", prom)
	}
	checkPromtool(t, string(prom))

	// Reverting does not clear the latch.
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("image\n"), 0o644)
	check()
	if taint := driftd(t, nil, "taint", "status", "--state-dir", state); taint.code != exitDrift {
		t.Errorf("the latch did not hold:\n%v", taint)
	}
	// A clear with no daemon still shows: the next check counts it.
	if r := driftd(t, nil, "taint", "clear", "--state-dir", state, "--config", config, "--reason", "test"); r.code != 0 {
		t.Fatal(r)
	}
	check()
	if prom, _ = os.ReadFile(textfile); !strings.Contains(string(prom), "driftd_taint_clears_total 1") {
		t.Errorf("the textfile after a clear:\n%s", prom)
	}
}

// The daemon and every client command find the local socket the same way:
// daemon.socket of the config.
func TestSocketFromConfig(t *testing.T) {
	state := t.TempDir()
	socket := filepath.Join(t.TempDir(), "api.sock")
	f := newDaemonFixture(t, "\n[daemon]\nstate_dir = \""+state+"\"\nsocket = \""+socket+"\"\n")
	cmd := []string{"run", "--config", f.config, "--root", f.root, "--pubkey", f.pub, "--web.listen-address", "127.0.0.1:0"}
	d := startDaemonArgs(t, state, cmd)
	d.eventually(10*time.Second, "status over the configured socket", func() bool {
		r := driftd(t, nil, "status", "--config", f.config)
		return r.code == exitOK
	})
	if _, err := os.Stat(socket); err != nil {
		t.Errorf("the configured socket: %v", err)
	}
	if r := driftd(t, nil, "seal", "--config", f.config, "--root", f.root); strings.Contains(r.stderr, "nothing listens") {
		t.Errorf("seal looked elsewhere:\n%v", r)
	}
}

// driftPaths returns the driftd_drift_paths series of a scrape.
func driftPaths(scrape string) []string {
	var out []string
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, "driftd_drift_paths{") {
			out = append(out, l)
		}
	}
	return out
}

// Every category and severity the rules can produce is exported from the
// start, 0 when clean; after a restart the restored findings are exported
// with their category from the first scrape, before the first scan ends,
// and nothing is announced again.
func TestDaemonMetricsHoldThroughRestart(t *testing.T) {
	// A big file and a slow full scan keep the first scan running a while.
	f := newDaemonFixture(t, "full_scan_bytes_per_second = 1000000\n")
	writeTree(t, f.root, map[string]string{"usr/share/big": strings.Repeat("x", 3<<20)})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatal(r)
	}
	state := t.TempDir()
	d := startDaemon(t, f, state)
	got := strings.Join(driftPaths(d.metrics()), "\n")
	for _, want := range []string{
		`driftd_drift_paths{category="system",severity="medium"} 0`,
		`driftd_drift_paths{category="config",severity="high"} 0`,
		`driftd_drift_paths{category="ssh",severity="critical"} 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("clean start lacks %s; have:\n%s", want, got)
		}
	}
	os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	d.eventually(5*time.Second, "ssh drift", func() bool { return d.hasFinding("/etc/ssh/sshd_config", "modified") })
	d.stop()

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(driftdBin, "run", "--config", f.config, "--root", f.root, "--pubkey", f.pub,
		"--state-dir", state, "--web.listen-address", addr)
	var events strings.Builder
	cmd.Stdout = &events
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var first string
	waitFor(t, 10*time.Second, "the restarted daemon serves /metrics", func() bool {
		var ok bool
		first, ok = scrape(addr)
		return ok
	})
	series := strings.Join(driftPaths(first), "\n")
	if !strings.Contains(series, `driftd_drift_paths{category="ssh",severity="critical"} 1`) || strings.Contains(series, `category=""`) {
		t.Errorf("first scrape after the restart:\n%s", series)
	}
	if strings.Contains(first, `driftd_last_scan_timestamp_seconds{mode="full"}`) {
		t.Errorf("the first scan had already ended: this test saw nothing of the restart's start")
	}
	waitFor(t, 20*time.Second, "the first scan after the restart", func() bool {
		m, _ := scrape(addr)
		return strings.Contains(m, `driftd_last_scan_timestamp_seconds{mode="full"}`)
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if strings.Contains(events.String(), `"msg":"drift"`) {
		t.Errorf("the restart announced drift again:\n%s", events.String())
	}
}

// scrape returns what /metrics at addr answers, and whether it answered.
func scrape(addr string) (string, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err == nil
}

// A second daemon on the same state dir exits 2 naming the first one's
// pid, and leaves it serving: its socket stays.
func TestOneDaemonPerStateDir(t *testing.T) {
	f := newDaemonFixture(t, "")
	state := t.TempDir()
	d := startDaemon(t, f, state)
	// Bounded: a second daemon that did start would run until killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := driftdCmd(t, exec.CommandContext(ctx, driftdBin, "run", "--config", f.config, "--root", f.root, "--pubkey", f.pub,
		"--state-dir", state, "--web.listen-address", "127.0.0.1:0"), nil)
	pid := fmt.Sprint(d.cmd.Process.Pid)
	if r.code != exitUnverified || !strings.Contains(r.stderr, "pid "+pid) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a second daemon: want exit 2 and one line naming pid %s\n%v", pid, r)
	}
	if s, res := d.status(); res.code != exitOK || s.Status != reporter.StatusClean {
		t.Errorf("the first daemon after the second one tried: %v", res)
	}
}

// A bake that could not read a path fails, naming it, unless told to
// accept it; then every check says it was accepted, and is not held back
// by it.
func TestBakeUnreadable(t *testing.T) {
	f := newFixture(t)
	// A file the bake cannot read in full: a directory it may not list.
	secret := filepath.Join(f.root, "usr/share/secret")
	writeTree(t, f.root, map[string]string{"usr/share/secret/key": "k\n"})
	// Run the bake as nobody, so that a mode of 0 means "unreadable".
	os.Chmod(secret, 0)
	for p := f.root; p != "/"; p = filepath.Dir(p) {
		fi, _ := os.Stat(p)
		os.Chmod(p, fi.Mode().Perm()|0o005)
	}
	os.Chmod(f.key, 0o644)
	os.Chmod(f.config, 0o644)
	out := filepath.Join(t.TempDir(), "b.manifest")
	os.Chmod(filepath.Dir(out), 0o777)
	bake := func(extra ...string) result {
		cmd := exec.Command(driftdBin, append([]string{"bake", "--config", f.config, "--root", f.root, "--key", f.key, "--out", out}, extra...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return driftdCmd(t, cmd, nil)
	}
	r := bake()
	if r.code != exitUnverified || !strings.Contains(r.stderr, "/usr/share/secret") || !strings.Contains(r.stderr, "--allow-unreadable") {
		t.Fatalf("bake of an unreadable path: want exit 2 naming it\n%v", r)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the failed bake wrote a manifest")
	}
	if r = bake("--allow-unreadable"); r.code != exitOK || !strings.Contains(r.stderr, "accepted") {
		t.Fatalf("bake --allow-unreadable: want exit 0 and a warning\n%v", r)
	}
	c := driftd(t, nil, "check", "--config", f.config, "--root", f.root, "--baseline", out, "--pubkey", f.pub, "--format", "json")
	var j reporter.CheckJSON
	json.Unmarshal([]byte(c.stdout), &j)
	if len(j.Accepted) != 1 || j.Accepted[0].Path != "/usr/share/secret" {
		t.Errorf("check: accepted %+v, want /usr/share/secret\n%v", j.Accepted, c)
	}
	for _, u := range j.Unverified {
		if u.Path == "/usr/share/secret" {
			t.Errorf("an accepted path is reported unverified: %+v", u)
		}
	}
}

// Once sealed, a host's first-boot window is closed for good: a seal
// deleted, or replaced by one driftd did not write, is a critical driftd
// finding, never "unsealed", and the first-boot paths lose their
// exemption.
func TestSealMissingOrForged(t *testing.T) {
	f := firstBootFixture(t, nil)
	state := t.TempDir()
	check := func() (result, map[string]reporter.FindingJSON) {
		r := driftd(t, nil, "check", "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", state, "--format", "json")
		return r, findingsOf(t, r)
	}
	if r, _ := check(); r.code != exitOK || !strings.Contains(r.stdout, `"sealed_now"`) {
		t.Fatalf("the first check seals: %v", r)
	}
	writeTree(t, f.root, map[string]string{"root/.ssh/authorized_keys": "ssh-ed25519 AAAAnew first@boot\n"})
	seal := filepath.Join(state, "seal.manifest")
	for _, tamper := range []struct {
		name string
		do   func()
	}{
		{"deleted", func() {
			os.Remove(seal)
			if r := driftd(t, nil, "seal", "--root", f.root, "--baseline", f.manifest, "--state-dir", state); r.code == 0 {
				t.Errorf("driftd seal made a new seal where one was deleted: %v", r)
			}
		}},
		{"forged", func() {
			forged := t.TempDir()
			if r := driftd(t, nil, "seal", "--root", f.root, "--baseline", f.manifest, "--state-dir", forged); r.code != 0 {
				t.Fatal(r)
			}
			copyFile(t, filepath.Join(forged, "seal.manifest"), seal)
		}},
	} {
		tamper.do()
		r, got := check()
		if r.code != exitDrift || strings.Contains(r.stdout, `"unsealed"`) {
			t.Errorf("seal %s: want drift, never unsealed\n%v", tamper.name, r)
		}
		if g := got[seal]; g.Category != "driftd" || g.Severity != "critical" {
			t.Errorf("seal %s: finding on the seal %+v", tamper.name, g)
		}
		if g := got["/root/.ssh/authorized_keys"]; g.Category != "ssh" {
			t.Errorf("seal %s: the first-boot change kept its exemption: %+v", tamper.name, g)
		}
	}
}

// The common mistakes are one line each that says what to do, exit 2.
func TestCommonMistakes(t *testing.T) {
	f := newDaemonFixture(t, "")
	state := t.TempDir()
	startDaemon(t, f, state)
	os.Chmod(state, 0o755) // the socket inside stays root-only (0600)
	nobody := func(args ...string) result {
		cmd := exec.Command(driftdBin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return driftdCmd(t, cmd, nil)
	}
	readOnly := t.TempDir()
	os.Chmod(readOnly, 0o555)
	// The fixture readable by nobody: its directories and files.
	for _, p := range []string{f.config, f.pub, f.manifest, readOnly} {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil {
				os.Chmod(d, fi.Mode().Perm()|0o005)
			}
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			os.Chmod(p, fi.Mode().Perm()|0o004)
		}
	}
	tests := []struct {
		name string
		run  func() result
		want string
	}{
		{"status as a user", func() result { return nobody("status", "--state-dir", state) },
			"driftd status needs root: the local API is root-only"},
		{"textfile directory missing", func() result {
			return driftd(t, nil, "check", "--config", f.config, "--root", f.root, "--pubkey", f.pub, "--textfile", "/nonexistent/dir/driftd.prom")
		}, "driftd check: --textfile /nonexistent/dir/driftd.prom: directory /nonexistent/dir does not exist"},
		{"state dir not writable", func() result {
			return nobody("check", "--config", f.config, "--root", f.root, "--baseline", f.manifest, "--pubkey", f.pub, "--state-dir", filepath.Join(readOnly, "state"))
		}, "is not writable (permission denied): run as root, or give a --state-dir you may write"},
		{"config missing", func() result { return driftd(t, nil, "check", "--config", "/etc/driftd/nope.toml") },
			"driftd check: config /etc/driftd/nope.toml does not exist (the packages install /etc/driftd/driftd.toml; driftd config default prints one)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.run()
			if r.code != exitUnverified || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want exit 2 and one line with %q\n%v", tt.want, r)
			}
		})
	}
}

// Every command's help: exit 0, its description, an example where it has
// one, and its exit codes; the same through `driftd help CMD`.
func TestHelpForEveryCommand(t *testing.T) {
	for path, h := range docs {
		words := strings.Fields(path)
		for _, args := range [][]string{append(slices.Clone(words), "--help"), append([]string{"help"}, words...)} {
			r := driftd(t, nil, args...)
			if r.code != exitOK {
				t.Errorf("driftd %s: exit %d, want 0\n%v", strings.Join(args, " "), r.code, r)
				continue
			}
			want := h.short // cobra shows the long description where there is one
			if h.long != "" {
				want = strings.SplitN(h.long, "\n", 2)[0]
			}
			if !strings.Contains(r.stdout, want) {
				t.Errorf("driftd %s: no description\n%s", strings.Join(args, " "), r.stdout)
			}
			if h.example != "" && !strings.Contains(r.stdout, "Examples:\n"+h.example) {
				t.Errorf("driftd %s: no example\n%s", strings.Join(args, " "), r.stdout)
			}
			if strings.Contains(h.long, "Exit codes") && !strings.Contains(r.stdout, "Exit codes") {
				t.Errorf("driftd %s: no exit codes\n%s", strings.Join(args, " "), r.stdout)
			}
		}
	}
	if r := driftd(t, nil, "--version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "driftd ") {
		t.Errorf("driftd --version: %v", r)
	}
	// Flags anywhere after the command word, subcommands included.
	state := t.TempDir()
	if r := driftd(t, nil, "taint", "--state-dir", state, "status"); r.code != exitOK || !strings.Contains(r.stdout, "not tainted") {
		t.Errorf("driftd taint --state-dir D status: %v", r)
	}
	if r := driftd(t, nil, "check", "--nope"); r.code != exitUnverified || !strings.Contains(r.stderr, "unknown flag: --nope (see driftd check --help)") {
		t.Errorf("an unknown flag: %v", r)
	}
}
