package check

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/baseline/walk"
)

// testPipeline bakes a small root in memory and returns the options to
// compare it.
func testPipeline(t *testing.T, stateDir string) (Options, string) {
	t.Helper()
	root := t.TempDir()
	for name, content := range map[string]string{"etc/hostname": "image\n", "usr/bin/tool": "tool\n"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(root, name), []byte(content), 0o644)
	}
	rules, err := baseline.CompileRules([]baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "high"},
		{Paths: []string{"/etc/hostname"}, FirstBoot: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := (&walk.Walker{Root: root, Rules: rules, Workers: 2}).Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return Options{Root: root, Manifest: &baseline.Manifest{Entries: baseline.Pack(entries)}, Rules: rules, StateDir: stateDir, Workers: 2}, root
}

func paths(fs []baseline.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestImageHasNoFirstBoot(t *testing.T) {
	opts, root := testPipeline(t, "")
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("changed\n"), 0o644)
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, due := p.SealDue(time.Now()); due || p.SealState().Mode != NoFirstBoot {
		t.Fatalf("an image root: mode %v", p.SealState().Mode)
	}
	res, err := p.Compare(context.Background(), "/", Scan{})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res.Findings); len(got) != 1 || got[0] != "/etc/hostname" || len(res.Pending) != 0 {
		t.Errorf("findings %v, pending %v", got, paths(res.Pending))
	}
}

func TestUnsealedPendingThenSealed(t *testing.T) {
	opts, root := testPipeline(t, t.TempDir())
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("first boot\n"), 0o644)
	res, _ := p.Compare(context.Background(), "/", Scan{})
	if len(res.Findings) != 0 || len(res.Pending) != 1 || p.SealState().Mode != Unsealed {
		t.Fatalf("unsealed: findings %v, pending %v", paths(res.Findings), paths(res.Pending))
	}
	why, due := p.SealDue(time.Now())
	if !due {
		t.Fatal("no cloud-init: the seal is due at once")
	}
	i, _ := opts.Manifest.Find("/etc/hostname")
	before := opts.Manifest.Entries.At(i).Digest
	sealed, err := p.Seal(context.Background(), why)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Manifest.Entries.At(i).Digest != before {
		t.Error("sealing changed the signed manifest's entries")
	}
	res, _ = sealed.Compare(context.Background(), "/", Scan{})
	if len(res.Findings) != 0 || len(res.Pending) != 0 {
		t.Errorf("sealed: findings %v, pending %v", paths(res.Findings), paths(res.Pending))
	}
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("by hand\n"), 0o644)
	res, _ = sealed.Compare(context.Background(), "/etc/hostname", Scan{})
	if got := paths(res.Findings); len(got) != 1 {
		t.Errorf("a change after the seal: findings %v", got)
	}
	if _, err := sealed.Seal(context.Background(), "again"); err != ErrSealed {
		t.Errorf("sealing twice: %v", err)
	}
	// A new pipeline on the same state dir reads the seal.
	if again, _ := New(opts); again.SealState().Mode != Sealed {
		t.Errorf("the seal was not read back: %v", again.SealState())
	}
}
