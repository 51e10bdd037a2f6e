package agent

import (
	"context"
	"log/slog"
	"os/user"
	"slices"
	"strconv"
	"time"

	"driftd/agent/attrib"
	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/reporter"
)

// closedKeep is how long a closed login is kept to name the changes its
// session made: a change is attributed after the debounce and a re-check,
// which can end after the session did.
const closedKeep = 10 * time.Minute

// logins are the SSH logins read from sshd's log, by sshd pid.
type logins struct {
	open   map[int]*baseline.Login
	closed []closedLogin // oldest first
	users  map[uint32]string
}

type closedLogin struct {
	login *baseline.Login
	at    time.Time
}

// takeLogins takes the auth log's records: each new login is an ssh_login
// event (ssh_session for those open when the daemon started), counted and
// put to the policy; each end an ssh_logout.
func (d *Daemon) takeLogins(recs []loginRecord) {
	d.metrics.EnableSSH()
	var fresh []*baseline.Login
	for _, r := range recs {
		l := r.Login
		if !r.Open {
			if open, ok := d.ssh.log.open[l.SSHDPID]; ok {
				delete(d.ssh.log.open, l.SSHDPID)
				d.ssh.log.closed = append(d.ssh.log.closed, closedLogin{login: open, at: time.Now()})
				d.loginEvent(slog.LevelInfo, EventSSHLogout, open)
			}
			continue
		}
		d.ssh.log.open[l.SSHDPID] = &l
		event := EventSSHSession
		if !r.Initial {
			event = EventSSHLogin
			d.ssh.logins++
			d.metrics.SSHLogins.Inc()
			fresh = append(fresh, &l)
		}
		d.loginEvent(slog.LevelWarn, event, &l)
	}
	for len(d.ssh.log.closed) > 0 && time.Since(d.ssh.log.closed[0].at) > closedKeep {
		d.ssh.log.closed = d.ssh.log.closed[1:]
	}
	d.metrics.SSHSessions.Set(float64(len(d.ssh.log.open)))
	if len(fresh) > 0 {
		d.linkLogins()
	}
	for _, l := range fresh {
		d.trip(policy.ForLogin(d.cfg.SSH.TaintOnLogin, l.User, l.From)) // after the events; only the first can trip the latch
	}
}

// loginAttrs are a login's event fields.
func loginAttrs(l *baseline.Login) []slog.Attr {
	attrs := []slog.Attr{slog.String("user", l.User), slog.String("remote_host", l.From), slog.Int("remote_port", l.Port),
		slog.String("method", l.Method), slog.Int("sshd_pid", l.SSHDPID)}
	if l.Key != "" {
		attrs = append(attrs, slog.String("key", l.Key))
	}
	if l.Session >= 0 {
		attrs = append(attrs, slog.Int("session", l.Session))
	}
	return append(attrs, slog.Time("started", l.Started))
}

// loginEvent writes a login's event: its fields and the baseline id.
func (d *Daemon) loginEvent(level slog.Level, event Event, l *baseline.Login) {
	attrs := append(loginAttrs(l), slog.String("baseline_id", d.baselineID()))
	d.events.LogAttrs(context.Background(), level, string(event), attrs...)
	d.remember(reporter.EventJSON{Time: time.Now(), Event: string(event), Login: reporter.NewLoginJSON(l)})
}

// actor names who made the change at the root-relative path, when the
// attribution backend saw it made.
func (d *Daemon) actor(path string) *baseline.Actor {
	if d.watch == nil {
		return nil
	}
	w, ok := d.watch.writer(path)
	if !ok {
		return nil
	}
	// A storm of changes by one process shares one actor: the findings
	// hold it by pointer, and never change it.
	if last := d.lastActor; last.a != nil && w.Same(last.w) && d.ssh.log.userName(w.UID) == last.a.User && d.ssh.log.of(last.a) == last.a.Login {
		return last.a
	}
	a := &baseline.Actor{PID: int(w.PID), Comm: w.Comm, Exe: w.Exe, UID: int(w.UID), User: d.ssh.log.userName(w.UID),
		LoginUID: signed(w.LoginUID), Session: signed(w.SessionID)}
	for _, p := range w.Ancestors {
		a.Ancestors = append(a.Ancestors, int(p))
	}
	a.Login = d.ssh.log.of(a)
	d.lastActor.w, d.lastActor.a = w, a
	return a
}

// of is the SSH login a writer ran under: the login whose sshd is one of
// its ancestors, else the one with its audit session.
func (ls *logins) of(a *baseline.Actor) *baseline.Login {
	find := func(match func(*baseline.Login) bool) *baseline.Login {
		for _, l := range ls.open {
			if match(l) {
				return l
			}
		}
		for i := len(ls.closed) - 1; i >= 0; i-- {
			if match(ls.closed[i].login) {
				return ls.closed[i].login
			}
		}
		return nil
	}
	if l := find(func(l *baseline.Login) bool { return slices.Contains(a.Ancestors, l.SSHDPID) }); l != nil {
		if l.Session < 0 && a.Session >= 0 {
			l.Session = a.Session // PAM opened it after sshd logged the login: a descendant has it
		}
		return l
	}
	if a.Session < 0 {
		return nil
	}
	return find(func(l *baseline.Login) bool { return l.Session == a.Session })
}

// linkLogins ties the findings whose writer was named before its login
// was known to that login: sshd's log can reach the daemon after the
// change its session made.
func (d *Daemon) linkLogins() {
	for _, t := range d.state.current {
		if a := t.By; a != nil && a.Login == nil {
			if a.Login = d.ssh.log.of(a); a.Login != nil {
				d.unsaved = true
			}
		}
	}
}

// userName is the host's name for uid, "" if it has none.
func (ls *logins) userName(uid uint32) string {
	if name, ok := ls.users[uid]; ok {
		return name
	}
	name := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		name = u.Username
	}
	if ls.users == nil {
		ls.users = map[uint32]string{}
	}
	ls.users[uid] = name
	return name
}

// signed is a login uid or session id, with the kernel's unset as -1.
func signed(v uint32) int {
	if v == attrib.Unset {
		return -1
	}
	return int(v)
}
