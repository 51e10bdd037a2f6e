package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestParseSSHDLine reads sshd's lines as rsyslog, the journal (through
// journalLine) and OpenSSH 9.8's sshd-session write them.
func TestParseSSHDLine(t *testing.T) {
	for _, c := range []struct {
		line       string
		ok, open   bool
		pid        int
		user, from string
		port       int
		key        string
	}{
		{line: "Dec  4 18:29:01 host sshd[812]: Accepted publickey for root from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:ptJepYBXbHIU/eQ",
			ok: true, open: true, pid: 812, user: "root", from: "10.0.0.5", port: 51234, key: "SHA256:ptJepYBXbHIU/eQ"},
		{line: "2026-12-04T18:29:01.123456+00:00 host sshd-session[90]: Accepted password for deploy from 2001:db8::1 port 22 ssh2",
			ok: true, open: true, pid: 90, user: "deploy", from: "2001:db8::1", port: 22},
		{line: "sshd[812]: Disconnected from user root 10.0.0.5 port 51234", ok: true, pid: 812},
		{line: "sshd[812]: pam_unix(sshd:session): session closed for user root", ok: true, pid: 812},
		{line: "sshd[812]: Failed publickey for root from 10.0.0.5 port 51234 ssh2"},
		{line: "myapp[3]: Accepted publickey for root from 10.0.0.5 port 1 ssh2"},
	} {
		rec, ok := parseSSHDLine([]byte(c.line + "\n"))
		l := rec.Login
		if ok != c.ok || rec.Open != c.open || (ok && (l.SSHDPID != c.pid || l.User != c.user || l.From != c.from || l.Port != c.port || l.Key != c.key)) {
			t.Errorf("%q: %v %+v", c.line, ok, rec)
		}
	}
	line, cursor, ok := journalLine([]byte(`{"MESSAGE":[65,99,99,101,112,116,101,100,32,112,97,115,115,119,111,114,100,32,102,111,114,32,255,32,102,114,111,109,32,49,46,50,46,51,46,52,32,112,111,114,116,32,53,32,115,115,104,50],"_PID":"77","__CURSOR":"s=1"}`))
	if !ok || cursor != "s=1" || string(line) != "sshd[77]: Accepted password for \xff from 1.2.3.4 port 5 ssh2" {
		t.Errorf("a journal entry whose message is not UTF-8: %q %q %v", line, cursor, ok)
	}
}

// TestSSHDLogFile: a login whose sshd still runs is open at the start, one
// whose sshd is gone is not; lines added later are new logins, an
// unfinished line waits for its end, and a rotated file is read anew.
func TestSSHDLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	alivePID := os.Getpid()
	os.WriteFile(path, []byte(
		"h sshd[999999999]: Accepted publickey for gone from 1.1.1.1 port 1 ssh2: RSA SHA256:a\n"+
			"h sshd["+itoa(alivePID)+"]: Accepted publickey for root from 2.2.2.2 port 2 ssh2: RSA SHA256:b\n"), 0o644)
	l := &sshdLog{src: &syslogFile{path: path}, open: map[int]bool{}}
	recs := l.take(l.src.lines(), true)
	if len(recs) != 1 || !recs[0].Initial || recs[0].Login.User != "root" {
		t.Fatalf("at the start: %+v", recs)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("h sshd[" + itoa(alivePID) + "]: Disconnected from user root 2.2.2.2 port 2\nh sshd[" + itoa(alivePID) + "]: Accepted publickey for ")
	f.Close()
	recs = l.take(l.src.lines(), false)
	if len(recs) != 1 || recs[0].Open {
		t.Fatalf("after the logout: %+v", recs)
	}
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("ops from 3.3.3.3 port 3 ssh2\n")
	f.Close()
	if recs = l.take(l.src.lines(), false); len(recs) != 1 || !recs[0].Open || recs[0].Initial || recs[0].Login.User != "ops" {
		t.Fatalf("a line finished later: %+v", recs)
	}
	os.Rename(path, path+".1")
	os.WriteFile(path, []byte("h sshd["+itoa(alivePID)+"]: Disconnected from user ops 3.3.3.3 port 3\n"), 0o644)
	if recs = l.take(l.src.lines(), false); len(recs) != 1 || recs[0].Open {
		t.Fatalf("after rotation: %+v", recs)
	}
	l.src.close()
}

func itoa(n int) string { return strconv.Itoa(n) }
