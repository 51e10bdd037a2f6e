package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"driftd/baseline"
)

// Config is the [policy] section: which drift taints, and what is done
// then. Drift taints when its severity is at least MinSeverity, or its
// category is listed.
type Config struct {
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
	Command []string          `toml:"command"`
	Timeout baseline.Duration `toml:"timeout"`
	Retries int               `toml:"retries"`
	Backoff baseline.Duration `toml:"backoff"`
}

// Default is the section's value when the config leaves it out.
func Default() Config {
	return Config{
		MinSeverity: "critical",
		Hook:        HookConfig{Timeout: baseline.Duration{Duration: 30 * time.Second}, Retries: 5, Backoff: baseline.Duration{Duration: 2 * time.Second}},
	}
}

// Validate checks the section.
func (p *Config) Validate() error {
	if p.MinSeverity != "none" {
		if _, err := baseline.ParseSeverity(p.MinSeverity); err != nil {
			return fmt.Errorf("policy.min_severity: %w (or \"none\")", err)
		}
	}
	if h := p.Hook; len(h.Command) > 0 && (h.Command[0] == "" || !strings.HasPrefix(h.Command[0], "/")) {
		return fmt.Errorf("policy.hook.command[0] is %q: want an absolute path (the hook runs without a shell or PATH lookup)", h.Command[0])
	}
	if h := p.Hook; h.Timeout.Duration <= 0 || h.Retries < 0 || h.Backoff.Duration < 0 {
		return fmt.Errorf("policy.hook: timeout must be positive, retries and backoff 0 or more (timeout %s, retries %d, backoff %s)", h.Timeout, h.Retries, h.Backoff)
	}
	return nil
}

// HostMarker is the default config's marker file: the host's own, where
// fleet tooling on the host looks.
const HostMarker = "/run/driftd/replacement-required"

// ForRoot is the policy for a daemon or check of root. The paths driftd
// writes (marker, state, socket) are host paths; a root other than "/"
// (an image, a container) never writes the host's marker: only a marker
// the config names for it.
func (p Config) ForRoot(root string) Config {
	if root != "/" && p.MarkerFile == HostMarker {
		p.MarkerFile = ""
	}
	return p
}

// Taints reports whether drift of the given category and severity marks
// the host for replacement.
func (p *Config) Taints(category string, sev baseline.Severity) bool {
	if slices.Contains(p.Categories, category) {
		return true
	}
	if p.MinSeverity == "none" {
		return false
	}
	min, _ := baseline.ParseSeverity(p.MinSeverity)
	return sev >= min
}
