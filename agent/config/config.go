package config

import (
	_ "embed"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"driftd/agent/containers"
	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/reporter"
)

// Default is the embedded default configuration, the same file the
// packages install as /etc/driftd/driftd.toml.
//
//go:embed driftd.toml
var Default []byte

// PackagedPath is where the packages install the config: where a host, or
// an image, keeps it.
const PackagedPath = "/etc/driftd/driftd.toml"

// DefaultName is how errors name the embedded default.
const DefaultName = "<embedded default config>"

// Config is the whole config file. Each package owns and validates its
// sections; this type only puts them together.
type Config struct {
	baseline.Config
	Daemon     DaemonConfig           `toml:"daemon"`
	Watch      WatchConfig            `toml:"watch"`
	Schedule   ScheduleConfig         `toml:"schedule"`
	Web        reporter.WebConfig     `toml:"web"`
	Metrics    reporter.MetricsConfig `toml:"metrics"`
	SSH        SSHConfig              `toml:"ssh"`
	Policy     policy.Config          `toml:"policy"`
	FirstBoot  FirstBootConfig        `toml:"first_boot"`
	Containers containers.Config      `toml:"containers"`
}

// FirstBootConfig says when a host's first-boot paths are sealed.
type FirstBootConfig struct {
	// CloudInitTimeout bounds the wait for cloud-init to finish
	// (/var/lib/cloud/instance/boot-finished) where it is installed; past
	// it, the host is sealed all the same, and driftd says so.
	CloudInitTimeout baseline.Duration `toml:"cloud_init_timeout"`
}

// SSHConfig says where the daemon reads login sessions. Both paths are on
// the host the daemon runs on, not inside --root.
type SSHConfig struct {
	// Journal reads sshd's lines from the systemd journal where journald
	// runs: the best source, since journald records which process logged
	// each line, so no other process can forge a login.
	Journal bool `toml:"journal"`
	// AuthLogs are syslog files that hold sshd's lines, tried in order:
	// the first that exists is where logins are read, every session with
	// or without a terminal, with the accepted key. None existing: utmp,
	// then logind, which see only sessions with a terminal.
	AuthLogs []string `toml:"auth_logs"`
	// Utmp is the utmp file, read through gopsutil, which finds it as
	// $HOST_VAR/run/utmp: the path must end in /run/utmp.
	Utmp string `toml:"utmp"`
	// SessionsDir is systemd-logind's session folder, read where there is
	// no utmp file.
	SessionsDir string `toml:"sessions_dir"`
	// TaintOnLogin marks the host for replacement at the first remote login.
	TaintOnLogin bool `toml:"taint_on_login"`
}

// DaemonConfig is where the daemon keeps its state and its local socket.
type DaemonConfig struct {
	StateDir string `toml:"state_dir"`
	// Socket is the local API's unix socket. Empty: driftd.sock in
	// /run/driftd, or in the state dir when --state-dir is given.
	Socket string `toml:"socket"`
}

// WatchConfig tunes realtime watching.
type WatchConfig struct {
	Enabled bool `toml:"enabled"`
	// MaxDirectories caps the directories watched; 0 leaves the cap to the
	// kernel (fs.inotify.max_user_watches). Directories past the cap are
	// covered by the fast scan.
	MaxDirectories int `toml:"max_directories"`
	// Debounce coalesces a burst of events on a path into one re-check.
	Debounce baseline.Duration `toml:"debounce"`
	// Attribution names who made each change seen (process, user, SSH
	// login), with the best backend the kernel allows: eBPF, fanotify.
	Attribution bool `toml:"attribution"`
}

// ScheduleConfig sets the periodic scans. Each interval is stretched or
// shrunk by up to Jitter (a fraction) at random, so a fleet does not scan
// in lockstep.
type ScheduleConfig struct {
	FastInterval baseline.Duration `toml:"fast_interval"`
	FullInterval baseline.Duration `toml:"full_interval"`
	Jitter       float64           `toml:"jitter"`
	// FullScanBytesPerSecond limits a full scan's reading; 0: no limit.
	FullScanBytesPerSecond int64 `toml:"full_scan_bytes_per_second"`
}

