package agent

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"driftd/agent/attrib"
	"driftd/baseline"
)

// authLog follows sshd's lines in a syslog file (auth.log, secure). Unlike
// utmp, which holds only the sessions with a terminal, sshd logs every
// session there: `ssh host 'cmd'` too, with the user, the client's address
// and port, and the fingerprint of the accepted key.
type authLog struct {
	path    string
	records chan []loginRecord // to the loop
	stop    chan struct{}
	done    chan struct{}

	// The reader's own state, touched only by run.
	f       *os.File
	ino     uint64
	partial []byte
	open    map[int]bool // sshd pids of the sessions open now
}

// loginRecord is an SSH login opened or closed, by its sshd's pid.
type loginRecord struct {
	Open    bool
	Initial bool // open when the daemon started: not a new login
	Login   baseline.Login
}

// authLogPoll is how often the log is read for new lines, and the open
// sessions' sshd processes looked for.
const authLogPoll = 250 * time.Millisecond

// newAuthLog starts following path from its start: sessions logged there
// whose sshd still runs are open now.
func newAuthLog(path string) *authLog {
	a := &authLog{path: path, records: make(chan []loginRecord, 16), stop: make(chan struct{}),
		done: make(chan struct{}), open: map[int]bool{}}
	go a.run()
	return a
}

func (a *authLog) run() {
	defer close(a.done)
	defer func() {
		if a.f != nil {
			a.f.Close()
		}
	}()
	initial := true
	tick := time.NewTicker(authLogPoll)
	defer tick.Stop()
	for {
		recs := a.read(initial)
		recs = append(recs, a.ended()...)
		initial = false
		if len(recs) > 0 {
			select {
			case a.records <- recs:
			case <-a.stop:
				return
			}
		}
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
	}
}

// read returns the records of the lines added since the last read. On the
// first, the whole file is read and only the sessions still open are
// returned, as Initial.
func (a *authLog) read(initial bool) []loginRecord {
	if !a.reopen() {
		return nil
	}
	var recs []loginRecord
	r := bufio.NewReaderSize(a.f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			a.partial = append(a.partial, line...)
			continue
		}
		if err != nil { // io.EOF: keep the unfinished line for the next read
			a.partial = append(a.partial, line...)
			break
		}
		if len(a.partial) > 0 {
			line = append(a.partial, line...)
			a.partial = a.partial[:0]
		}
		rec, ok := parseSSHDLine(line)
		if !ok {
			continue
		}
		pid := rec.Login.SSHDPID
		if rec.Open {
			if initial && !alive(pid) {
				continue
			}
			a.open[pid] = true
			rec.Initial = initial
			rec.Login.Session = sessionOf(pid)
		} else {
			if !a.open[pid] {
				continue
			}
			delete(a.open, pid)
		}
		recs = append(recs, rec)
	}
	if initial {
		recs = openOnly(recs)
	}
	return recs
}

// reopen opens the file, again after it was rotated or truncated; it
// reports whether there is a file to read.
func (a *authLog) reopen() bool {
	st, err := os.Stat(a.path)
	if err != nil {
		return a.f != nil
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	if a.f != nil && ino == a.ino {
		if off, err := a.f.Seek(0, io.SeekCurrent); err == nil && st.Size() >= off {
			return true
		}
	}
	if a.f != nil {
		a.f.Close()
	}
	f, err := os.Open(a.path)
	if err != nil {
		a.f = nil
		return false
	}
	a.f, a.ino, a.partial = f, ino, a.partial[:0]
	return true
}

// ended closes the sessions whose sshd is gone without a line saying so
// (killed, or its line not logged).
func (a *authLog) ended() []loginRecord {
	var recs []loginRecord
	for pid := range a.open {
		if !alive(pid) {
			delete(a.open, pid)
			recs = append(recs, loginRecord{Login: baseline.Login{SSHDPID: pid}})
		}
	}
	return recs
}

// openOnly keeps the opens not closed later in recs.
func openOnly(recs []loginRecord) []loginRecord {
	closed := map[int]bool{}
	var out []loginRecord
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if !r.Open {
			closed[r.Login.SSHDPID] = true
		} else if !closed[r.Login.SSHDPID] {
			out = append(out, r)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (a *authLog) close() {
	close(a.stop)
	<-a.done
}

// sessionWait is how long a login's audit session id is waited for: sshd
// logs the login a moment before PAM opens the session.
const sessionWait = 300 * time.Millisecond

// sessionOf is the audit session id of sshd's session process, -1 if
// there is none.
func sessionOf(pid int) int {
	deadline := time.Now().Add(sessionWait)
	for {
		if s := attrib.SessionOf(uint32(pid)); s != attrib.Unset {
			return int(s)
		}
		if time.Now().After(deadline) || !alive(pid) {
			return -1
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

var (
	// sshdLine is a syslog line of sshd (or OpenSSH 9.8's sshd-session):
	// "... sshd[812]: MESSAGE".
	sshdLine = regexp.MustCompile(`\bsshd(?:-session)?\[(\d+)\]: (.*)$`)
	// accepted is sshd's login line, with the key's type and fingerprint
	// for a key: "Accepted publickey for root from 10.0.0.5 port 51234
	// ssh2: ED25519 SHA256:...".
	accepted = regexp.MustCompile(`^Accepted (\S+) for (\S+) from (\S+) port (\d+) ssh2(?:: \S+ (\S+))?`)
	// closed are sshd's lines at the end of a session.
	closed = regexp.MustCompile(`^(?:Disconnected from user \S+ \S+ port \d+|pam_unix\(sshd:session\): session closed for user \S+)`)
)

// parseSSHDLine reads one line of the log: a login opened or closed.
func parseSSHDLine(line []byte) (loginRecord, bool) {
	line = bytes.TrimRight(line, "\r\n")
	m := sshdLine.FindSubmatch(line)
	if m == nil {
		return loginRecord{}, false
	}
	pid, _ := strconv.Atoi(string(m[1]))
	msg := m[2]
	if a := accepted.FindSubmatch(msg); a != nil {
		port, _ := strconv.Atoi(string(a[4]))
		return loginRecord{Open: true, Login: baseline.Login{Method: string(a[1]), User: string(a[2]),
			From: string(a[3]), Port: port, Key: string(a[5]), SSHDPID: pid, Session: -1, Started: time.Now()}}, true
	}
	if closed.Match(msg) {
		return loginRecord{Login: baseline.Login{SSHDPID: pid}}, true
	}
	return loginRecord{}, false
}
