package baseline

import (
	"strings"
	"testing"
)

func TestComparePackages(t *testing.T) {
	pkg := func(m, n, v string) Package {
		return Package{Manager: m, Name: n, Version: v, Arch: "amd64"}
	}
	base := &Manifest{
		Header:   Header{PackageManagers: []ManagerState{{Manager: "dpkg", Status: Inventoried}, {Manager: "apk", Status: Inventoried}}},
		Packages: []Package{pkg("apk", "musl", "1"), pkg("dpkg", "a", "1"), pkg("dpkg", "b", "1")},
	}
	// The apk database is gone: its packages are removed.
	live := &Inventory{Managers: []ManagerState{{Manager: "dpkg", Status: Inventoried}}, Packages: []Package{pkg("dpkg", "a", "2"), pkg("dpkg", "c", "1")}}
	var got []string
	for _, f := range ComparePackages(base, live) {
		got = append(got, f.Change()+" "+f.Package().Key()+" "+f.Before.Version+">"+f.After.Version)
	}
	want := "removed apk/musl:amd64 1>|changed dpkg/a:amd64 1>2|removed dpkg/b:amd64 1>|added dpkg/c:amd64 >1"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
}
