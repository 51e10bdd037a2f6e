package reporter

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"driftd/baseline"
)

// Status is the verdict of a check.
type Status string

// The verdicts. Unverified wins over drift: a check that could not see
// everything, or whose baseline is not proven, vouches for nothing.
const (
	StatusClean      Status = "clean"
	StatusDrift      Status = "drift"
	StatusUnverified Status = "unverified"
	// StatusStarting is a daemon whose first full check is not done.
	StatusStarting Status = "starting"
	// StatusUnsealed is a host whose first-boot window is open and whose
	// first-boot paths changed: not drift yet, never clean.
	StatusUnsealed Status = "unsealed"
)

// CheckReport is the outcome of one check, ready to render.
type CheckReport struct {
	Root     string
	Manifest *baseline.Manifest
	Result   baseline.Result
	Observed int // entries the walk recorded
	Started  time.Time
	Duration time.Duration
	Warnings []string
	// Packages is the package drift; PackagesChecked is false when no
	// package database could be compared (then there is no verdict on
	// packages, and no driftd_package_drift).
	Packages        []baseline.PackageFinding
	PackagesChecked bool
	PackageSeverity baseline.Severity
	// PackageUnverified says which package databases could not be read.
	PackageUnverified []string
	// Pending are the changed first-boot paths of a host not sealed yet.
	Pending []baseline.Finding
	// Seal is the first-boot state: "none", "sealed" or "unsealed", and why;
	// SealedNow says why this check sealed the host, if it did.
	Seal, SealReason, SealedNow string
	// Classes are the category and severity pairs the rules can produce:
	// the textfile exports each, 0 when clean.
	Classes []baseline.Class
	// BaselineLabels are the bake labels driftd_baseline_info carries.
	BaselineLabels []string
	// Taint is the replacement latch after this check; nil: none kept.
	Taint *Taint
}

// Status returns the verdict.
func (r *CheckReport) Status() Status {
	switch {
	case !r.Manifest.Verified || len(r.Result.Unverified) > 0 || len(r.PackageUnverified) > 0:
		return StatusUnverified
	case len(r.Result.Findings) > 0 || len(r.Packages) > 0:
		return StatusDrift
	case len(r.Pending) > 0:
		return StatusUnsealed
	}
	return StatusClean
}

// WriteText writes the report for a person.
func (r *CheckReport) WriteText(w io.Writer) error {
	m := r.Manifest
	verified := "verified"
	if !m.Verified {
		verified = "SIGNATURE NOT VERIFIED"
	}
	var verdict string
	switch r.Status() {
	case StatusClean:
		verdict = fmt.Sprintf("clean: %d paths match the baseline", r.Observed)
	case StatusDrift:
		verdict = fmt.Sprintf("DRIFT: %d paths and %d packages changed", len(r.Result.Findings), len(r.Packages))
	case StatusUnsealed:
		verdict = fmt.Sprintf("UNSEALED: %d first-boot paths changed and the host is not sealed yet (%s)", len(r.Pending), r.SealReason)
	default:
		verdict = fmt.Sprintf("NOT VERIFIED: %d paths changed, %d could not be checked", len(r.Result.Findings), len(r.Result.Unverified)+len(r.PackageUnverified))
		if !m.Verified {
			verdict = fmt.Sprintf("NOT VERIFIED: %d paths changed against an unproven baseline", len(r.Result.Findings))
		}
	}
	fmt.Fprintf(w, "driftd check %s: %s\n", DisplayPath(r.Root), verdict)
	fmt.Fprintf(w, "baseline %s (%s%s), %s\n", m.ID(), verified, labelText(m.Header.Labels), r.Duration.Round(time.Millisecond))
	if r.SealedNow != "" {
		fmt.Fprintf(w, "sealed the first-boot paths now (%s)\n", r.SealedNow)
	}
	if t := r.Taint; t != nil && t.Tainted {
		fmt.Fprintf(w, "REPLACEMENT REQUIRED since %s: %s\n", t.Since.Local().Format(time.DateTime), t.Reason)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if err := writeFindingsText(w, r.Result.Findings, r.Packages, r.PackageSeverity); err != nil {
		return err
	}
	if len(r.Pending) > 0 {
		fmt.Fprintf(w, "first-boot paths changed before the seal (%s):\n", r.SealReason)
		if err := writeFindingsText(w, r.Pending, nil, 0); err != nil {
			return err
		}
	}
	for _, u := range r.Result.Unverified {
		fmt.Fprintf(w, "unverified  %s: %s\n", DisplayPath(u.Path), u.Reason)
	}
	for _, u := range r.PackageUnverified {
		fmt.Fprintf(w, "unverified  %s\n", u)
	}
	for _, u := range r.Result.Accepted {
		fmt.Fprintf(w, "accepted    %s: %s\n", DisplayPath(u.Path), u.Reason)
	}
	return nil
}

func labelText(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, ", %s=%s", k, labels[k])
	}
	return b.String()
}

