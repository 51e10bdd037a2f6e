package baseline

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// SSHCategory and SSHSeverity are what the SSH paths derived from a root
// are reported as: SSH material is how people change hosts by hand.
const (
	SSHCategory = "ssh"
	SSHSeverity = "critical"
)

// DriftdCategory is the category of findings about driftd itself (its
// binary, units, config, key, baseline and state): always critical.
const DriftdCategory = "driftd"

// CanonicalPatterns cleans a list of path patterns, drops those no glob
// can express (the fixed rules still apply to them), sorts it, and drops
// duplicates and patterns a "dir/**" in the list covers: fewer patterns,
// faster matching.
func CanonicalPatterns(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = path.Clean(p)
		if _, err := compilePattern(p); err == nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return dropCovered(slices.Compact(out))
}

// dropCovered removes patterns that a "dir/**" pattern in the list
// already covers: fewer patterns, faster matching.
func dropCovered(sorted []string) []string {
	var trees []string
	for _, p := range sorted {
		if strings.HasSuffix(p, "/**") && !strings.ContainsAny(strings.TrimSuffix(p, "/**"), "*?") {
			trees = append(trees, strings.TrimSuffix(p, "**"))
		}
	}
	out := sorted[:0]
	for _, p := range sorted {
		covered := false
		for _, t := range trees {
			if strings.HasPrefix(p, t) && p != t+"**" {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

// WithSSH returns the rules with the SSH paths appended as rules of
// category ssh and severity critical. They come last, so they win over
// any ignore; the digest stays that of the configured rules, since the
// paths are derived from the tree itself.
func (rs *Rules) WithSSH(paths []string) (*Rules, error) {
	return rs.withDerived(paths, SSHCategory, SSHSeverity)
}

// SelfPaths are driftd's own files in a root: its binary, its units and
// their drop-ins, its config and drop-ins, and the key that verifies the
// baseline (publicKey, from the config). Not the baseline itself: a host
// is pinned to its baseline (see baseline/check), and the manifest cannot
// record itself.
func SelfPaths(publicKey string) []string {
	paths := []string{
		"/usr/bin/driftd", "/usr/sbin/driftd", "/usr/local/bin/driftd",
		"/usr/lib/systemd/system/driftd*", "/lib/systemd/system/driftd*",
		"/etc/systemd/system/driftd*", "/etc/systemd/system/driftd*/**", "/etc/systemd/system/*.wants/driftd*",
		"/etc/driftd/driftd.toml", "/etc/driftd/driftd.d/**",
	}
	if publicKey != "" {
		paths = append(paths, RootPath(publicKey))
	}
	return CanonicalPatterns(paths)
}

// WithSelf returns the rules with driftd's own paths (SelfPaths) appended
// as rules of category driftd and severity critical: last of all, so no
// ignore hides them.
func (rs *Rules) WithSelf(paths []string) (*Rules, error) {
	return rs.withDerived(paths, DriftdCategory, "critical")
}

// withDerived appends rules of one category and severity for paths
// derived from the tree or from driftd itself; the digest stays that of
// the configured rules.
func (rs *Rules) withDerived(paths []string, category, severity string) (*Rules, error) {
	if len(paths) == 0 {
		return rs, nil
	}
	extra, err := CompileRules([]RuleConfig{{Paths: paths, Category: category, Severity: severity}})
	if err != nil {
		return nil, fmt.Errorf("%s paths: %w", category, err)
	}
	out := &Rules{
		rules:     slices.Clone(rs.rules),
		patterns:  slices.Clone(rs.patterns),
		firstBoot: rs.firstBoot,
		diff:      rs.diff,
		digest:    rs.digest,
	}
	for i, r := range extra.rules {
		r.index = len(out.rules)
		out.rules = append(out.rules, r)
		out.patterns = append(out.patterns, extra.patterns[i])
	}
	out.index()
	return out, nil
}

// MergeSSHPaths is the union of two lists of SSH paths: those recorded at
// bake time and those derived now, so that neither a user removed since
// nor one added hides its keys.
func MergeSSHPaths(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return dropCovered(slices.Compact(out))
}
