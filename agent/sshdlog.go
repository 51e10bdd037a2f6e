package agent

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"driftd/agent/attrib"
	"driftd/agent/config"
	"driftd/baseline"
)

// openSSHDLog opens the best source of sshd's lines there is: the journal
// where journald runs (and ssh.journal is on), else the first of
// ssh.auth_logs that exists. It returns nil if there is none.
func openSSHDLog(cfg config.SSHConfig) (lineSource, error) {
	if cfg.Journal && journalRunning() {
		j, err := newJournal()
		if err == nil {
			return j, nil
		}
		if path := firstExisting(cfg.AuthLogs); path != "" {
			return &syslogFile{path: path}, fmt.Errorf("%w; reading %s instead", err, path)
		}
		return nil, err
	}
	if path := firstExisting(cfg.AuthLogs); path != "" {
		return &syslogFile{path: path}, nil
	}
	return nil, nil
}

// firstExisting is the first of paths that exists, "" if none does.
func firstExisting(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// sshdLog follows sshd's log lines, from the journal or a syslog file
// (auth.log, secure). Unlike utmp, which holds only the sessions with a
// terminal, sshd logs every session there: `ssh host 'cmd'` too, with the
// user, the client's address and port, and the fingerprint of the
// accepted key.
type sshdLog struct {
	src     lineSource
	records chan []loginRecord // to the loop
	stop    chan struct{}
	done    chan struct{}
	open    map[int]bool // sshd pids of the sessions open now; run's own
}

// lineSource gives sshd's log lines as "sshd[PID]: MESSAGE".
type lineSource interface {
	// lines returns the lines logged since the last call: on the first,
	// all it has (the log since boot, or the file), without waiting.
	lines() [][]byte
	// name is where the lines come from, for the status and the log.
	name() string
	close()
}

// loginRecord is an SSH login opened or closed, by its sshd's pid.
type loginRecord struct {
	Open    bool
	Initial bool // open when the daemon started: not a new login
	Login   baseline.Login
}

// sshdLogPoll is how often new lines are taken, and the open sessions'
// sshd processes looked for.
const sshdLogPoll = 250 * time.Millisecond

// newSSHDLog starts following src from what it has: sessions logged there
// whose sshd still runs are open now.
func newSSHDLog(src lineSource) *sshdLog {
	a := &sshdLog{src: src, records: make(chan []loginRecord, 16), stop: make(chan struct{}),
		done: make(chan struct{}), open: map[int]bool{}}
	go a.run()
	return a
}

func (a *sshdLog) run() {
	defer close(a.done)
	defer a.src.close()
	initial := true
	tick := time.NewTicker(sshdLogPoll)
	defer tick.Stop()
	for {
		recs := a.take(a.src.lines(), initial)
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

// take turns lines into records. On the first take, only the sessions
// still open are returned, as Initial.
func (a *sshdLog) take(lines [][]byte, initial bool) []loginRecord {
	var recs []loginRecord
	for _, line := range lines {
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
			wait := sessionWait
			if initial {
				wait = 0 // PAM opened an old session long ago, or never will
			}
			rec.Login.Session = sessionOf(pid, wait)
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

// ended closes the sessions whose sshd is gone without a line saying so
// (killed, or its line not logged).
func (a *sshdLog) ended() []loginRecord {
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

func (a *sshdLog) close() {
	close(a.stop)
	<-a.done
}

// sessionWait is how long a login's audit session id is waited for: sshd
// logs the login a moment before PAM opens the session.
const sessionWait = time.Second

// sessionOf is the audit session id of sshd's session process, waited
// for up to wait; -1 if there is none.
func sessionOf(pid int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
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
