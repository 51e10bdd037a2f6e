package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/host"

	"driftd/agent/config"
	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/reporter"
)

// session is one remote login session.
type session struct {
	User, Host, TTY string
	Started         time.Time
}

// sessionWatcher tells the loop when the login records may have changed:
// it watches the utmp file, or logind's session folder where there is no
// utmp. While it can watch neither (none exists yet, or the file was
// replaced), it polls for them instead.
type sessionWatcher struct {
	paths  []string // utmp, then logind's folder
	fsw    *fsnotify.Watcher
	notify chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// sessionPoll is how often the watcher looks for login records it cannot
// watch yet.
const sessionPoll = 30 * time.Second

func newSessionWatcher(cfg config.SSHConfig, log *slog.Logger) *sessionWatcher {
	w := &sessionWatcher{paths: []string{cfg.Utmp, cfg.SessionsDir},
		notify: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("login sessions are polled, not watched", "err", err)
	}
	w.fsw = fsw
	go w.run()
	return w
}

// watch adds a watch on the first of the paths that exists; it reports
// whether one is watched.
func (w *sessionWatcher) watch() bool {
	if w.fsw == nil {
		return false
	}
	for _, p := range w.paths {
		if err := w.fsw.Add(p); err == nil {
			return true
		}
	}
	return false
}

func (w *sessionWatcher) run() {
	defer close(w.done)
	var events chan fsnotify.Event
	var errs chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	var poll *time.Ticker
	var tick <-chan time.Time
	setPolling := func(on bool) {
		switch {
		case on && poll == nil:
			poll = time.NewTicker(sessionPoll)
			tick = poll.C
		case !on && poll != nil:
			poll.Stop()
			poll, tick = nil, nil
		}
	}
	setPolling(!w.watch())
	defer setPolling(false)
	for {
		select {
		case <-w.stop:
			return
		case ev := <-events:
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				setPolling(!w.watch()) // the watch went with the file
			}
		case <-errs:
		case <-tick:
			setPolling(!w.watch())
		}
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// close stops the watcher and waits for its goroutine.
func (w *sessionWatcher) close() {
	close(w.stop)
	<-w.done
	if w.fsw != nil {
		w.fsw.Close()
	}
}

// readSessions returns the remote login sessions now, and where they were
// read: utmp through gopsutil when the file exists, else logind's session
// files. Neither existing is not an error: there are no records to read.
func readSessions(ctx context.Context, cfg config.SSHConfig) (string, []session, error) {
	if _, err := os.Stat(cfg.Utmp); err == nil {
		// gopsutil reads $HOST_VAR/run/utmp (the config checks the suffix).
		hostVar := strings.TrimSuffix(cfg.Utmp, "/run/utmp")
		ctx = context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostVarEnvKey: hostVar})
		users, err := host.UsersWithContext(ctx)
		if err != nil {
			return cfg.Utmp, nil, fmt.Errorf("read utmp %s: %w", cfg.Utmp, err)
		}
		var out []session
		for _, u := range users {
			if isRemote(u.Host) {
				out = append(out, session{User: u.User, Host: u.Host, TTY: u.Terminal, Started: time.Unix(int64(u.Started), 0)})
			}
		}
		return cfg.Utmp, out, nil
	}
	ents, err := os.ReadDir(cfg.SessionsDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return cfg.SessionsDir, nil, fmt.Errorf("read logind sessions: %w", err)
	}
	var out []session
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.Contains(e.Name(), ".") {
			continue // NAME.ref are FIFOs; only NAME holds the session
		}
		s, remote, err := readLogindSession(filepath.Join(cfg.SessionsDir, e.Name()))
		if err != nil {
			continue // a session that ended while we read
		}
		if remote {
			out = append(out, s)
		}
	}
	return cfg.SessionsDir, out, nil
}

// isRemote tells a remote host from a local login (empty) or an X
// display (":0").
func isRemote(host string) bool { return host != "" && !strings.HasPrefix(host, ":") }

