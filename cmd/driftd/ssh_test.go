package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"driftd/reporter"
)

// utmpPath is where sshd records logins: compiled in, so the test uses the
// host's own.
const utmpPath = "/var/run/utmp"

// testSSHD is a real sshd on a loopback port, with a test-only config,
// host key and client key.
type testSSHD struct {
	port          int
	clientKey     string
	authorizedKey string // the client's public key
	log           string
}

// sshdOptions: pam runs the session through PAM, as a host's sshd does
// (pam_loginuid then sets the audit session); syslog logs to syslog, as a
// host's sshd does, instead of to the test's file.
type sshdOptions struct {
	pam, syslog bool
}

func startSSHD(t *testing.T) *testSSHD { return startSSHDWith(t, sshdOptions{}) }

func startSSHDWith(t *testing.T, opts sshdOptions) *testSSHD {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	// sshd records logins only in a utmp file that exists, and needs its
	// privilege separation directory.
	if _, err := os.Stat(utmpPath); os.IsNotExist(err) {
		if err := os.WriteFile(utmpPath, nil, 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	s := &testSSHD{port: freePort(t), clientKey: filepath.Join(dir, "id_ed25519"), log: filepath.Join(dir, "sshd.log")}
	runTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_ed25519"))
	runTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", s.clientKey)
	pub, err := os.ReadFile(s.clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	s.authorizedKey = string(pub)
	writeTree(t, dir, map[string]string{"authorized_keys": s.authorizedKey})
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
UsePAM %s
PermitRootLogin yes
StrictModes no
PidFile %s
`, s.port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"), map[bool]string{false: "no", true: "yes"}[opts.pam], filepath.Join(dir, "sshd.pid"))
	writeTree(t, dir, map[string]string{"sshd_config": config})
	args := []string{"-D", "-f", filepath.Join(dir, "sshd_config")}
	if !opts.syslog {
		args = append(args, "-E", s.log)
	}
	cmd := exec.Command("/usr/sbin/sshd", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.log)
			t.Fatalf("sshd does not listen on %d: %v\n%s", s.port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// login starts a real ssh client session that runs command; the returned
// func logs out.
func (s *testSSHD) login(t *testing.T, command string) (logout func()) {
	t.Helper()
	cmd := exec.Command("ssh", "-tt", "-i", s.clientKey, "-p", fmt.Sprint(s.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"root@127.0.0.1", command)
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}
}

func sessionsFrom(s reporter.StatusJSON, user, host string) int {
	n := 0
	for _, l := range s.SSH.Sessions {
		if l.User == user && l.RemoteHost == host {
			n++
		}
	}
	return n
}

// TestDaemonSSHLogin logs in over a real sshd with a real ssh client: the
// daemon reports the login (user, 127.0.0.1) as an event and in
// driftd_ssh_logins_total, counts the session, and counts it out at
// logout. An authorized_keys written meanwhile, for a user added after
// the bake with a home that was not in the baseline, is ssh drift at
// critical severity.
func TestDaemonSSHLogin(t *testing.T) {
	sshd := startSSHD(t)
	f := newDaemonFixture(t, "[ssh]\njournal = false\nauth_logs = []\nutmp = \""+utmpPath+"\"\ntaint_on_login = true\n")
	writeTree(t, f.root, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	d := startDaemon(t, f, t.TempDir())
	s, _ := d.status()
	if s.SSH.Source != utmpPath {
		t.Fatalf("sessions read from %q, want %s\n%s", s.SSH.Source, utmpPath, d.logs())
	}
	before := sessionsFrom(s, "root", "127.0.0.1")

	logout := sshd.login(t, "sleep 60")
	d.eventually(15*time.Second, "the login shows in the local API", func() bool {
		s, _ := d.status()
		return sessionsFrom(s, "root", "127.0.0.1") == before+1
	})
	if ev := d.events(); !strings.Contains(ev, `"msg":"ssh_login","user":"root","remote_host":"127.0.0.1","tty":"pts/`) {
		log, _ := os.ReadFile(sshd.log)
		t.Errorf("no ssh_login event with user root from 127.0.0.1:\n%s\nsshd:\n%s", ev, log)
	}
	m := d.metrics()
	if !strings.Contains(m, "driftd_ssh_logins_total 1\n") || !strings.Contains(m, fmt.Sprintf("driftd_ssh_sessions %d\n", before+1)) {
		t.Errorf("ssh metrics after the login:\n%s", grepMetrics(m, "driftd_ssh"))
	}
	// ssh.taint_on_login: the login marks the host for replacement.
	d.eventually(5*time.Second, "the login taints the host", func() bool {
		return strings.Contains(d.metrics(), "driftd_replacement_required 1\n")
	})
	if s := readStatus(t, d); s.Taint.Trigger == nil || s.Taint.Trigger.Event != "ssh_login" || s.Taint.Trigger.User != "root" || s.Taint.Trigger.RemoteHost != "127.0.0.1" {
		t.Errorf("taint %+v: want tripped by root's login from 127.0.0.1", s.Taint)
	}

	// A new user whose home the baseline never saw, and a key for it.
	writeTree(t, f.root, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1000:1000::/srv/deploy:/bin/sh\n"})
	// The users change first, as useradd would; the daemon derives the new
	// user's SSH paths from them.
	d.eventually(5*time.Second, "the SSH paths derived anew", func() bool { return strings.Contains(d.logs(), "SSH paths changed") })
	writeTree(t, f.root, map[string]string{"srv/deploy/.ssh/authorized_keys": sshd.authorizedKey})
	d.eventually(10*time.Second, "the new authorized_keys is ssh drift at critical", func() bool {
		s, _ := d.status()
		for _, f := range s.Findings {
			if f.Path == "/srv/deploy/.ssh/authorized_keys" {
				return f.Kind == "added" && f.Category == "ssh" && f.Severity == "critical"
			}
		}
		return false
	})

	logout()
	d.eventually(15*time.Second, "the session count returns after logout", func() bool {
		s, _ := d.status()
		return sessionsFrom(s, "root", "127.0.0.1") == before
	})
	if m := d.metrics(); !strings.Contains(m, fmt.Sprintf("driftd_ssh_sessions %d\n", before)) || !strings.Contains(m, "driftd_ssh_logins_total 1\n") {
		t.Errorf("ssh metrics after logout:\n%s", grepMetrics(m, "driftd_ssh"))
	}
	checkPromtool(t, d.metrics())
}

// TestDaemonLogindSessions reads sessions from systemd-logind's session
// files where there is no utmp file. logind cannot run here (systemd is
// not PID 1), so the test writes session files in logind's format.
func TestDaemonLogindSessions(t *testing.T) {
	sessions := t.TempDir()
	f := newDaemonFixture(t, fmt.Sprintf("[ssh]\njournal = false\nauth_logs = []\nutmp = %q\nsessions_dir = %q\n", filepath.Join(t.TempDir(), "run/utmp"), sessions))
	d := startDaemon(t, f, t.TempDir())
	if s, _ := d.status(); s.SSH.Source != sessions || len(s.SSH.Sessions) != 0 {
		t.Fatalf("sessions %+v, want none from %s", s.SSH, sessions)
	}
	writeTree(t, sessions, map[string]string{
		"3": "# This is private data. Do not parse.\nUID=1000\nUSER=alice\nACTIVE=1\nSTATE=active\nREMOTE=1\nTYPE=tty\nCLASS=user\nSERVICE=sshd\nTTY=pts/1\nREMOTE_HOST=10.1.2.3\nREALTIME=1795000000000000\n",
		"4": "UID=0\nUSER=root\nACTIVE=1\nSTATE=active\nREMOTE=0\nTYPE=tty\nSERVICE=login\nTTY=tty1\nREALTIME=1795000000000000\n", // a console login: not SSH
	})
	d.eventually(40*time.Second, "the logind session shows", func() bool {
		s, _ := d.status()
		return sessionsFrom(s, "alice", "10.1.2.3") == 1 && len(s.SSH.Sessions) == 1
	})
	if ev := d.events(); !strings.Contains(ev, `"msg":"ssh_login","user":"alice","remote_host":"10.1.2.3","tty":"pts/1"`) {
		t.Errorf("no ssh_login event for alice:\n%s", ev)
	}
	os.Remove(filepath.Join(sessions, "3"))
	d.eventually(40*time.Second, "the session ends", func() bool {
		s, _ := d.status()
		return len(s.SSH.Sessions) == 0
	})
}
