package reporter

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"driftd/baseline"
)

// MetricsConfig is the [metrics] section of the config.
type MetricsConfig struct {
	// BaselineLabels are the bake labels that driftd_baseline_info carries.
	// Keep them few and bounded: image name and version, not a build id.
	BaselineLabels []string `toml:"baseline_labels"`
}

// Validate checks the section.
func (c *MetricsConfig) Validate() error {
	for _, l := range c.BaselineLabels {
		if !validLabelName(l) || l == "baseline_id" {
			return fmt.Errorf("metrics.baseline_labels: %q is not a usable label name", l)
		}
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkMetrics are what a check reports, in the daemon's metrics and in
// the node_exporter textfile alike: one definition, so the two agree.
type checkMetrics struct {
	baselineInfo     *prometheus.GaugeVec
	baselineLabels   []string
	BaselineVerified prometheus.Gauge
	DriftPaths       *prometheus.GaugeVec // category, severity
	UnverifiedPaths  prometheus.Gauge
	PackageDrift     *prometheus.GaugeVec // change
	LastScan         *prometheus.GaugeVec // mode
	ScanDuration     *prometheus.GaugeVec // mode
	// ReplacementRequired is the taint latch: 1 while the host must be
	// replaced.
	ReplacementRequired prometheus.Gauge

	driftSeen map[baseline.Class]bool // classes of driftd_drift_paths ever set
}

// newCheckMetrics defines the check's metrics; baselineLabels are the bake
// labels driftd_baseline_info carries besides baseline_id.
func newCheckMetrics(baselineLabels []string) checkMetrics {
	return checkMetrics{
		baselineLabels: slices.Clone(baselineLabels),
		baselineInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_baseline_info", Help: "The baseline this host is compared with, and its bake labels.",
		}, append([]string{"baseline_id"}, baselineLabels...)),
		BaselineVerified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_baseline_verified", Help: "1 when the baseline's signature verified; 0 means nothing driftd says can be trusted.",
		}),
		DriftPaths: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_drift_paths", Help: "Paths drifted from the baseline now.",
		}, []string{"category", "severity"}),
		UnverifiedPaths: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_unverified_paths", Help: "Paths in scope that could not be verified.",
		}),
		PackageDrift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_package_drift", Help: "Packages added, removed or changed since the bake, now.",
		}, []string{"change"}),
		LastScan: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_last_scan_timestamp_seconds", Help: "When the last scan of each mode finished.",
		}, []string{"mode"}),
		ScanDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_scan_duration_seconds", Help: "How long the last scan of each mode took.",
		}, []string{"mode"}),
		ReplacementRequired: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_replacement_required", Help: "1 when the host is tainted and must be replaced; it stays 1 until driftd taint clear.",
		}),
	}
}

func (c *checkMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.baselineInfo, c.BaselineVerified, c.DriftPaths, c.UnverifiedPaths, c.PackageDrift, c.LastScan, c.ScanDuration}
}

// taintClearsHelp is driftd_taint_clears_total's help, in the daemon and
// the textfile alike.
const taintClearsHelp = "Clears of the taint latch (driftd taint clear) over the host's life."

// Metrics are the daemon's metrics, in a private registry. Their names and
// labels are a contract (design.md): alert rules and dashboards use them.
// No label carries a path or anything else unbounded.
type Metrics struct {
	Registry *prometheus.Registry
	checkMetrics

	DriftEvents            *prometheus.CounterVec // category, kind
	ScanErrors             prometheus.Counter
	WatchDirectories       prometheus.Gauge
	WatchUnwatched         prometheus.Gauge
	WatchOverflows         prometheus.Counter
	ConfigReloadSuccessful prometheus.Gauge
	SSHSessions            prometheus.Gauge
	attribution            *prometheus.GaugeVec
	AttributionOverflows   prometheus.Counter
	SSHLogins              prometheus.Counter
	sshOnce                sync.Once
	ReplacementSince       prometheus.Gauge
	HookRuns               *prometheus.CounterVec // outcome
	// The steps of a cover-up, each counted: a restart resets them, so
	// rules read them with increase(), which takes resets in its stride.
	TaintClears     prometheus.Counter
	BaselineChanges *prometheus.CounterVec // outcome: refused, accepted
	ReloadFailures  prometheus.Counter
}

// SetAttribution names the running attribution backend.
func (m *Metrics) SetAttribution(backend string) {
	m.attribution.Reset()
	m.attribution.WithLabelValues(backend).Set(1)
}

// EnableSSH registers the SSH session metrics, once driftd has found
// login records to read: without them it cannot say there are none.
func (m *Metrics) EnableSSH() {
	m.sshOnce.Do(func() { m.Registry.MustRegister(m.SSHSessions, m.SSHLogins) })
}