// writeFindingsText writes the package findings, then the paths, one
// aligned line each: kind, severity, category, what, and how it changed.
func writeFindingsText(w io.Writer, findings []baseline.Finding, pkgs []baseline.PackageFinding, pkgSeverity baseline.Severity) error {
	if len(findings) == 0 && len(pkgs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := range pkgs {
		f := &pkgs[i]
		p := f.Package()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\n", f.Kind, pkgSeverity, baseline.PackageCategory, p.Manager, packageName(p), versions(f.Before.Version, f.After.Version))
	}
	for i := range findings {
		f := &findings[i]
		changes := ""
		if f.Kind == baseline.Modified {
			changes = strings.Join(f.Changes.Names(), ",")
		}
		pkg, explained := packageOf(f)
		cells := []string{f.Kind.String(), f.Rule.Severity.String(), f.Rule.Category, DisplayPath(f.Path), changes, provenance(pkg, explained, f.ByHand)}
		for len(cells) > 1 && cells[len(cells)-1] == "" {
			cells = cells[:len(cells)-1] // no padding after the last word
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	details := make([]*FindingJSON, len(findings))
	for i := range findings {
		j := NewFindingJSON(&findings[i])
		details[i] = &j
	}
	writeDetails(w, details)
	return nil
}

// packageName is name:arch, as dpkg and rpm users write it.
func packageName(p *baseline.Package) string {
	if p.Arch == "" {
		return p.Name
	}
	return p.Name + ":" + p.Arch
}

// versions renders a version change: "1.0 -> 1.1", "(new) 1.1", "1.0 (removed)".
func versions(before, after string) string {
	switch {
	case before == "":
		return "(new) " + after
	case after == "":
		return before + " (removed)"
	}
	return before + " -> " + after
}

// CheckJSON is the JSON form of a check report.
type CheckJSON struct {
	Status           Status               `json:"status"`
	Root             string               `json:"root"`
	BaselineID       string               `json:"baseline_id"`
	BaselineVerified bool                 `json:"baseline_verified"`
	Labels           map[string]string    `json:"labels,omitempty"`
	Started          string               `json:"started"`
	DurationSeconds  float64              `json:"duration_seconds"`
	Entries          int                  `json:"entries"`
	Warnings         []string             `json:"warnings,omitempty"`
	Packages         []PackageFindingJSON `json:"packages"`
	Findings         []FindingJSON        `json:"findings"`
	Unverified       []UnverifiedJSON     `json:"unverified"`
	// PackagesUnverified names the package databases that could not be read.
	PackagesUnverified []string `json:"packages_unverified,omitempty"`
	// Pending are the changed first-boot paths of a host not sealed yet.
	Pending []FindingJSON `json:"pending"`
	// Accepted are paths unreadable at bake time that the bake accepted.
	Accepted []UnverifiedJSON `json:"accepted,omitempty"`
	Seal     CheckSealJSON    `json:"seal"`
	Taint    *Taint           `json:"taint,omitempty"`
}

// CheckSealJSON is the first-boot state a check saw.
type CheckSealJSON struct {
	State     string `json:"state"` // none, sealed, unsealed
	Reason    string `json:"reason,omitempty"`
	SealedNow string `json:"sealed_now,omitempty"`
}

// WriteJSON writes the report as one JSON document.
func (r *CheckReport) WriteJSON(w io.Writer) error {
	j := CheckJSON{
		Status:             r.Status(),
		Root:               r.Root,
		BaselineID:         r.Manifest.ID(),
		BaselineVerified:   r.Manifest.Verified,
		Labels:             r.Manifest.Header.Labels,
		Started:            r.Started.UTC().Format(time.RFC3339),
		DurationSeconds:    r.Duration.Seconds(),
		Entries:            r.Observed,
		Warnings:           r.Warnings,
		Packages:           make([]PackageFindingJSON, 0, len(r.Packages)),
		Findings:           make([]FindingJSON, 0, len(r.Result.Findings)),
		Unverified:         make([]UnverifiedJSON, 0, len(r.Result.Unverified)),
		PackagesUnverified: r.PackageUnverified,
		Pending:            make([]FindingJSON, 0, len(r.Pending)),
		Seal:               CheckSealJSON{State: r.Seal, Reason: r.SealReason, SealedNow: r.SealedNow},
		Taint:              r.Taint,
	}
	for i := range r.Pending {
		j.Pending = append(j.Pending, NewFindingJSON(&r.Pending[i]))
	}
	for _, u := range r.Result.Accepted {
		j.Accepted = append(j.Accepted, NewUnverifiedJSON(u))
	}
	for i := range r.Packages {
		j.Packages = append(j.Packages, NewPackageFindingJSON(&r.Packages[i], r.PackageSeverity))
	}
	for i := range r.Result.Findings {
		j.Findings = append(j.Findings, NewFindingJSON(&r.Result.Findings[i]))
	}
	for _, u := range r.Result.Unverified {
		j.Unverified = append(j.Unverified, NewUnverifiedJSON(u))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// WriteTextfile writes the check's metrics for node_exporter's textfile
// collector, atomically (a temporary file renamed into place). The names
// and labels are the daemon's, so the same alert rules and dashboard serve
// a check-only host; the scan's mode is "check".
func (r *CheckReport) WriteTextfile(path string) error {
	reg := prometheus.NewPedanticRegistry()
	m := newCheckMetrics(r.BaselineLabels)
	reg.MustRegister(m.collectors()...)
	reg.MustRegister(m.ReplacementRequired)
	if r.Manifest.Verified {
		m.BaselineVerified.Set(1)
	}
	m.SetBaseline(r.Manifest.ID(), r.Manifest.Header.Labels)
	m.SetClasses(r.Classes)
	m.SetDrift(CountClasses(r.Result.Findings))
	if r.PackagesChecked {
		m.SetPackageDrift(r.Packages)
	}
	if r.Taint != nil && r.Taint.Tainted {
		m.ReplacementRequired.Set(1)
	}
	if r.Taint != nil {
		clears := prometheus.NewCounter(prometheus.CounterOpts{Name: "driftd_taint_clears_total", Help: taintClearsHelp})
		clears.Add(float64(r.Taint.Clears))
		reg.MustRegister(clears)
	}
	m.UnverifiedPaths.Set(float64(len(r.Result.Unverified)))
	m.LastScan.WithLabelValues("check").Set(float64(r.Started.Add(r.Duration).Unix()))
	m.ScanDuration.WithLabelValues("check").Set(r.Duration.Seconds())
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("write textfile %s: %w", path, err)
	}
	return nil
}

// WriteUnverifiedTextfile writes the textfile for a check whose baseline
// could not be read or verified, so the failure shows in Prometheus instead
// of the last good figures going stale.
func WriteUnverifiedTextfile(path string) error {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCheckMetrics(nil).BaselineVerified) // at 0
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("write textfile %s: %w", path, err)
	}
	return nil
}
