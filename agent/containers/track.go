package containers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"driftd/agent/policy"
	"driftd/baseline"
	"driftd/baseline/overlay"
	"driftd/reporter"
)

// container is one watched container and its findings.
type container struct {
	id        reporter.Container
	mount     Mount
	differ    overlay.Differ
	found     time.Time
	findings  map[string]*tracked // by path
	dirty     map[string]bool     // paths changed since the last recheck
	reason    string              // why its upper directory could not be read: not clean
	unwatched bool                // a directory could not be watched: walked at each discovery
	// baked is the verified baseline baked in its image, whose rules judge
	// it; bakedErr why one it has cannot be used (it is then unverified).
	baked     *Baked
	bakedErr  string
	firstBoot *firstBoot                  // nil unless baked
	pending   map[string]baseline.Finding // first-boot paths changed while open
	// tainted is when drift at the policy's severity marked it for
	// replacement; cancelHook stops its hook.
	tainted    *time.Time
	cancelHook context.CancelFunc
}

// tracked is a finding the monitor holds, with when it was first seen.
type tracked struct {
	finding   baseline.Finding
	firstSeen time.Time
}

func newContainer(id reporter.Container, mt Mount, rules *baseline.Rules, now time.Time) *container {
	return &container{
		id: id, mount: mt, found: now,
		differ:   overlay.Differ{Layers: mt.Layers, Rules: rules, Workers: 1},
		findings: map[string]*tracked{}, dirty: map[string]bool{}, pending: map[string]baseline.Finding{},
	}
}

// unverified says why c's drift cannot be known in full, or "".
func (c *container) unverified() string {
	var why []string
	for _, r := range []string{c.bakedErr, c.reason} {
		if r != "" {
			why = append(why, r)
		}
	}
	if c.firstBoot != nil && c.firstBoot.unsealed && len(c.pending) > 0 {
		why = append(why, fmt.Sprintf("%d first-boot paths changed from the image and its first boot ended while driftd was not running: they cannot be verified", len(c.pending)))
	}
	return strings.Join(why, "; ")
}

// findingsOf judges changes as findings: executables at their own
// severity, in the category "executable".
func (c *Config) findingsOf(changes []overlay.Change) []baseline.Finding {
	execSev, _ := baseline.ParseSeverity(c.ExecutableSeverity)
	out := make([]baseline.Finding, 0, len(changes))
	for _, ch := range changes {
		rule := ch.Rule
		if ch.Executable {
			r := *ch.Rule
			r.Category, r.Severity = "executable", execSev
			rule = &r
		}
		out = append(out, baseline.Finding{Path: ch.Path, Kind: ch.Kind, Changes: ch.Changes, Rule: rule, Before: ch.Before, After: ch.After})
	}
	return out
}

// judge turns the changes found at and below scope into c's findings,
// and keeps the first-boot paths not to be judged yet as pending. The
// caller holds the monitor's lock, or c is its own.
func (c *container) judge(cfg *Config, changes []overlay.Change, scope string) []baseline.Finding {
	findings, pending := c.judgeFirstBoot(cfg.findingsOf(changes), scope)
	for p := range c.pending {
		if within(p, scope) {
			delete(c.pending, p)
		}
	}
	for _, f := range pending {
		c.pending[f.Path] = f
	}
	return findings
}

