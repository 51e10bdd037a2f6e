package overlay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/baseline/overlay/overlaytest"
)

// mount makes an overlay of the image tree in lower (made by build) and
// returns its layers and mount point; the test unmounts it.
func mount(t *testing.T, build func(lower string)) (l Layers, merged string) {
	t.Helper()
	upper, lower, merged, _ := overlaytest.Mount(t, build)
	return Layers{Upper: upper, Lower: []string{lower}}, merged
}

var write = overlaytest.Write

func containerRules(t *testing.T) *baseline.Rules {
	t.Helper()
	rules, err := baseline.CompileRules([]baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "container", Severity: "high"},
		{Paths: []string{"/tmp/**"}, Ignore: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// summary is a change in one line: kind, path, and the marks that matter.
func summary(c Change) string {
	s := c.Kind.String() + " " + c.Path
	if c.Kind == baseline.Modified && c.Changes != 0 {
		s += " [" + strings.Join(c.Changes.Names(), ",") + "]"
	}
	if c.Executable {
		s += " executable"
	}
	if c.Opaque {
		s += " opaque"
	}
	return s
}

// TestDiffReadsEveryKindOfChange makes each change through a real overlay
// mount, as a container would, and reads it back from the layers.
func TestDiffReadsEveryKindOfChange(t *testing.T) {
	l, merged := mount(t, func(lower string) {
		write(t, lower+"/etc/app.conf", "port = 80\n", 0o644)
		write(t, lower+"/etc/keep.conf", "same\n", 0o644)
		write(t, lower+"/etc/gone.conf", "bye\n", 0o644)
		write(t, lower+"/usr/bin/tool", "#!/bin/sh\n", 0o755)
		write(t, lower+"/usr/local/bin/script", "echo hi\n", 0o644)
		write(t, lower+"/opt/app/a", "a\n", 0o644)
		write(t, lower+"/opt/app/b", "b\n", 0o644)
		write(t, lower+"/touched", "t\n", 0o644)
	})
	m := func(p string) string { return filepath.Join(merged, p) }
	write(t, m("/etc/app.conf"), "port = 8080\n", 0o644)   // changed
	write(t, m("/etc/new.conf"), "new\n", 0o644)           // added
	if err := os.Remove(m("/etc/gone.conf")); err != nil { // removed: a whiteout
		t.Fatal(err)
	}
	write(t, m("/usr/bin/dropped"), "\x7fELF", 0o755)                   // an executable dropped
	if err := os.Chmod(m("/usr/local/bin/script"), 0o755); err != nil { // made executable
		t.Fatal(err)
	}
	if err := os.RemoveAll(m("/opt/app")); err != nil { // a directory replaced: opaque
		t.Fatal(err)
	}
	write(t, m("/opt/app/a"), "a\n", 0o644)
	write(t, m("/opt/app/c"), "c\n", 0o644)
	write(t, m("/tmp/scratch"), "ignored\n", 0o644)
	// A copy-up that changes nothing: read-write open, no write.
	f, err := os.OpenFile(m("/etc/keep.conf"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(m("/touched"), time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}

	d := Differ{Layers: l, Rules: containerRules(t), Workers: 2}
	changes, err := d.Diff(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, summary(c))
	}
	want := []string{
		"modified /etc/app.conf [content,size,mtime]",
		"removed /etc/gone.conf",
		"added /etc/new.conf",
		"modified /opt/app opaque",
		"modified /opt/app/a [mtime]", // made again in the new directory
		"removed /opt/app/b",
		"added /opt/app/c",
		"modified /touched [mtime]",
		"added /usr/bin/dropped executable",
		"modified /usr/local/bin/script [mode] executable",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
