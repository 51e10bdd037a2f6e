package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// startSyslog runs a system log daemon that will own /dev/log, and stops
// it (and removes /dev/log) when the test ends. The test needs sshd's lines
// in a log of its own, so another daemon on /dev/log is a failure.
func startSyslog(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if _, err := os.Lstat("/dev/log"); err == nil {
		t.Fatalf("/dev/log exists: another syslog daemon runs here, and this test needs sshd's lines in a log of its own")
	}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.Remove("/dev/log")
	})
}

// startRsyslog runs Debian's rsyslogd on /dev/log, as a host has it, with
// sshd's facilities written to a file of the test's; it returns the file.
func startRsyslog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	authLog := filepath.Join(dir, "auth.log")
	conf := fmt.Sprintf("module(load=\"imuxsock\")\n$WorkDirectory %s\nauth,authpriv.* %s\n", dir, authLog)
	writeTree(t, dir, map[string]string{"rsyslog.conf": conf})
	startSyslog(t, exec.Command("rsyslogd", "-n", "-f", filepath.Join(dir, "rsyslog.conf"), "-i", filepath.Join(dir, "rsyslog.pid")))
	waitFor(t, 10*time.Second, "rsyslogd's /dev/log", func() bool { _, err := os.Lstat("/dev/log"); return err == nil })
	return authLog
}

