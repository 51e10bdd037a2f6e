package agent

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"driftd/baseline"
	"driftd/reporter"
)

// DefaultConfig is the embedded default configuration, the same file the
// packages install as /etc/driftd/driftd.toml.
//
//go:embed driftd.toml
var DefaultConfig []byte

// DefaultConfigName is how errors name the embedded default.
const DefaultConfigName = "<embedded default config>"

// Config is the whole config file. Each package owns and validates its
// sections; this type only puts them together.
type Config struct {
	baseline.Config
	Daemon    DaemonConfig           `toml:"daemon"`
	Watch     WatchConfig            `toml:"watch"`
	Schedule  ScheduleConfig         `toml:"schedule"`
	Web       reporter.WebConfig     `toml:"web"`
	Metrics   reporter.MetricsConfig `toml:"metrics"`
	SSH       SSHConfig              `toml:"ssh"`
	Policy    PolicyConfig           `toml:"policy"`
	FirstBoot FirstBootConfig        `toml:"first_boot"`
}

// PolicyConfig says which drift marks the host for replacement (the taint
// latch) and what is done then. Drift taints when its severity is at
// least MinSeverity, or its category is listed.
type PolicyConfig struct {
	// MinSeverity: drift at this severity or above taints; "none" turns
	// severity off (categories, packages and logins still apply).
	MinSeverity string `toml:"min_severity"`
	// Categories: drift in these categories taints whatever its severity.
	Categories []string `toml:"categories"`
	// Packages: any package added, removed or changed taints.
	Packages bool `toml:"packages"`
	// MarkerFile is written while the host is tainted; empty: none.
	MarkerFile string     `toml:"marker_file"`
	Hook       HookConfig `toml:"hook"`
}

// HookConfig is a command run once when the host is tainted, such as an
// autoscaling set-instance-health call. It gets no shell: Command is the
// argv. A failed or timed-out run is retried with a doubling backoff.
type HookConfig struct {
	Command []string `toml:"command"`
	Timeout duration `toml:"timeout"`
	Retries int      `toml:"retries"`
	Backoff duration `toml:"backoff"`
}

// FirstBootConfig says when a host's first-boot paths are sealed.
type FirstBootConfig struct {
	// CloudInitTimeout bounds the wait for cloud-init to finish
	// (/var/lib/cloud/instance/boot-finished) where it is installed; past
	// it, the host is sealed all the same, and driftd says so.
	CloudInitTimeout duration `toml:"cloud_init_timeout"`
}

// SSHConfig says where the daemon reads login sessions. Both paths are on
// the host the daemon runs on, not inside --root.
type SSHConfig struct {
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
	Debounce duration `toml:"debounce"`
}

// ScheduleConfig sets the periodic scans. Each interval is stretched or
// shrunk by up to Jitter (a fraction) at random, so a fleet does not scan
// in lockstep.
type ScheduleConfig struct {
	FastInterval duration `toml:"fast_interval"`
	FullInterval duration `toml:"full_interval"`
	Jitter       float64  `toml:"jitter"`
	// FullScanBytesPerSecond limits a full scan's reading; 0: no limit.
	FullScanBytesPerSecond int64 `toml:"full_scan_bytes_per_second"`
}

// duration is a time.Duration written as "10m" in the config.
type duration struct{ time.Duration }

// UnmarshalText reads a duration such as "50ms" or "10m".
func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration such as 90s or 10m: %q", b)
	}
	d.Duration = v
	return nil
}

// defaults are the values of the sections a config file may leave out.
func defaults() Config {
	return Config{
		Config: baseline.Config{Packages: baseline.PackagesConfig{Severity: "high"}},
		SSH:    SSHConfig{Utmp: "/var/run/utmp", SessionsDir: "/run/systemd/sessions"},
		Policy: PolicyConfig{
			MinSeverity: "critical",
			Hook:        HookConfig{Timeout: duration{30 * time.Second}, Retries: 5, Backoff: duration{2 * time.Second}},
		},
		FirstBoot: FirstBootConfig{CloudInitTimeout: duration{30 * time.Minute}},
		Daemon:    DaemonConfig{StateDir: "/var/lib/driftd"},
		Watch:     WatchConfig{Enabled: true, Debounce: duration{50 * time.Millisecond}},
		Schedule:  ScheduleConfig{FastInterval: duration{10 * time.Minute}, FullInterval: duration{24 * time.Hour}, Jitter: 0.2},
		Web:       reporter.WebConfig{ListenAddress: DefaultListenAddress},
	}
}

// Taints reports whether drift of the given category and severity marks
// the host for replacement.
func (p *PolicyConfig) Taints(category string, sev baseline.Severity) bool {
	if slices.Contains(p.Categories, category) {
		return true
	}
	if p.MinSeverity == "none" {
		return false
	}
	min, _ := baseline.ParseSeverity(p.MinSeverity)
	return sev >= min
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
	if c.Policy.MinSeverity != "none" {
		if _, err := baseline.ParseSeverity(c.Policy.MinSeverity); err != nil {
			return fmt.Errorf("policy.min_severity: %w (or \"none\")", err)
		}
	}
	if h := c.Policy.Hook; len(h.Command) > 0 && (h.Command[0] == "" || !strings.HasPrefix(h.Command[0], "/")) {
		return fmt.Errorf("policy.hook.command[0] is %q: want an absolute path (the hook runs without a shell or PATH lookup)", h.Command[0])
	}
	if h := c.Policy.Hook; h.Timeout.Duration <= 0 || h.Retries < 0 || h.Backoff.Duration < 0 {
		return fmt.Errorf("policy.hook: timeout must be positive, retries and backoff 0 or more (timeout %s, retries %d, backoff %s)", h.Timeout, h.Retries, h.Backoff)
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
	Name  string // the file it came from
	Rules *baseline.Rules
}

// LoadConfig reads the config at path, or the embedded default when path is
// empty.
func LoadConfig(path string) (*Loaded, error) {
	if path == "" {
		return ParseConfig(DefaultConfig, DefaultConfigName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes a config strictly: an unknown key or a value of the
// wrong type is an error that names the file, the line and the key.
func ParseConfig(data []byte, name string) (*Loaded, error) {
	c := defaults()
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		line, key, msg := decodeError(err)
		switch {
		case key != "":
			line = typeErrorLine(data, strings.Split(key, "."), line)
			return nil, fmt.Errorf("config %s: line %d: key %s: %s", name, line, escapeLines(key), escapeLines(msg))
		case line > 0:
			return nil, fmt.Errorf("config %s: line %d: %s", name, line, escapeLines(msg))
		}
		return nil, fmt.Errorf("config %s: %s", name, escapeLines(msg))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		if line := keyLine(data, k); line > 0 {
			return nil, fmt.Errorf("config %s: line %d: unknown key %s", name, line, escapeLines(k.String()))
		}
		return nil, fmt.Errorf("config %s: unknown key %s", name, escapeLines(k.String()))
	}
	rules, err := c.Config.Validate()
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %s", name, escapeLines(err.Error()))
	}
	return &Loaded{Config: c, Name: name, Rules: rules}, nil
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
