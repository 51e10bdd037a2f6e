package policy

import (
	"fmt"

	"driftd/baseline"
	"driftd/reporter"
)

// Trip is drift the policy names: why it taints, and what it was.
type Trip struct {
	Reason  string
	Trigger *reporter.Trigger
}

// ForFinding is the trip for a file finding, or nil when the policy does
// not name it.
func (p *Config) ForFinding(f *baseline.Finding) *Trip {
	if !p.Taints(f.Rule.Category, f.Rule.Severity) {
		return nil
	}
	t := &reporter.Trigger{Event: "drift", Path: f.Path, Kind: f.Kind.String(), Category: f.Rule.Category,
		Severity: f.Rule.Severity.String(), Rule: f.Rule.Pattern}
	if f.Owner != nil {
		t.Package = f.Owner.Name
	}
	return &Trip{Reason: fmt.Sprintf("%s drift: %s %s", f.Rule.Severity, f.Kind, reporter.DisplayPath(f.Path)), Trigger: t}
}

// ForPackage is the trip for a package finding of severity sev, or nil.
func (p *Config) ForPackage(f *baseline.PackageFinding, sev baseline.Severity) *Trip {
	if !p.Packages && !p.Taints(baseline.PackageCategory, sev) {
		return nil
	}
	pkg := f.Package()
	return &Trip{
		Reason:  fmt.Sprintf("package %s: %s %s", f.Change(), pkg.Manager, pkg.Name),
		Trigger: &reporter.Trigger{Event: "package", Kind: f.Kind.String(), Category: baseline.PackageCategory, Severity: sev.String(), Package: pkg.Name},
	}
}

// ForLogin is the trip for a remote login when the policy taints on one
// (ssh.taint_on_login), or nil.
func ForLogin(taintOnLogin bool, user, host string) *Trip {
	if !taintOnLogin {
		return nil
	}
	return &Trip{Reason: fmt.Sprintf("ssh login: %s from %s", user, host),
		Trigger: &reporter.Trigger{Event: "ssh_login", Category: baseline.SSHCategory, User: user, RemoteHost: host}}
}
