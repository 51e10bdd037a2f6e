package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"driftd/reporter"
)

// daemonConfig is testConfig with the daemon's sections: scans far apart
// unless a test says otherwise, so that what is found is found by the
// watch; containers not watched unless a test says so, so that those
// running on the machine stay out of the host's tests.
func daemonConfig(extra string) string {
	if !strings.Contains(extra, "[containers]") {
		extra += "\n[containers]\nenabled = false\n"
	}
	return testConfig + `
[schedule]
fast_interval = "1h"
full_interval = "24h"
jitter = 0.0
` + extra
}

// daemon is a running driftd run.
type daemon struct {
	t        testing.TB
	cmd      *exec.Cmd
	addr     string // host:port of /metrics
	stateDir string
	mu       sync.Mutex
	stdout   bytes.Buffer // JSON events
	stderr   bytes.Buffer // JSON logs
	exited   chan struct{}
}

// startDaemon runs driftd on the fixture's root and waits until it serves.
func startDaemon(t testing.TB, f *fixture, stateDir string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"run", "--config", f.config, "--root", f.root, "--pubkey", f.pub,
		"--state-dir", stateDir, "--web.listen-address", "127.0.0.1:0"}, extra...)
	return startDaemonArgs(t, stateDir, args)
}

// startDaemonArgs runs driftd with args and waits until it serves.
func startDaemonArgs(t testing.TB, stateDir string, args []string) *daemon {
	t.Helper()
	d := &daemon{t: t, cmd: exec.Command(driftdBin, args...), stateDir: stateDir, exited: make(chan struct{})}
	stdout, _ := d.cmd.StdoutPipe()
	stderr, _ := d.cmd.StderrPipe()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Go(func() { d.copy(&d.stdout, stdout, nil) })
	pipes.Go(func() { d.copy(&d.stderr, stderr, addr) })
	go func() {
		pipes.Wait()
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
		if strings.Contains(d.logs(), "DATA RACE") {
			t.Errorf("the race detector found a race in driftd run:\n%s", d.logs())
		}
	})
	select {
	case d.addr = <-addr:
	case <-d.exited:
		t.Fatalf("driftd run exited at start:\n%s", d.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("driftd run did not start:\n%s", d.logs())
	}
	return d
}

var runningLine = regexp.MustCompile(`"msg":"driftd running".*"metrics":"([^"]+)"`)

// copy keeps what the daemon writes, and sends the metrics address from
// the start-up line.
func (d *daemon) copy(buf *bytes.Buffer, r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		d.mu.Lock()
		buf.Write(sc.Bytes())
		buf.WriteByte('\n')
		d.mu.Unlock()
		if m := runningLine.FindSubmatch(sc.Bytes()); m != nil && addr != nil {
			addr <- string(m[1])
			addr = nil
		}
	}
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return "stderr:\n" + d.stderr.String() + "stdout:\n" + d.stdout.String()
}

func (d *daemon) events() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stdout.String()
}

func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (d *daemon) metrics() string {
	_, body := d.get("/metrics")
	return body
}

func (d *daemon) status() (reporter.StatusJSON, result) {
	d.t.Helper()
	r := driftd(d.t, nil, "status", "--state-dir", d.stateDir, "--format", "json")
	var s reporter.StatusJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		d.t.Fatalf("status: %v\n%v", err, r)
	}
	return s, r
}

