package baseline

import (
	"fmt"
	"strings"
)

// PackageCategory is the category of package findings.
const PackageCategory = "package"

// PackageFinding is a package added, removed or changed since the bake.
type PackageFinding struct {
	Kind   Kind    // Added, Removed, or Modified for a new version
	Before Package // zero for Added
	After  Package // zero for Removed
}

// Package returns the package the finding is about: the new one, or the
// removed one.
func (f *PackageFinding) Package() *Package {
	if f.Kind == Removed {
		return &f.Before
	}
	return &f.After
}

// Change is the finding as driftd_package_drift labels it: added, removed
// or changed.
func (f *PackageFinding) Change() string {
	if f.Kind == Modified {
		return "changed"
	}
	return f.Kind.String()
}

// ComparePackages returns how the live inventory differs from the baked
// one, sorted by package key. A manager whose database was not read on
// either side is left out (see PackageUnverified); one whose database is
// gone has all its packages removed.
func ComparePackages(base *Manifest, live *Inventory) []PackageFinding {
	skip := map[string]bool{}
	for _, s := range base.Header.PackageManagers {
		if s.Status != Inventoried {
			skip[s.Manager] = true
		}
	}
	for _, s := range live.Managers {
		if s.Status != Inventoried {
			skip[s.Manager] = true
		}
	}
	var out []PackageFinding
	a, b := base.Packages, live.Packages
	for len(a) > 0 || len(b) > 0 {
		var c int
		switch {
		case len(a) == 0:
			c = 1
		case len(b) == 0:
			c = -1
		default:
			c = strings.Compare(a[0].Key(), b[0].Key())
		}
		switch {
		case c < 0:
			if !skip[a[0].Manager] {
				out = append(out, PackageFinding{Kind: Removed, Before: a[0]})
			}
			a = a[1:]
		case c > 0:
			if !skip[b[0].Manager] {
				out = append(out, PackageFinding{Kind: Added, After: b[0]})
			}
			b = b[1:]
		default:
			if a[0].Version != b[0].Version && !skip[a[0].Manager] {
				out = append(out, PackageFinding{Kind: Modified, Before: a[0], After: b[0]})
			}
			a, b = a[1:], b[1:]
		}
	}
	return out
}

// DiffPackages returns how image b's packages differ from image a's.
func DiffPackages(a, b *Manifest) []PackageFinding {
	return ComparePackages(a, &Inventory{Managers: b.Header.PackageManagers, Packages: b.Packages})
}

// PackageNotes says what a comparison of inventories could not verify,
// and what the bake could not: one line per manager.
func PackageNotes(base *Manifest, live *Inventory) (unverified, warnings []string) {
	for _, s := range base.Header.PackageManagers {
		switch l, ok := live.State(s.Manager); {
		case s.Status != Inventoried:
			warnings = append(warnings, fmt.Sprintf("%s packages not compared: at bake time, %s", s.Manager, s.Reason))
		case ok && l.Status != Inventoried:
			unverified = append(unverified, fmt.Sprintf("%s packages not verified: %s", s.Manager, l.Reason))
		}
	}
	return unverified, warnings
}

// Explanation is the package change that accounts for a file change.
type Explanation struct {
	Manager string
	Package string
	Before  string // the version at bake time; empty for a new package
	After   string // the version now; empty for a removed package
}