// apply takes the changes found at and below scope into c's findings,
// announcing each that appeared, changed or went. err is the walk's: the
// container is then unverified, never clean.
func (m *Monitor) apply(c *container, scope string, changes []overlay.Change, err error, foundBy string) {
	now := time.Now()
	type announce struct {
		event string
		f     baseline.Finding
		first time.Time
	}
	var out []announce
	m.mu.Lock()
	wasReason := c.unverified()
	if err != nil {
		c.reason = fmt.Sprintf("cannot read its upper directory: %v", err)
	} else if scope == "/" {
		c.reason = ""
	}
	if err == nil {
		seen := map[string]bool{}
		for _, f := range c.judge(&m.cfg, changes, scope) {
			seen[f.Path] = true
			old := c.findings[f.Path]
			switch {
			case old == nil:
				c.findings[f.Path] = &tracked{finding: f, firstSeen: now}
				out = append(out, announce{"drift", f, now})
			case !sameFinding(&old.finding, &f):
				old.finding = f
				out = append(out, announce{"changed", f, old.firstSeen})
			}
		}
		for p, t := range c.findings {
			if !seen[p] && within(p, scope) {
				delete(c.findings, p)
				out = append(out, announce{"reverted", t.finding, t.firstSeen})
			}
		}
	}
	reason := c.unverified()
	m.mu.Unlock()

	if reason != "" && reason != wasReason {
		m.event(slog.LevelWarn, "container_unverified", c, slog.String("reason", reason))
	}
	slices.SortFunc(out, func(a, b announce) int { return strings.Compare(a.f.Path, b.f.Path) })
	for _, a := range out {
		attrs := findingAttrs(&a.f, a.first)
		level := slog.LevelWarn
		if a.event == "reverted" {
			level = slog.LevelInfo
		} else {
			attrs = append(attrs, slog.String("found_by", foundBy))
		}
		m.event(level, a.event, c, attrs...)
		if a.event != "reverted" && m.cfg.taints(a.f.Rule.Severity) {
			m.taint(c, &a.f, now)
		}
	}
	m.export(c)
}

// within reports whether path is scope or lies below it.
func within(path, scope string) bool {
	return scope == "/" || path == scope || strings.HasPrefix(path, scope+"/")
}

// sameFinding reports whether b says what a said: the same kind, the
// same differences, the same state now in what its rule compares.
func sameFinding(a, b *baseline.Finding) bool {
	if a.Kind != b.Kind || a.Changes != b.Changes || a.Rule.Severity != b.Rule.Severity || (a.After == nil) != (b.After == nil) {
		return false
	}
	return a.After == nil || a.After.Diff(b.After, b.Rule.Attrs&overlay.Compared) == 0 && a.After.Err == b.After.Err
}

// taint marks c for replacement at the first finding that asks for it,
// and runs the hook for it.
func (m *Monitor) taint(c *container, f *baseline.Finding, now time.Time) {
	m.mu.Lock()
	if c.tainted != nil {
		m.mu.Unlock()
		return
	}
	c.tainted = &now
	m.mu.Unlock()
	m.save(c)
	reason := fmt.Sprintf("%s %s (%s, %s)", f.Kind, f.Path, f.Rule.Category, f.Rule.Severity)
	m.event(slog.LevelError, "container_taint", c, slog.String("reason", reason))
	if len(m.cfg.Hook.Command) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.mu.Lock()
	c.cancelHook = cancel
	m.mu.Unlock()
	env := append(os.Environ(), hookEnv(c.id)...)
	env = append(env, "DRIFTD_REASON="+reason, "DRIFTD_PATH="+f.Path, "DRIFTD_CATEGORY="+f.Rule.Category, "DRIFTD_SEVERITY="+f.Rule.Severity.String())
	m.hooks.Go(func() {
		defer cancel()
		policy.RunHook(ctx, m.cfg.Hook, env, 0, func(a policy.Attempt) bool {
			m.metrics.HookRuns.WithLabelValues(a.Outcome).Inc()
			m.event(slog.LevelInfo, "container_hook", c, slog.Int("attempt", a.N), slog.String("outcome", a.Outcome), slog.String("detail", a.Detail))
			return true
		})
	})
}

// hookEnv is the container's identity for its hook.
func hookEnv(id reporter.Container) []string {
	return []string{
		"DRIFTD_CONTAINER_ID=" + id.ID, "DRIFTD_CONTAINER_NAME=" + id.Name, "DRIFTD_CONTAINER_RUNTIME=" + id.Runtime,
		"DRIFTD_CONTAINER_IMAGE=" + id.Image, "DRIFTD_CONTAINER_IMAGE_DIGEST=" + id.ImageDigest,
		"DRIFTD_CONTAINER_POD=" + id.Pod, "DRIFTD_CONTAINER_NAMESPACE=" + id.Namespace,
	}
}