// NewMetrics registers the daemon's metrics, with the Go and process
// collectors, in a new registry.
func NewMetrics(version string, cfg MetricsConfig) *Metrics {
	m := &Metrics{
		Registry:     prometheus.NewPedanticRegistry(),
		checkMetrics: newCheckMetrics(cfg.BaselineLabels),
		DriftEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_drift_events_total", Help: "Drift findings seen for the first time.",
		}, []string{"category", "kind"}),
		ScanErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_scan_errors_total", Help: "Scans that failed or could not read some paths.",
		}),
		WatchDirectories: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_watch_directories", Help: "Directories watched in real time.",
		}),
		WatchUnwatched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_watch_unwatched_directories", Help: "Directories in scope left to the fast scan: the watch limit was reached.",
		}),
		WatchOverflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_watch_overflows_total", Help: "Watch event queue overflows and failed watches; each triggers a rescan.",
		}),
		ConfigReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_config_last_reload_successful", Help: "0 when the last reload failed and the previous config and baseline stay in force.",
		}),
		ReplacementSince: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_replacement_required_timestamp_seconds", Help: "When the host was tainted; 0 when it is not.",
		}),
		TaintClears: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_taint_clears_total", Help: taintClearsHelp,
		}),
		BaselineChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_baseline_changes_total", Help: "Attempts to put another baseline or key in force on this host, by outcome (refused, accepted).",
		}, []string{"outcome"}),
		ReloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_config_reload_failures_total", Help: "Reloads (SIGHUP) that failed and kept the previous config and baseline.",
		}),
		HookRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_hook_runs_total", Help: "Runs of the replacement hook, by outcome (success, failure, timeout).",
		}, []string{"outcome"}),
		SSHSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_ssh_sessions", Help: "Remote login sessions open now.",
		}),
		SSHLogins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_ssh_logins_total", Help: "Remote logins seen since driftd started.",
		}),
	}
	m.attribution = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "driftd_attribution_info", Help: "The backend that names who made each change (ebpf, fanotify, none): 1 for the one running.",
	}, []string{"backend"})
	m.attribution.WithLabelValues("none").Set(1)
	m.AttributionOverflows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "driftd_attribution_overflows_total", Help: "Times the attribution backend's kernel queue overflowed: changes then seen went unattributed, not unseen.",
	})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "driftd_build_info", Help: "driftd's version.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	m.ConfigReloadSuccessful.Set(1)
	for _, o := range []string{"refused", "accepted"} {
		m.BaselineChanges.WithLabelValues(o) // present at 0 from the start, so increase() sees the first
	}
	m.Registry.MustRegister(m.collectors()...)
	m.Registry.MustRegister(buildInfo, m.DriftEvents, m.ScanErrors, m.WatchDirectories, m.WatchUnwatched,
		m.WatchOverflows, m.ConfigReloadSuccessful, m.ReplacementRequired, m.ReplacementSince, m.HookRuns,
		m.TaintClears, m.BaselineChanges, m.ReloadFailures, m.attribution, m.AttributionOverflows,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetBaseline names the baseline in driftd_baseline_info, with the values
// of the configured bake labels.
func (c *checkMetrics) SetBaseline(id string, labels map[string]string) {
	c.baselineInfo.Reset()
	values := []string{id}
	for _, l := range c.baselineLabels {
		values = append(values, labels[l])
	}
	c.baselineInfo.WithLabelValues(values...).Set(1)
}

// SetClasses exports driftd_drift_paths at 0 for every class the rules
// can produce that has no series yet: a clean host shows 0, not "no data",
// and a class's series exists before its first drift.
func (c *checkMetrics) SetClasses(classes []baseline.Class) {
	if c.driftSeen == nil {
		c.driftSeen = map[baseline.Class]bool{}
	}
	for _, k := range classes {
		if !c.driftSeen[k] {
			c.driftSeen[k] = true
			c.DriftPaths.WithLabelValues(k.Category, k.Severity.String()).Set(0)
		}
	}
}

// SetDrift sets driftd_drift_paths from counts by class. Series of classes
// with no drift left go to 0 rather than away, so that a graph shows the
// drop and an alert's expression keeps a value.
func (c *checkMetrics) SetDrift(counts map[baseline.Class]int) {
	if c.driftSeen == nil {
		c.driftSeen = map[baseline.Class]bool{}
	}
	for k := range c.driftSeen {
		if _, ok := counts[k]; !ok {
			c.DriftPaths.WithLabelValues(k.Category, k.Severity.String()).Set(0)
		}
	}
	for k, n := range counts {
		c.driftSeen[k] = true
		c.DriftPaths.WithLabelValues(k.Category, k.Severity.String()).Set(float64(n))
	}
}

// CountClasses counts findings by class.
func CountClasses(findings []baseline.Finding) map[baseline.Class]int {
	counts := map[baseline.Class]int{}
	for i := range findings {
		counts[baseline.Class{Category: findings[i].Rule.Category, Severity: findings[i].Rule.Severity}]++
	}
	return counts
}

// SetPackageDrift sets driftd_package_drift from the package findings, with
// all three changes present (0 when none).
func (c *checkMetrics) SetPackageDrift(findings []baseline.PackageFinding) {
	counts := map[string]int{"added": 0, "removed": 0, "changed": 0}
	for i := range findings {
		counts[findings[i].Change()]++
	}
	for change, n := range counts {
		c.PackageDrift.WithLabelValues(change).Set(float64(n))
	}
}