// defaults are the values of the sections a config file may leave out.
func defaults() Config {
	return Config{
		Config:     baseline.Config{Packages: baseline.PackagesConfig{Severity: "high"}},
		SSH:        SSHConfig{Journal: true, AuthLogs: []string{"/var/log/auth.log", "/var/log/secure"}, Utmp: "/var/run/utmp", SessionsDir: "/run/systemd/sessions"},
		Policy:     policy.Default(),
		FirstBoot:  FirstBootConfig{CloudInitTimeout: baseline.Duration{Duration: 30 * time.Minute}},
		Daemon:     DaemonConfig{StateDir: "/var/lib/driftd"},
		Watch:      WatchConfig{Enabled: true, Debounce: baseline.Duration{Duration: 50 * time.Millisecond}},
		Schedule:   ScheduleConfig{FastInterval: baseline.Duration{Duration: 10 * time.Minute}, FullInterval: baseline.Duration{Duration: 24 * time.Hour}, Jitter: 0.2},
		Web:        reporter.WebConfig{ListenAddress: DefaultListenAddress},
		Containers: containers.Default(),
	}
}

// DefaultListenAddress is where /metrics and /healthz listen by default.
const DefaultListenAddress = ":9827"

func (c *Config) validate() error {
	if c.Watch.MaxDirectories < 0 {
		return fmt.Errorf("watch.max_directories is %d: want 0 (the kernel's limit) or more", c.Watch.MaxDirectories)
	}
	if c.Watch.Debounce.Duration < 0 || c.Watch.Debounce.Duration > 10*time.Second {
		return fmt.Errorf("watch.debounce is %s: want 0 to 10s", c.Watch.Debounce)
	}
	if c.Schedule.FastInterval.Duration < time.Second || c.Schedule.FullInterval.Duration < time.Second {
		return fmt.Errorf("schedule intervals must be at least 1s (fast %s, full %s)", c.Schedule.FastInterval, c.Schedule.FullInterval)
	}
	if c.Schedule.Jitter < 0 || c.Schedule.Jitter >= 1 {
		return fmt.Errorf("schedule.jitter is %g: want a fraction from 0 to below 1", c.Schedule.Jitter)
	}
	if c.Schedule.FullScanBytesPerSecond < 0 {
		return fmt.Errorf("schedule.full_scan_bytes_per_second is %d: want 0 (no limit) or more", c.Schedule.FullScanBytesPerSecond)
	}
	if !strings.HasSuffix(c.SSH.Utmp, "/run/utmp") {
		return fmt.Errorf("ssh.utmp is %q: want a path ending in /run/utmp (gopsutil reads $HOST_VAR/run/utmp)", c.SSH.Utmp)
	}
	if !strings.HasPrefix(c.SSH.SessionsDir, "/") {
		return fmt.Errorf("ssh.sessions_dir is %q: want an absolute path", c.SSH.SessionsDir)
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if c.FirstBoot.CloudInitTimeout.Duration <= 0 {
		return fmt.Errorf("first_boot.cloud_init_timeout is %s: want a positive duration", c.FirstBoot.CloudInitTimeout)
	}
	if c.Daemon.StateDir == "" {
		return fmt.Errorf("daemon.state_dir is empty")
	}
	return c.Metrics.Validate()
}

// Loaded is a config that decoded and validated, with what it compiles to.
type Loaded struct {
	Config
	Name  string // the file it came from: the last layer
	Rules *baseline.Rules
	// ContainerRules say what counts as drift in a container.
	ContainerRules *baseline.Rules
	// Layers are the files it was put together from, in order, and
	// Origins says which of them set each key ("policy.min_severity") and
	// each rule ("rule.3"), for `driftd config show`.
	Layers  []string
	Origins map[string]string
}

// Parse decodes one config file strictly over the built-in defaults: an
// unknown key or a value of the wrong type is an error that names the
// file, the line and the key.
func Parse(data []byte, name string) (*Loaded, error) {
	c := defaults()
	l := &Loaded{Origins: map[string]string{}}
	if err := decodeLayer(&c, l, data, name); err != nil {
		return nil, err
	}
	return l.finish(c)
}

// decodeLayer decodes one file onto c: the keys it sets replace those
// before it, and its [[rule]] tables come after the rules before it. A
// file whose rules begin with exactly the rules so far (the packaged
// config, a copy of the embedded default, perhaps with rules added at its
// end) restates those and adds only the rest.
func decodeLayer(c *Config, l *Loaded, data []byte, name string) error {
	before := c.Rules
	c.Rules = nil
	md, err := toml.Decode(string(data), c)
	if err != nil {
		c.Rules = before
		line, key, msg := decodeError(err)
		switch {
		case key != "":
			line = typeErrorLine(data, strings.Split(key, "."), line)
			return fmt.Errorf("config %s: line %d: key %s: %s", name, line, escapeLines(key), escapeLines(msg))
		case line > 0:
			return fmt.Errorf("config %s: line %d: %s", name, line, escapeLines(msg))
		}
		return fmt.Errorf("config %s: %s", name, escapeLines(msg))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		if line := keyLine(data, k); line > 0 {
			return fmt.Errorf("config %s: line %d: unknown key %s", name, line, escapeLines(k.String()))
		}
		return fmt.Errorf("config %s: unknown key %s", name, escapeLines(k.String()))
	}
	added := c.Rules
	if len(added) >= len(before) && len(before) > 0 && reflect.DeepEqual(added[:len(before)], before) {
		added = added[len(before):]
	}
	c.Rules = append(slices.Clip(before), added...)
	for i := range added {
		l.Origins[fmt.Sprintf("rule.%d", len(before)+i)] = name
	}
	for _, k := range md.Keys() {
		if k[0] != "rule" {
			l.Origins[k.String()] = name
		}
	}
	l.Layers = append(l.Layers, name)
	l.Name = name
	return nil
}

// finish validates the put-together config and compiles its rules.
func (l *Loaded) finish(c Config) (*Loaded, error) {
	rules, err := c.Config.Validate()
	if err == nil {
		err = c.validate()
	}
	var containerRules *baseline.Rules
	if err == nil {
		containerRules, err = c.Containers.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %s", strings.Join(l.Layers, " + "), escapeLines(err.Error()))
	}
	l.Config, l.Rules, l.ContainerRules = c, rules, containerRules
	return l, nil
}

// typeError is how the TOML library words a value of the wrong type.
var typeError = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "(.*?)"\): (.*)$`)

// decodeError takes the line, key and message out of a TOML error: a
// ParseError for syntax, a plain error in typeError's form for types.
func decodeError(err error) (line int, key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line, pe.LastKey, pe.Message
	}
	if m := typeError.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2], m[3]
	}
	return 0, "", err.Error()
}

// escapeLines keeps an error on one line: the TOML library may quote raw
// input, newlines included, in its messages.
func escapeLines(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// keyDef is one line that defines a key, with the table header above it.
type keyDef struct {
	line   int
	header string
	text   string
}

// keyDefs finds the lines that define key, for error messages: the TOML
// library keeps positions of unknown keys to itself, and for a key in an
// array of tables it reports the last definition. It follows [table] and
// [[array]] headers and matches "name =" or "name." within the key's table;
// a header that is the key itself counts too.
func keyDefs(data []byte, key toml.Key) []keyDef {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	var defs []keyDef
	table, header := "", ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			h := strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t")
			if h == key.String() {
				defs = append(defs, keyDef{line: i + 1})
			}
			table, header = h, t
			continue
		}
		if table != parent {
			continue
		}
		for _, name := range []string{last, `"` + last + `"`} {
			if rest, ok := strings.CutPrefix(t, name); ok {
				rest = strings.TrimSpace(rest)
				if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
					defs = append(defs, keyDef{line: i + 1, header: header, text: t})
				}
			}
		}
	}
	return defs
}

// keyLine is the first line that defines key, or 0.
func keyLine(data []byte, key toml.Key) int {
	if defs := keyDefs(data, key); len(defs) > 0 {
		return defs[0].line
	}
	return 0
}

// typeErrorLine finds which definition of key holds a value of the wrong
// type, by decoding each one alone under its table header. It falls back to
// the library's line.
func typeErrorLine(data []byte, key toml.Key, reported int) int {
	for _, d := range keyDefs(data, key) {
		var c Config
		_, err := toml.Decode(d.header+"\n"+d.text+"\n", &c)
		if err == nil {
			continue
		}
		if _, k, _ := decodeError(err); k == key.String() {
			return d.line
		}
	}
	return reported
}
