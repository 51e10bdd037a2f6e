package textdiff

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"driftd/baseline"
)

func rules(t *testing.T) *baseline.Rules {
	on, off := true, false
	rs, err := baseline.CompileRules([]baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/**"}, Diff: &on},
		{Paths: []string{"/etc/shadow*", "/**/*.key"}, Diff: &off},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func entry(t *testing.T, root, path, content string) baseline.Entry {
	full := filepath.Join(root, path)
	os.MkdirAll(filepath.Dir(full), 0o755)
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return baseline.Entry{Path: path, Type: baseline.TypeRegular, Size: int64(len(content)), Digest: sha256.Sum256([]byte(content))}
}

// TestKeepAndAnnotate: text under a diff table is kept and diffed; a
// secret, a binary and a file too large are not kept; a changed secret
// says its content is not shown.
func TestKeepAndAnnotate(t *testing.T) {
	root := t.TempDir()
	rs := rules(t)
	entries := []baseline.Entry{
		entry(t, root, "/etc/app.conf", "a=1\nb=2\n"),
		entry(t, root, "/etc/blob", "\x00\x01\xff"),
		entry(t, root, "/etc/big", strings.Repeat("x", 100)),
		entry(t, root, "/etc/shadow", "root:*:1::::::\n"),
		entry(t, root, "/etc/tls/site.key", "KEY\n"),
		entry(t, root, "/usr/share/doc", "text\n"),
	}
	baseline.SortEntries(entries)
	kept := Keep(root, baseline.Pack(entries), baseline.SHA256, rs, 64)
	if len(kept) != 1 || kept["/etc/app.conf"] == nil {
		t.Fatalf("kept %v, want only /etc/app.conf", kept)
	}
	os.WriteFile(filepath.Join(root, "etc/app.conf"), []byte("a=1\nb=3\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/shadow"), []byte("root:*:1::::::\nmallory:x\n"), 0o644)
	findings := []baseline.Finding{
		{Path: "/etc/app.conf", Kind: baseline.Modified, Changes: baseline.AttrContent},
		{Path: "/etc/shadow", Kind: baseline.Modified, Changes: baseline.AttrContent},
		{Path: "/etc/big", Kind: baseline.Modified, Changes: baseline.AttrContent},
		{Path: "/usr/share/doc", Kind: baseline.Modified, Changes: baseline.AttrContent},
	}
	Annotate(root, findings, kept, rs, 64)
	want := "--- baked/etc/app.conf\n+++ now/etc/app.conf\n@@ -1,2 +1,2 @@\n a=1\n-b=2\n+b=3\n"
	if findings[0].Diff != want {
		t.Errorf("diff:\n%q\nwant\n%q", findings[0].Diff, want)
	}
	if findings[1].Diff != "" || findings[1].DiffNote != NoteSecret {
		t.Errorf("shadow: diff %q note %q", findings[1].Diff, findings[1].DiffNote)
	}
	if findings[2].DiffNote != NoteNotKept || findings[3].DiffNote != "" || findings[3].Diff != "" {
		t.Errorf("notes: big %q, out of diff scope %q", findings[2].DiffNote, findings[3].DiffNote)
	}
}

// TestKeepInParts: a baseline large enough to be read in a part per core
// keeps the text files of every part, and no others.
func TestKeepInParts(t *testing.T) {
	root := t.TempDir()
	entries := []baseline.Entry{
		entry(t, root, "/etc/a.conf", "first\n"),
		entry(t, root, "/etc/m.conf", "middle\n"),
		entry(t, root, "/etc/z.conf", "last\n"),
	}
	for i := range 3 * 4096 {
		name := fmt.Sprintf("/etc/%c%05d", "bnz"[i%3], i) // around and between the three
		entries = append(entries, baseline.Entry{Path: name, Type: baseline.TypeDir, Mode: 0o755})
	}
	baseline.SortEntries(entries)
	kept := Keep(root, baseline.Pack(entries), baseline.SHA256, rules(t), 64)
	if len(kept) != 3 || kept["/etc/a.conf"] == nil || kept["/etc/m.conf"] == nil || kept["/etc/z.conf"] == nil {
		t.Fatalf("kept %d: %v", len(kept), slices.Collect(maps.Keys(kept)))
	}
}

// TestKeepUnderDiffPrefixes: Keep looks only under the keeping patterns'
// literal prefixes, yet finds every file they keep, in spans split across
// parts, one of them by a wildcard in the middle of a pattern.
func TestKeepUnderDiffPrefixes(t *testing.T) {
	on := true
	rs, err := baseline.CompileRules([]baseline.RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/**", "/srv/*/app.conf"}, Diff: &on},
	})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	entries := []baseline.Entry{
		entry(t, root, "/etc/a.conf", "a\n"),
		entry(t, root, "/etc/z.conf", "z\n"),
		entry(t, root, "/srv/x/app.conf", "x\n"),
		entry(t, root, "/srv/y/other.conf", "y\n"),
		entry(t, root, "/usr/u.conf", "u\n"),
		entry(t, root, "/etc0", "not under /etc/\n"),
	}
	for i := range 3 * 4096 {
		for _, dir := range []string{"/etc/d", "/srv/d", "/opt/d"} {
			entries = append(entries, baseline.Entry{Path: fmt.Sprintf("%s%05d", dir, i), Type: baseline.TypeDir, Mode: 0o755})
		}
	}
	baseline.SortEntries(entries)
	kept := Keep(root, baseline.Pack(entries), baseline.SHA256, rs, 64)
	got := slices.Sorted(maps.Keys(kept))
	if want := []string{"/etc/a.conf", "/etc/z.conf", "/srv/x/app.conf"}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}