// readLogindSession reads one of systemd-logind's session files: KEY=value
// lines (USER, REMOTE, REMOTE_HOST, SERVICE, TTY, REALTIME in µs).
func readLogindSession(path string) (session, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return session{}, false, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	s := session{User: kv["USER"], Host: kv["REMOTE_HOST"], TTY: kv["TTY"]}
	if us, err := strconv.ParseInt(kv["REALTIME"], 10, 64); err == nil {
		s.Started = time.UnixMicro(us)
	}
	remote := kv["REMOTE"] == "1" || kv["SERVICE"] == "sshd"
	return s, remote, sc.Err()
}

// sessions is what the loop knows of login sessions: from sshd's log
// where it can be read, else from utmp or logind.
type sessions struct {
	source  string
	current []session // from utmp or logind
	log     logins    // from sshd's log
	logins  int
	read    bool // read at least once
	failed  bool // the last read failed (logged once)
}

// watchSessions starts the best source of SSH sessions there is: sshd's
// log (journal or syslog file), whose logins come on records, else the
// login records (utmp, logind), whose changes come on changed. The other
// channel is nil; stop ends the source.
func (d *Daemon) watchSessions(cfg config.SSHConfig) (changed <-chan struct{}, records <-chan []loginRecord, stop func()) {
	d.ssh.log.open = map[int]*baseline.Login{}
	src, err := openSSHDLog(cfg)
	if err != nil {
		d.log.Warn("sshd's journal not read", "err", err)
	}
	if src != nil {
		sl := newSSHDLog(src)
		d.ssh.source = src.name()
		d.metrics.EnableSSH()
		return nil, sl.records, sl.close
	}
	w := newSessionWatcher(cfg, d.log)
	d.log.Warn("no sshd log (no journald, no auth log): SSH sessions without a terminal are not seen, nor the accepted keys", "auth_logs", cfg.AuthLogs)
	return w.notify, nil, w.close
}

// refreshSessions reads the sessions, announces each new remote login,
// and updates the metrics. The sessions open when the daemon starts are
// announced as ssh_session, not counted as logins: a restart must not
// count the same login twice.
func (d *Daemon) refreshSessions(ctx context.Context) {
	src, now, err := readSessions(ctx, d.cfg.SSH)
	if err != nil {
		if !d.ssh.failed {
			d.log.Error("login sessions not read", "err", err)
		}
		d.ssh.failed = true
		return
	}
	d.ssh.failed = false
	if src == "" {
		if !d.ssh.read {
			d.log.Warn("no utmp file and no logind sessions: SSH logins are not seen", "utmp", d.cfg.SSH.Utmp, "sessions_dir", d.cfg.SSH.SessionsDir)
		}
		d.ssh.read = true
		return
	}
	d.metrics.EnableSSH()
	d.ssh.source = src
	event := EventSSHLogin
	if !d.ssh.read {
		event = EventSSHSession
	}
	var logins []session
	for _, s := range now {
		if slices.Contains(d.ssh.current, s) {
			continue
		}
		if d.ssh.read {
			d.ssh.logins++
			d.metrics.SSHLogins.Inc()
			logins = append(logins, s)
		}
		d.events.LogAttrs(context.Background(), slog.LevelWarn, string(event),
			slog.String("user", s.User), slog.String("remote_host", s.Host), slog.String("tty", s.TTY),
			slog.Time("started", s.Started), slog.String("baseline_id", d.baselineID()))
		d.remember(reporter.EventJSON{Time: time.Now(), Event: string(event), Login: sessionJSON(s)})
	}
	d.ssh.current, d.ssh.read = now, true
	d.metrics.SSHSessions.Set(float64(len(now)))
	for _, s := range logins {
		d.trip(policy.ForLogin(d.cfg.SSH.TaintOnLogin, s.User, s.Host)) // after the logins' events; only the first can trip the latch
	}
}

func sessionJSON(s session) *reporter.SessionJSON {
	return &reporter.SessionJSON{User: s.User, RemoteHost: s.Host, TTY: s.TTY, Started: s.Started}
}