// eventually polls cond until it holds or the time is up.
func (d *daemon) eventually(within time.Duration, what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("after %v: %s\n%s", within, what, d.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitScan asks the daemon for a scan of the mode and waits until one
// has finished after the request: a real signal that what the daemon had
// seen by then has been compared, for asserting that something is absent.
func (d *daemon) awaitScan(mode string) {
	d.t.Helper()
	before, _ := d.status()
	sig := syscall.SIGUSR1
	if mode == "full" {
		sig = syscall.SIGUSR2
	}
	d.cmd.Process.Signal(sig)
	d.eventually(30*time.Second, "a "+mode+" scan after the request", func() bool {
		s, _ := d.status()
		return s.Scans[mode].Finished.After(before.Scans[mode].Finished)
	})
}

func (d *daemon) hasFinding(path, kind string) bool {
	s, _ := d.status()
	for _, f := range s.Findings {
		if f.Path == path && f.Kind == kind {
			return true
		}
	}
	return false
}

// stop sends SIGTERM and returns how long the daemon took to exit, and how.
func (d *daemon) stop() (time.Duration, int) {
	d.t.Helper()
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.t.Fatalf("no exit 10s after SIGTERM\n%s", d.logs())
	}
	return time.Since(start), d.cmd.ProcessState.ExitCode()
}

func newDaemonFixture(t testing.TB, extra string) *fixture {
	t.Helper()
	f := newFixture(t)
	if err := os.WriteFile(f.config, []byte(daemonConfig(extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// (a) a change to a watched file shows in /metrics and in driftd status;
// (g) SIGTERM ends the daemon, exit 0, within 5 s.
func TestDaemonRealtimeAndStop(t *testing.T) {
	f := newDaemonFixture(t, "")
	d := startDaemon(t, f, t.TempDir())
	if s, r := d.status(); s.Status != reporter.StatusClean || r.code != 0 {
		t.Fatalf("untouched root: status %s, exit %d\n%s", s.Status, r.code, d.logs())
	}
	if code, body := d.get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}

	os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	d.eventually(3*time.Second, "the change in driftd status", func() bool { return d.hasFinding("/etc/ssh/sshd_config", "modified") })
	if m := d.metrics(); !strings.Contains(m, `driftd_drift_paths{category="ssh",severity="critical"} 1`) {
		t.Errorf("metrics lack the drift:\n%s", grepMetrics(m, "driftd_drift"))
	}
	if _, r := d.status(); r.code != 1 {
		t.Errorf("status exit %d with drift, want 1", r.code)
	}
	if ev := d.events(); !strings.Contains(ev, `"msg":"drift","path":"/etc/ssh/sshd_config","kind":"modified"`) {
		t.Errorf("no drift event:\n%s", ev)
	}
	checkPromtool(t, d.metrics())

	took, code := d.stop()
	if code != 0 || took > 5*time.Second {
		t.Errorf("SIGTERM: exit %d after %v, want 0 within 5s", code, took)
	}
	if _, err := os.Stat(filepath.Join(d.stateDir, "driftd.sock")); err == nil {
		t.Error("the socket is left behind")
	}
}

// (b) a directory created after start is watched: a file changed in it is
// found in real time (the scans are an hour away).
func TestDaemonWatchesNewDirectories(t *testing.T) {
	f := newDaemonFixture(t, "")
	d := startDaemon(t, f, t.TempDir())
	dir := filepath.Join(f.root, "usr/share/newdir/deeper")
	os.MkdirAll(dir, 0o755)
	d.eventually(3*time.Second, "the new directories", func() bool { return d.hasFinding("/usr/share/newdir/deeper", "added") })
	// The re-check that found the directories watched them before it
	// reported them.
	os.WriteFile(filepath.Join(dir, "late"), []byte("x"), 0o644)
	d.eventually(3*time.Second, "a file in the new directory", func() bool { return d.hasFinding("/usr/share/newdir/deeper/late", "added") })
}

// (b2) files made in a new directory while it is being listed are all
// found in real time: the watch is added before the listing, not after it
// (a storm of 100,000 creations lost about 1,600 of them to the gap).
func TestDaemonNewDirectoryStormLosesNothing(t *testing.T) {
	f := newDaemonFixture(t, "")
	d := startDaemon(t, f, t.TempDir())
	const files = 20_000
	for round := range 4 {
		dir := filepath.Join(f.root, fmt.Sprintf("usr/share/storm%d", round))
		os.Mkdir(dir, 0o755)
		for i := range files / 4 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	reported := func() int {
		s, _ := d.status()
		n := 0
		for _, f := range s.Findings {
			if strings.HasPrefix(f.Path, "/usr/share/storm") && f.Kind == "added" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for n := reported(); n != files+4; n = reported() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the storm's %d paths reported after 2 minutes, the scans an hour away", n, files+4)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// (c) with the watch cap reached, a change in an unwatched subtree is still
// found, by the fast scan; driftd says so in its log and a metric, and each
// drift event says how it was found.
func TestDaemonWatchCapFallsBackToFastScan(t *testing.T) {
	f := newDaemonFixture(t, "[watch]\nmax_directories = 2\n")
	os.WriteFile(f.config, []byte(strings.Replace(daemonConfig("[watch]\nmax_directories = 2\n"), `fast_interval = "1h"`, `fast_interval = "1s"`, 1)), 0o644)
	d := startDaemon(t, f, t.TempDir())
	m := d.metrics()
	if !strings.Contains(m, "driftd_watch_directories 2") || strings.Contains(m, "driftd_watch_unwatched_directories 0") {
		t.Fatalf("watch metrics:\n%s", grepMetrics(m, "driftd_watch"))
	}
	if n := strings.Count(d.logs(), "watch limit reached"); n != 1 {
		t.Errorf("the watch limit is logged %d times, want once", n)
	}
	// /usr/share/doc is past the cap: only the fast scan can see this.
	os.WriteFile(filepath.Join(f.root, "usr/share/doc/README"), []byte("changed docs\n"), 0o644)
	d.eventually(5*time.Second, "the change in an unwatched directory", func() bool { return d.hasFinding("/usr/share/doc/README", "modified") })
	if m := d.metrics(); !strings.Contains(m, `driftd_last_scan_timestamp_seconds{mode="fast"}`) {
		t.Errorf("no fast scan in the metrics:\n%s", grepMetrics(m, "driftd_last_scan"))
	}
	// The root directory is watched: a change there is seen in real time.
	os.WriteFile(filepath.Join(f.root, "rootfile"), nil, 0o644)
	d.eventually(5*time.Second, "the change in a watched directory", func() bool { return d.hasFinding("/rootfile", "added") })
	foundBy := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(d.events()), "\n") {
		var ev struct {
			Msg, Path string
			FoundBy   string `json:"found_by"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "drift" {
			foundBy[ev.Path] = ev.FoundBy
		}
	}
	if foundBy["/usr/share/doc/README"] != "fast" || foundBy["/rootfile"] != "watch" {
		t.Errorf("found_by of the drift events: %v, want the unwatched change found by the fast scan, the other by the watch", foundBy)
	}
}

// (d) a change made while the daemon was stopped is reported after the
// restart; a finding from before keeps its first-seen time and is not
// announced again.
func TestDaemonRestart(t *testing.T) {
	f := newDaemonFixture(t, "")
	state := t.TempDir()
	d := startDaemon(t, f, state)
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("changed\n"), 0o644)
	d.eventually(3*time.Second, "the first change", func() bool { return d.hasFinding("/etc/hostname", "modified") })
	before, _ := d.status()
	d.stop()

	os.Remove(filepath.Join(f.root, "usr/bin/tool"))
	d = startDaemon(t, f, state)
	s, _ := d.status()
	var found []string
	for _, f := range s.Findings {
		found = append(found, f.Path+" "+f.Kind)
		if f.Path == "/etc/hostname" && !f.FirstSeen.Equal(before.Findings[0].FirstSeen) {
			t.Errorf("first seen %v after the restart, was %v", f.FirstSeen, before.Findings[0].FirstSeen)
		}
	}
	if want := "[/etc/hostname modified /usr/bin/tool removed]"; fmt.Sprint(found) != want {
		t.Errorf("findings after restart: %v, want %s", found, want)
	}
	ev := d.events()
	if !strings.Contains(ev, `"path":"/usr/bin/tool","kind":"removed"`) || strings.Contains(ev, `"path":"/etc/hostname"`) {
		t.Errorf("events after restart (want the removal only):\n%s", ev)
	}
}

// (e) SIGHUP with a broken config keeps the old config running and sets the
// reload metric to 0; a good reload sets it back to 1.
func TestDaemonReload(t *testing.T) {
	f := newDaemonFixture(t, "")
	d := startDaemon(t, f, t.TempDir())
	good, _ := os.ReadFile(f.config)
	os.WriteFile(f.config, append(bytes.Clone(good), []byte("\n[watch]\nbogus = 1\n")...), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.eventually(3*time.Second, "the failed reload in the metric", func() bool {
		return strings.Contains(d.metrics(), "driftd_config_last_reload_successful 0")
	})
	if !strings.Contains(d.logs(), "unknown key watch.bogus") {
		t.Errorf("the log does not say why the reload failed:\n%s", d.logs())
	}
	// Still running on the old config: still detecting.
	os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("after the bad reload\n"), 0o644)
	d.eventually(3*time.Second, "detection after a bad reload", func() bool { return d.hasFinding("/etc/hostname", "modified") })

	os.WriteFile(f.config, good, 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.eventually(3*time.Second, "the good reload in the metric", func() bool {
		return strings.Contains(d.metrics(), "driftd_config_last_reload_successful 1")
	})
}

// (f) a tampered baseline: driftd_baseline_verified 0, /healthz 503, and no
// clean claim anywhere.
func TestDaemonTamperedBaseline(t *testing.T) {
	f := newDaemonFixture(t, "")
	data, _ := os.ReadFile(f.manifest)
	data[len(data)-70] ^= 1
	tampered := filepath.Join(f.dir, "tampered.manifest")
	os.WriteFile(tampered, data, 0o644)
	d := startDaemon(t, f, t.TempDir(), "--baseline", tampered)

	if m := d.metrics(); !strings.Contains(m, "driftd_baseline_verified 0") {
		t.Errorf("metrics:\n%s", grepMetrics(m, "driftd_baseline"))
	}
	code, body := d.get("/healthz")
	if code != 503 || !strings.Contains(body, "signature does not verify") {
		t.Errorf("/healthz = %d %s", code, body)
	}
	s, r := d.status()
	if s.Status != reporter.StatusUnverified || r.code != 2 {
		t.Errorf("status %s exit %d", s.Status, r.code)
	}
	text := driftd(t, nil, "status", "--state-dir", d.stateDir)
	for _, out := range []string{text.stdout, r.stdout, d.metrics(), body} {
		if strings.Contains(strings.ToLower(out), "clean") {
			t.Errorf("says clean:\n%s", out)
		}
	}
}

func grepMetrics(m, prefix string) string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// checkPromtool runs promtool check metrics (Debian's prometheus package,
// which make test installs) on a scrape.
func checkPromtool(t testing.TB, scrape string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: make test installs Debian's prometheus package")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestDaemonSystemdNotify: under systemd (NOTIFY_SOCKET, WATCHDOG_USEC) the
// daemon sends READY=1 after its first check, then WATCHDOG=1 pings.
func TestDaemonSystemdNotify(t *testing.T) {
	f := newDaemonFixture(t, "")
	conn := notifySocket(t)
	startDaemon(t, f, t.TempDir())
	got := map[string]bool{}
	buf := make([]byte, 256)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !got["READY=1"] || !got["WATCHDOG=1"] {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("notifications so far %v: %v", got, err)
		}
		got[string(buf[:n])] = true
	}
}

// TestDaemonWebConfig: /metrics behind basic auth from an exporter-toolkit
// web config, as node_exporter's --web.config.file.
func TestDaemonWebConfig(t *testing.T) {
	f := newDaemonFixture(t, "")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(f.dir, "web.yml")
	os.WriteFile(webConfig, fmt.Appendf(nil, "basic_auth_users:\n  prometheus: %s\n", hash), 0o644)
	d := startDaemon(t, f, t.TempDir(), "--web.config.file", webConfig)
	if code, _ := d.get("/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/metrics", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics with credentials: %d", resp.StatusCode)
	}
}

// TestDaemonRevertAndSocket: a reverted change leaves the findings but
// stays in the event history; the local socket is root-only.
func TestDaemonRevertAndSocket(t *testing.T) {
	f := newDaemonFixture(t, "")
	d := startDaemon(t, f, t.TempDir())
	fi, err := os.Stat(filepath.Join(d.stateDir, "driftd.sock"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	p := filepath.Join(f.root, "etc/hostname")
	orig, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	os.WriteFile(p, []byte("web-2\n"), 0o644)
	d.eventually(3*time.Second, "the change", func() bool { return d.hasFinding("/etc/hostname", "modified") })
	os.WriteFile(p, orig, 0o644)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	d.eventually(3*time.Second, "the revert", func() bool { return !d.hasFinding("/etc/hostname", "modified") })
	s, r := d.status()
	var events []string
	for _, e := range s.Events {
		if e.Find != nil {
			events = append(events, e.Event+" "+e.Find.Path)
		}
	}
	if want := "[drift /etc/hostname reverted /etc/hostname]"; fmt.Sprint(events) != want || s.Status != reporter.StatusClean || r.code != 0 {
		t.Errorf("after the revert: status %s (exit %d), events %v, want %s", s.Status, r.code, events, want)
	}
}

// notifySocket plays systemd for the daemons the test starts: a notify
// socket in NOTIFY_SOCKET, and WATCHDOG_USEC asking for a ping every
// 100 ms. The test reads what the daemon sends on the returned socket.
func notifySocket(t testing.TB) *net.UnixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	return conn
}