// export sets c's series from its findings: one per severity it has
// drift at, none at 0.
func (m *Monitor) export(c *container) {
	m.mu.Lock()
	counts := map[baseline.Severity]int{}
	for _, t := range c.findings {
		counts[t.finding.Rule.Severity]++
	}
	id, reason, tainted := c.id, c.unverified(), c.tainted != nil
	m.mu.Unlock()
	label := id.Label()
	for s := baseline.SeverityInfo; s <= baseline.SeverityCritical; s++ {
		if n := counts[s]; n > 0 {
			m.metrics.DriftPaths.WithLabelValues(label, id.Image, s.String()).Set(float64(n))
		} else {
			m.metrics.DriftPaths.DeleteLabelValues(label, id.Image, s.String())
		}
	}
	if reason != "" {
		m.metrics.Unverified.WithLabelValues(label, id.Image).Set(1)
	} else {
		m.metrics.Unverified.DeleteLabelValues(label, id.Image)
	}
	if tainted {
		m.metrics.ReplacementRequired.WithLabelValues(label, id.Image).Set(1)
	}
}

// event writes one JSON event about c.
func (m *Monitor) event(level slog.Level, name string, c *container, attrs ...slog.Attr) {
	m.mu.Lock()
	id := c.id
	m.mu.Unlock()
	attrs = append(attrs, slog.Group("container", "runtime", id.Runtime, "id", id.ID, "name", id.Name,
		"image", id.Image, "image_digest", id.ImageDigest, "pod", id.Pod, "namespace", id.Namespace))
	m.events.LogAttrs(context.Background(), level, name, attrs...)
}

// findingAttrs are a container finding's fields in an event, as the
// host's findings have them.
func findingAttrs(f *baseline.Finding, firstSeen time.Time) []slog.Attr {
	path, path64 := reporter.RawString(f.Path)
	attrs := []slog.Attr{
		slog.String("path", path), slog.String("kind", f.Kind.String()), slog.Any("changes", f.Changes.Names()),
		slog.String("category", f.Rule.Category), slog.String("severity", f.Rule.Severity.String()),
		slog.String("rule", f.Rule.Pattern), slog.Time("first_seen", firstSeen),
	}
	if path64 != "" {
		attrs = append(attrs, slog.String("path_base64", path64))
	}
	return attrs
}

// Snapshot is every container's drift now, by name; an error when the
// monitor cannot tell which containers run.
func (m *Monitor) Snapshot() ([]reporter.ContainerJSON, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unknown != "" {
		return nil, fmt.Errorf("containers unknown: %s", m.unknown)
	}
	out := make([]reporter.ContainerJSON, 0, len(m.containers))
	for _, c := range m.containers {
		out = append(out, c.json())
	}
	slices.SortFunc(out, func(a, b reporter.ContainerJSON) int { return strings.Compare(a.Label(), b.Label()) })
	return out, nil
}

// json renders c; the caller holds the monitor's lock.
func (c *container) json() reporter.ContainerJSON {
	j := reporter.ContainerJSON{
		Container: c.id, Mount: c.mount.Point, Upper: c.mount.Layers.Upper, Discovered: c.found,
		Status: reporter.StatusClean, Reason: c.unverified(), ReplacementRequired: c.tainted != nil, Since: c.tainted,
		Findings: []reporter.TrackedJSON{}, Baseline: c.bakedJSON(),
	}
	for _, t := range c.findings {
		j.Findings = append(j.Findings, reporter.TrackedJSON{FindingJSON: reporter.NewFindingJSON(&t.finding), FirstSeen: t.firstSeen})
	}
	slices.SortFunc(j.Findings, func(a, b reporter.TrackedJSON) int { return strings.Compare(a.Path, b.Path) })
	switch {
	case j.Reason != "":
		j.Status = reporter.StatusUnverified
	case len(j.Findings) > 0:
		j.Status = reporter.StatusDrift
	}
	return j
}