// startJournald runs Debian's systemd-journald as a plain process (systemd
// is not PID 1 here), with /dev/log pointing at it as on a host where
// journald takes syslog.
func startJournald(t *testing.T) {
	t.Helper()
	startSyslog(t, exec.Command("/lib/systemd/systemd-journald"))
	waitFor(t, 10*time.Second, "journald's socket", func() bool {
		c, err := net.Dial("unixgram", "/run/systemd/journal/socket")
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err := os.Symlink("/run/systemd/journal/dev-log", "/dev/log"); err != nil {
		t.Fatal(err)
	}
}

// ssh runs command in a session of its own: with a terminal (-tt) or
// without, as `ssh host 'cmd'`.
func (s *testSSHD) ssh(t *testing.T, tty bool, command string) {
	t.Helper()
	args := []string{"-i", s.clientKey, "-p", fmt.Sprint(s.port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
	if tty {
		args = append(args, "-tt")
	} else {
		args = append(args, "-T")
	}
	cmd := exec.Command("ssh", append(args, "root@127.0.0.1", command)...)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh %q: %v: %s", command, err, out)
	}
}

// fingerprint is the SHA256 fingerprint of the client's key, as sshd logs it.
func (s *testSSHD) fingerprint(t *testing.T) string {
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", s.clientKey+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[1]
}

// attributed waits for the daemon's finding on path that names who made
// it and the login it was made under (sshd's log may reach the daemon
// after the change its session made).
func (d *daemon) attributed(path string) reporter.TrackedJSON {
	var got reporter.TrackedJSON
	d.eventually(15*time.Second, "an attributed finding on "+path, func() bool {
		s, _ := d.status()
		for _, f := range s.Findings {
			if f.Path == path && f.By != nil && f.By.Login != nil {
				got = f
				return true
			}
		}
		return false
	})
	return got
}

// TestWhoChangedIt: over a real sshd (through PAM, logging to a real
// journald, or to a real rsyslogd's auth.log) with a real key, each change
// names its process, its uid and the SSH login with its source address and
// key fingerprint, whether the session has a terminal or not; a changed
// config shows its diff, a changed secret no content.
func TestWhoChangedIt(t *testing.T) {
	t.Run("journal", func(t *testing.T) {
		startJournald(t)
		testWhoChangedIt(t, "journal = true\nauth_logs = []\n", "journal")
	})
	t.Run("auth.log", func(t *testing.T) {
		authLog := startRsyslog(t)
		testWhoChangedIt(t, fmt.Sprintf("journal = false\nauth_logs = [%q]\n", authLog), authLog)
	})
}

func testWhoChangedIt(t *testing.T, sshConfig, source string) {
	sshd := startSSHDWith(t, sshdOptions{pam: true, syslog: true})
	fp := sshd.fingerprint(t)
	f := newDaemonFixture(t, "[ssh]\n"+sshConfig)
	writeTree(t, f.root, map[string]string{
		"etc/app.conf":        "port=80\n",
		"etc/ssh/sshd_config": "PermitRootLogin no\nPasswordAuthentication no\n",
		"etc/shadow":          "root:*:19000:0:99999:7:::\n",
		"usr/bin/tool":        "#!/bin/sh\n",
	})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	d := startDaemon(t, f, t.TempDir())
	if m := d.metrics(); !strings.Contains(m, `driftd_attribution_info{backend="ebpf"} 1`) {
		t.Fatalf("attribution backend:\n%s\n%s", grepMetrics(m, "driftd_attribution"), d.logs())
	}
	if s, _ := d.status(); s.SSH.Source != source || s.Watch.Attribution != "ebpf" {
		t.Fatalf("ssh source %q, attribution %q: want %s, ebpf\n%s", s.SSH.Source, s.Watch.Attribution, source, d.logs())
	}
	checkLogin := func(what string, f reporter.TrackedJSON, comm string) {
		t.Helper()
		b := f.By
		if b.Comm != comm || b.PID <= 0 || b.UID != 0 || b.User != "root" || b.Exe == "" {
			t.Errorf("%s: by %+v, want %s as root with its pid and exe", what, b, comm)
		}
		if b.Login == nil || b.Login.RemoteHost != "127.0.0.1" || b.Login.Key != fp || b.Login.User != "root" {
			t.Errorf("%s: login %+v, want root from 127.0.0.1 with key %s", what, b.Login, fp)
		} else if b.Session == nil || b.Login.Session != *b.Session {
			t.Errorf("%s: the writer's audit session %v is not its login's %d", what, b.Session, b.Login.Session)
		}
	}

	// No terminal: `ssh host 'cmd'`, which utmp never sees.
	sshd.ssh(t, false, "echo port=8080 >> "+filepath.Join(f.root, "etc/app.conf"))
	checkLogin("redirect without a terminal", d.attributed("/etc/app.conf"), "bash")
	d.eventually(10*time.Second, "the session without a terminal counted", func() bool {
		return strings.Contains(d.metrics(), "driftd_ssh_logins_total 1\n")
	})
	if ev := d.events(); !strings.Contains(ev, `"msg":"ssh_login","user":"root","remote_host":"127.0.0.1"`) || !strings.Contains(ev, `"key":"`+fp+`"`) {
		t.Errorf("no ssh_login event with the key for the session without a terminal:\n%s", ev)
	}

	// sed -i on sshd_config in an interactive session.
	sshd.ssh(t, true, "sed -i s/PermitRootLogin.no/PermitRootLogin\\ yes/ "+filepath.Join(f.root, "etc/ssh/sshd_config"))
	cfg := d.attributed("/etc/ssh/sshd_config")
	checkLogin("sed -i", cfg, "sed")
	if !strings.Contains(cfg.Diff, "-PermitRootLogin no\n") || !strings.Contains(cfg.Diff, "+PermitRootLogin yes\n") {
		t.Errorf("sshd_config's diff:\n%s", cfg.Diff)
	}

	// cp of a binary over one of the image's.
	sshd.ssh(t, false, "cp /usr/bin/true "+filepath.Join(f.root, "usr/bin/tool"))
	checkLogin("cp", d.attributed("/usr/bin/tool"), "cp")

	// A secret: that it changed, never what.
	sshd.ssh(t, false, "echo 'mallory:$6$x:19000:0:99999:7:::' >> "+filepath.Join(f.root, "etc/shadow"))
	shadow := d.attributed("/etc/shadow")
	if shadow.Diff != "" || !strings.Contains(shadow.DiffNote, "nodiff") || strings.Contains(d.events(), "mallory") {
		t.Errorf("/etc/shadow shows content: diff %q, note %q", shadow.Diff, shadow.DiffNote)
	}

	text := driftd(t, nil, "status", "--state-dir", d.stateDir)
	if !strings.Contains(text.stdout, "by root (sshd session ") || !strings.Contains(text.stdout, "key "+fp+") via /usr/bin/sed") {
		t.Errorf("status text names no actor:\n%s", text.stdout)
	}

	t.Logf("status:\n%s", text.stdout)
	// The check shows the diff in text and JSON.
	r := f.check(t)
	if r.code != 1 || !strings.Contains(r.stdout, "+PermitRootLogin yes") || strings.Contains(r.stdout, "mallory") {
		t.Errorf("check text: %v", r)
	}
	j := f.check(t, "--format", "json")
	var rep struct {
		Findings []reporter.FindingJSON `json:"findings"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil {
		t.Fatalf("check JSON: %v\n%s", err, j.stdout)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Path == "/etc/ssh/sshd_config" {
			found = strings.Contains(f.Diff, "+PermitRootLogin yes")
		}
	}
	if !found {
		t.Errorf("check JSON has no diff for sshd_config:\n%s", j.stdout)
	}
}
