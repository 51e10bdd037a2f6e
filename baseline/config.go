package baseline

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Config is what the baseline package reads from the config file: where the
// baseline lives, how to walk, and the rules.
type Config struct {
	Baseline FilesConfig    `toml:"baseline"`
	Scan     ScanConfig     `toml:"scan"`
	Packages PackagesConfig `toml:"packages"`
	Rules    []RuleConfig   `toml:"rule"`
}

// PackagesConfig says how package drift is reported.
type PackagesConfig struct {
	// Severity of a package added, removed or changed since the bake.
	Severity string `toml:"severity"`
}

// FilesConfig locates the signed baseline and the key that verifies it.
// Both paths are inside the root being checked.
type FilesConfig struct {
	Path      string `toml:"path"`
	PublicKey string `toml:"public_key"`
}

// ScanConfig tunes the walker.
type ScanConfig struct {
	// Workers bounds the stat and hash pool; 0 means one per CPU core.
	Workers int `toml:"workers"`
	// CrossFilesystems lets the walk descend into other mounted filesystems.
	CrossFilesystems bool `toml:"cross_filesystems"`
}

// Validate checks the section and compiles its rules.
func (c *Config) Validate() (*Rules, error) {
	if c.Baseline.Path == "" {
		return nil, fmt.Errorf("baseline.path is empty")
	}
	if c.Scan.Workers < 0 {
		return nil, fmt.Errorf("scan.workers is %d: want 0 (one per core) or more", c.Scan.Workers)
	}
	if _, err := ParseSeverity(c.Packages.Severity); err != nil {
		return nil, fmt.Errorf("packages.severity: %w", err)
	}
	if len(c.Rules) == 0 {
		return nil, fmt.Errorf("no [[rule]] tables: nothing is in scope")
	}
	return CompileRules(c.Rules)
}

// WorkerCount is the size of the walker's pool.
func (c *ScanConfig) WorkerCount() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.NumCPU()
}

// PackageSeverity is the severity of package findings (Validate has
// checked it).
func (c *Config) PackageSeverity() Severity {
	s, _ := ParseSeverity(c.Packages.Severity)
	return s
}

// Duration is a time.Duration written as "10m" in the config.
type Duration struct{ time.Duration }

// UnmarshalText reads a duration such as "50ms" or "10m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration such as 90s or 10m: %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as the config does ("10m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// RootPath is a path the config names inside the root, as findings name
// paths: led by one "/".
func RootPath(p string) string { return "/" + strings.TrimPrefix(p, "/") }
