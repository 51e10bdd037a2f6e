package containers

import (
	"fmt"
	"strings"
	"time"

	"driftd/agent/policy"
	"driftd/baseline"
)

// Config is the [containers] section.
type Config struct {
	// Enabled watches every container found; with no overlay root in the
	// mount table there is nothing to watch and it costs nothing.
	Enabled bool `toml:"enabled"`
	// MountInfo is the mount table read for overlay roots, and HostRoot
	// where the host's paths are seen from here: "/" on the host, and
	// /proc/1/mountinfo with /proc/1/root for a daemon in a container that
	// shares the host's PID namespace.
	MountInfo string `toml:"mountinfo"`
	HostRoot  string `toml:"host_root"`
	// Interval bounds how long a container that started or stopped goes
	// unnoticed; a change of the mount table is seen at once.
	Interval baseline.Duration `toml:"interval"`
	// Severity is that of every path added, changed or removed in a
	// container; ExecutableSeverity that of an executable added, made
	// executable or changed.
	Severity           string `toml:"severity"`
	ExecutableSeverity string `toml:"executable_severity"`
	// Ignore lists the paths the runtime writes (patterns as in [[rule]]).
	Ignore []string `toml:"ignore"`
	// MinSeverity: a container with drift at this severity or above is
	// marked for replacement and the hook runs for it; "none": never.
	MinSeverity string            `toml:"min_severity"`
	Hook        policy.HookConfig `toml:"hook"`
	// TrustedKeys are the public keys (host paths) a baseline baked in an
	// image must be signed with. Empty: the key the image ships verifies
	// it, which proves the manifest and rules are as baked, not who baked
	// them.
	TrustedKeys []string `toml:"trusted_keys"`
	// FirstBoot is how long after a container starts its baked baseline's
	// first-boot paths may change (an entrypoint writing its config); they
	// are compared with their state at its end from then on.
	FirstBoot baseline.Duration `toml:"first_boot"`
}

// Default is the section's value when the config leaves it out.
func Default() Config {
	return Config{
		Enabled:            true,
		MountInfo:          "/proc/self/mountinfo",
		HostRoot:           "/",
		Interval:           baseline.Duration{Duration: 2 * time.Second},
		Severity:           "high",
		ExecutableSeverity: "critical",
		Ignore: []string{
			"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/.dockerenv",
			"/dev/**", "/proc/**", "/sys/**", "/tmp/**", "/var/run/**", "/run/**",
		},
		MinSeverity: "critical",
		Hook:        policy.Default().Hook,
		FirstBoot:   baseline.Duration{Duration: time.Minute},
	}
}

// Validate checks the section and compiles what counts as drift.
func (c *Config) Validate() (*baseline.Rules, error) {
	if !strings.HasPrefix(c.MountInfo, "/") || !strings.HasPrefix(c.HostRoot, "/") {
		return nil, fmt.Errorf("containers.mountinfo and containers.host_root must be absolute paths (%q, %q)", c.MountInfo, c.HostRoot)
	}
	if c.Interval.Duration < 100*time.Millisecond {
		return nil, fmt.Errorf("containers.interval is %s: want at least 100ms", c.Interval)
	}
	for _, k := range c.TrustedKeys {
		if !strings.HasPrefix(k, "/") {
			return nil, fmt.Errorf("containers.trusted_keys: %q is not an absolute path", k)
		}
	}
	if c.FirstBoot.Duration < 0 {
		return nil, fmt.Errorf("containers.first_boot is %s: want 0 or more", c.FirstBoot)
	}
	if _, err := baseline.ParseSeverity(c.ExecutableSeverity); err != nil {
		return nil, fmt.Errorf("containers.executable_severity: %w", err)
	}
	if c.MinSeverity != "none" {
		if _, err := baseline.ParseSeverity(c.MinSeverity); err != nil {
			return nil, fmt.Errorf("containers.min_severity: %w (or \"none\")", err)
		}
	}
	hook := policy.Config{MinSeverity: "none", Hook: c.Hook}
	if err := hook.Validate(); err != nil {
		return nil, fmt.Errorf("containers.%s", strings.TrimPrefix(err.Error(), "policy."))
	}
	rules, err := c.compile([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "container", Severity: c.Severity}})
	if err != nil {
		return nil, fmt.Errorf("containers: %w", err)
	}
	return rules, nil
}

// compile compiles what counts as drift in a container: tables, then the
// ignores, which the runtime writes whatever the tables say.
func (c *Config) compile(tables []baseline.RuleConfig) (*baseline.Rules, error) {
	if len(c.Ignore) > 0 {
		tables = append(tables[:len(tables):len(tables)], baseline.RuleConfig{Paths: c.Ignore, Ignore: true})
	}
	return baseline.CompileRules(tables)
}

// taints reports whether drift at sev marks a container for replacement.
func (c *Config) taints(sev baseline.Severity) bool {
	if c.MinSeverity == "none" {
		return false
	}
	min, _ := baseline.ParseSeverity(c.MinSeverity)
	return sev >= min
}
