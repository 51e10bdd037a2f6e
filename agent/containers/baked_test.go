package containers

import (
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/reporter"
)

// bakedImage reads a baseline "baked" in the images that have the
// manifest file, with rules of its own. The reader that verifies a real
// manifest is package imagebaseline's (its TestReader); here the
// monitor's part is under test.
func bakedImage(image fs.FS) (*Baked, error) {
	if _, err := fs.Stat(image, "etc/driftd/baseline.manifest"); err != nil {
		return nil, nil
	}
	return &Baked{BaselineID: "0123456789ab", KeyID: "k1", KeyFrom: "image", Tables: []baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/**"}, Category: "config", Severity: "high"},
		{Paths: []string{"/var/cache/app/**"}, Ignore: true},
		{Paths: []string{"/etc/app.conf", "/etc/gen/**"}, FirstBoot: true},
	}}, nil
}

// snapshotOf is the container named name in m's snapshot.
func snapshotOf(t *testing.T, m *Monitor, name string) reporter.ContainerJSON {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cs, err := m.Snapshot()
		if err == nil {
			for _, c := range cs {
				if c.Name == name {
					return c
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s is not in the monitor's snapshot", name)
	return reporter.ContainerJSON{}
}

func findingPaths(c reporter.ContainerJSON) []string {
	var out []string
	for _, f := range c.Findings {
		out = append(out, f.Path)
	}
	return out
}

// TestBakedBaselineJudgesTheContainer: a container whose image carries a
// baseline is judged by that baseline's rules; its first-boot paths may
// change until its window ends and are compared with the seal after; a
// restarted monitor reads the seal back, and one that lost it compares
// with the image, never clean.
func TestBakedBaselineJudgesTheContainer(t *testing.T) {
	sealDir := t.TempDir()
	withBaked := func(dir string) func(*Config, *Options) {
		return func(c *Config, o *Options) {
			c.FirstBoot.Duration = 1500 * time.Millisecond
			o.Baked, o.StateDir = bakedImage, dir
		}
	}
	m, evs, _ := startMonitor(t, withBaked(sealDir))
	merged, _ := overlayMount(t, func(lower string) {
		put(t, lower+"/etc/app.conf", "port = 80\n", 0o644)
		put(t, lower+"/etc/driftd/baseline.manifest", "signed\n", 0o644)
		put(t, lower+"/opt/keep", "", 0o644)
		put(t, lower+"/var/cache/app/keep", "", 0o644)
	})
	name := merged
	evs.waitFor(t, "container_found", "", name)

	// Its first boot: the entrypoint writes its config.
	put(t, merged+"/etc/app.conf", "port = 8080\n", 0o644)
	put(t, merged+"/etc/gen/key", "generated\n", 0o600)
	put(t, merged+"/var/cache/app/x", "cache\n", 0o644) // ignored by the image's rules
	put(t, merged+"/opt/new", "n\n", 0o644)
	ev := evs.waitFor(t, "drift", "/opt/new", name)
	if ev.Severity != "medium" || ev.Category != "system" {
		t.Errorf("/opt/new: %s %s, want the image's rule (system, medium) and not [containers]'s", ev.Category, ev.Severity)
	}
	c := snapshotOf(t, m, name)
	if c.Baseline == nil || c.Baseline.ID != "0123456789ab" || c.Baseline.FirstBoot != "open" {
		t.Fatalf("baseline while first boot is open: %+v", c.Baseline)
	}
	if got := findingPaths(c); !slices.Equal(got, []string{"/opt/new"}) {
		t.Errorf("findings while first boot is open: %v", got)
	}

	evs.waitFor(t, "container_sealed", "", name)
	c = snapshotOf(t, m, name)
	if c.Baseline.FirstBoot != "sealed" || !slices.Equal(findingPaths(c), []string{"/opt/new"}) || c.Status != reporter.StatusDrift {
		t.Errorf("after the seal: %+v, findings %v", c.Baseline, findingPaths(c))
	}
	// Sealed: a first-boot path is compared with its state at the seal.
	put(t, merged+"/etc/app.conf", "port = 1\n", 0o644)
	ev = evs.waitFor(t, "drift", "/etc/app.conf", name)
	if ev.Kind != "modified" || ev.Severity != "high" {
		t.Errorf("/etc/app.conf after the seal: %s %s, want modified high", ev.Kind, ev.Severity)
	}
	for _, ev := range evs.all(t) {
		if ev.Msg == "drift" && (ev.Path == "/etc/gen/key" || filepath.Dir(ev.Path) == "/var/cache/app") {
			t.Errorf("reported: %+v", ev)
		}
	}

	// A restarted monitor reads the seal back.
	m2, _, _ := startMonitor(t, withBaked(sealDir))
	c = snapshotOf(t, m2, name)
	if c.Baseline == nil || c.Baseline.FirstBoot != "sealed" || !slices.Equal(findingPaths(c), []string{"/etc/app.conf", "/opt/new"}) {
		t.Errorf("restarted with the seal: %+v, findings %v", c.Baseline, findingPaths(c))
	}
	// One that lost it cannot verify the first-boot paths that changed
	// from the image: unverified, neither clean nor drift for them (a
	// rollout of the daemon must not replace every container).
	m3, _, _ := startMonitor(t, withBaked(t.TempDir()))
	c = snapshotOf(t, m3, name)
	if c.Baseline == nil || c.Baseline.FirstBoot != "unsealed" || c.Status != reporter.StatusUnverified ||
		!slices.Equal(findingPaths(c), []string{"/opt/new"}) || !slices.Equal(c.Baseline.Pending, []string{"/etc/app.conf", "/etc/gen", "/etc/gen/key"}) {
		t.Errorf("restarted without the seal: status %s, %+v, findings %v", c.Status, c.Baseline, findingPaths(c))
	}
}

// TestBakedBaselineUnverified: an image whose baked baseline cannot be
// verified leaves the container unverified, whatever it finds.
func TestBakedBaselineUnverified(t *testing.T) {
	m, evs, _ := startMonitor(t, func(c *Config, o *Options) {
		o.Baked = func(fs.FS) (*Baked, error) { return nil, fs.ErrPermission }
	})
	merged, _ := overlayMount(t, func(lower string) { put(t, lower+"/etc/a", "a\n", 0o644) })
	evs.waitFor(t, "container_found", "", merged)
	if c := snapshotOf(t, m, merged); c.Status != reporter.StatusUnverified || c.Reason == "" {
		t.Errorf("status %s, reason %q: want unverified", c.Status, c.Reason)
	}
}
