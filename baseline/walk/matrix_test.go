package walk

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/baseline/manifest"

	"golang.org/x/sys/unix"
)

// file is one literal in a test tree: a regular file unless link or dir.
type file struct {
	content string
	mode    os.FileMode
	link    string // symlink target
	dir     bool
}

// writeTree writes files into root with a fixed mtime, so that only what a
// test changes afterwards differs.
func writeTree(t testing.TB, root string, files map[string]file) {
	t.Helper()
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		f := files[name]
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.dir:
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case f.link != "":
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			mode := f.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(p, []byte(f.content), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil { // past the umask, with setuid
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRules(t testing.TB, cfg []baseline.RuleConfig) *baseline.Rules {
	t.Helper()
	rules, err := baseline.CompileRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func walkTree(t testing.TB, root string, rules *baseline.Rules) []baseline.Entry {
	t.Helper()
	w := &Walker{Root: root, Rules: rules, Workers: 2}
	entries, err := w.Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// summary renders findings as "kind path [changes]" lines, sorted.
func summary(res baseline.Result) []string {
	var out []string
	for _, f := range res.Findings {
		s := f.Kind.String() + " " + f.Path
		if f.Kind == baseline.Modified {
			s += " [" + strings.Join(f.Changes.Names(), ",") + "]"
		}
		out = append(out, s)
	}
	for _, u := range res.Unverified {
		out = append(out, "unverified "+u.Path+": "+u.Reason)
	}
	slices.Sort(out)
	return out
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s (make test installs attr, acl and libcap2-bin)", name, strings.Join(args, " "), err, out)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test changes owners and capabilities: run it as root (as make test and CI do)")
	}
}

var matrixTree = map[string]file{
	"/etc/app.conf":      {content: "listen = 8080\n"},
	"/etc/inode.conf":    {content: "same\n"},
	"/etc/plain.conf":    {content: "same\n"},
	"/etc/current":       {link: "app.conf"},
	"/bin/tool":          {content: "\x7fELF tool", mode: 0o755},
	"/data/empty":        {content: ""},
	"/data/keep":         {content: "keep me"},
	"/data/sub/file":     {content: "in sub"},
	"/data/sub/deep/one": {content: "one"},
}

var matrixRules = []baseline.RuleConfig{
	{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
	{Paths: []string{"/etc/inode.conf"}, Category: "config", Severity: "high", Attributes: []string{"+inode"}},
}

func TestMutationMatrix(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		mutate func(t *testing.T, root string)
		want   []string
	}{
		{"content changed, mtime put back", func(t *testing.T, root string) {
			p := filepath.Join(root, "etc/app.conf")
			fi, _ := os.Stat(p)
			os.WriteFile(p, []byte("listen = 9090\n"), 0o644)
			os.Chtimes(p, fi.ModTime(), fi.ModTime()) // touch -r
		}, []string{"modified /etc/app.conf [content]"}},
		{"chmod", func(t *testing.T, root string) {
			os.Chmod(filepath.Join(root, "etc/app.conf"), 0o666)
		}, []string{"modified /etc/app.conf [mode]"}},
		{"setuid added", func(t *testing.T, root string) {
			unix.Chmod(filepath.Join(root, "bin/tool"), 0o4755) // os.Chmod wants os.ModeSetuid
		}, []string{"modified /bin/tool [mode]"}},
		{"chown", func(t *testing.T, root string) {
			os.Lchown(filepath.Join(root, "etc/app.conf"), 1000, 1000)
		}, []string{"modified /etc/app.conf [uid,gid]"}},
		{"symlink retargeted", func(t *testing.T, root string) {
			p := filepath.Join(root, "etc/current")
			os.Remove(p)
			os.Symlink("plain.conf", p)
		}, []string{"modified /etc/current [target]"}},
		{"file replaced by a symlink", func(t *testing.T, root string) {
			p := filepath.Join(root, "etc/app.conf")
			os.Remove(p)
			os.Symlink("plain.conf", p)
		}, []string{"modified /etc/app.conf [type]"}},
		{"file replaced by a directory", func(t *testing.T, root string) {
			p := filepath.Join(root, "etc/app.conf")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, []string{"modified /etc/app.conf [type]"}},
		{"new hard link", func(t *testing.T, root string) {
			os.Link(filepath.Join(root, "data/keep"), filepath.Join(root, "data/keep2"))
		}, []string{"added /data/keep2", "modified /data/keep [nlink]"}},
		{"xattr set", func(t *testing.T, root string) {
			run(t, "setfattr", "-n", "user.origin", "-v", "manual", filepath.Join(root, "etc/app.conf"))
		}, []string{"modified /etc/app.conf [xattrs]"}},
		{"POSIX ACL set", func(t *testing.T, root string) {
			run(t, "setfacl", "-m", "u:nobody:r", filepath.Join(root, "etc/app.conf"))
		}, []string{"modified /etc/app.conf [xattrs]"}},
		{"file capability set", func(t *testing.T, root string) {
			run(t, "setcap", "cap_net_raw+ep", filepath.Join(root, "bin/tool"))
		}, []string{"modified /bin/tool [xattrs]"}},
		{"new file", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "etc/new.conf"), []byte("x"), 0o644)
		}, []string{"added /etc/new.conf"}},
		{"new file in a new directory", func(t *testing.T, root string) {
			os.Mkdir(filepath.Join(root, "opt"), 0o755)
			os.WriteFile(filepath.Join(root, "opt/backdoor"), []byte("x"), 0o755)
		}, []string{"added /opt", "added /opt/backdoor"}},
		{"file deleted", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "data/keep"))
		}, []string{"removed /data/keep"}},
		{"directory deleted", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "data/sub"))
		}, []string{"removed /data/sub", "removed /data/sub/deep", "removed /data/sub/deep/one", "removed /data/sub/file"}},
		{"empty file grown", func(t *testing.T, root string) {
			f, _ := os.OpenFile(filepath.Join(root, "data/empty"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("grown")
			f.Close()
		}, []string{"modified /data/empty [content,size,mtime]"}},
		{"rename-over, identical content, rule without inode", func(t *testing.T, root string) {
			renameOver(t, filepath.Join(root, "etc/plain.conf"))
		}, nil},
		{"rename-over, identical content, rule with inode", func(t *testing.T, root string) {
			renameOver(t, filepath.Join(root, "etc/inode.conf"))
		}, []string{"modified /etc/inode.conf [inode]"}},
	}
	rules := mustRules(t, matrixRules)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, matrixTree)
			base := walkTree(t, root, rules)
			tt.mutate(t, root)
			got := summary(baseline.Compare(baseline.BaseOf(baseline.Pack(base)), walkTree(t, root, rules), rules))
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// renameOver replaces p with a copy of itself, as editors and config
// management do: same content, same mtime, a new inode.
func renameOver(t *testing.T, p string) {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, fi.Mode()); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

func TestUntouchedTreeIsCleanThreeTimes(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, matrixTree)
	rules := mustRules(t, matrixRules)
	base := walkTree(t, root, rules)
	if len(base) != 15 { // 9 literals, 5 directories, the root
		t.Fatalf("baked %d entries, want 15", len(base))
	}
	for i := range 3 {
		res := baseline.Compare(baseline.BaseOf(baseline.Pack(base)), walkTree(t, root, rules), rules)
		if !res.Clean() {
			t.Fatalf("check %d of an untouched tree: %v", i+1, summary(res))
		}
	}
}

func TestWalkSpecialFiles(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	writeTree(t, root, map[string]file{"/etc/a": {content: "a"}})
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	if err := unix.Bind(sock, &unix.SockaddrUnix{Name: filepath.Join(root, "sock")}); err != nil {
		t.Fatal(err)
	}
	// A FIFO with no writer would block a reader forever: the walk must
	// record it without opening it, so it finishes.
	done := make(chan []baseline.Entry)
	go func() { done <- walkTree(t, root, mustRules(t, matrixRules)) }()
	var entries []baseline.Entry
	select {
	case entries = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("walk hung on a FIFO")
	}
	types := map[string]baseline.Type{}
	for _, e := range entries {
		types[e.Path] = e.Type
		if e.Err != "" {
			t.Errorf("%s: %s", e.Path, e.Err)
		}
		if e.Path == "/null" && e.Rdev != unix.Mkdev(1, 3) {
			t.Errorf("/null rdev = %#x", e.Rdev)
		}
	}
	want := map[string]baseline.Type{"/": baseline.TypeDir, "/etc": baseline.TypeDir, "/etc/a": baseline.TypeRegular, "/fifo": baseline.TypeFIFO, "/null": baseline.TypeCharDevice, "/sock": baseline.TypeSocket}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("types = %v, want %v", types, want)
	}
}

func TestWalkStaysOnOneFilesystem(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	writeTree(t, root, map[string]file{"/etc/a": {content: "a"}, "/mnt/.keep": {content: ""}})
	mnt := filepath.Join(root, "mnt")
	if err := unix.Mount("none", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(mnt, "inside"), []byte("x"), 0o644)
	rules := mustRules(t, matrixRules)

	paths := func(cross bool) []string {
		w := &Walker{Root: root, Rules: rules, Workers: 2, CrossFilesystems: cross}
		entries, err := w.Walk(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, e := range entries {
			ps = append(ps, e.Path)
			if e.Path == "/mnt" { // the mounted filesystem's root, as lstat sees it
				var st unix.Stat_t
				unix.Lstat(mnt, &st)
				if e.Err != "" || e.Type != baseline.TypeDir || e.Inode != st.Ino || e.Mode != st.Mode&0o7777 {
					t.Errorf("cross %v: /mnt recorded as %+v, lstat gives inode %d mode %o", cross, e, st.Ino, st.Mode)
				}
			}
		}
		return ps
	}
	if got, want := paths(false), []string{"/", "/etc", "/etc/a", "/mnt"}; !slices.Equal(got, want) {
		t.Errorf("one filesystem: %v, want %v", got, want)
	}
	if got, want := paths(true), []string{"/", "/etc", "/etc/a", "/mnt", "/mnt/inside"}; !slices.Equal(got, want) {
		t.Errorf("cross filesystems: %v, want %v", got, want)
	}
}

func TestRawByteNamesRoundTrip(t *testing.T) {
	root := t.TempDir()
	names := []string{"/new\nline", "/bad\xff\xfeutf8", "/tab\there", "/ünïcode", "/back\\slash"}
	tree := map[string]file{}
	for _, n := range names {
		tree[n] = file{content: n}
	}
	tree["/link"] = file{link: "target\nwith\xffbytes"}
	writeTree(t, root, tree)
	rules := mustRules(t, matrixRules)
	entries := walkTree(t, root, rules)
	m := encodeDecode(t, entries)
	for _, n := range append(names, "/link") {
		i, found := m.Find(n)
		if !found {
			i = -1
		}
		if i < 0 {
			t.Errorf("%q lost in the manifest", n)
			continue
		}
		if n == "/link" && m.Entries.At(i).Target != "target\nwith\xffbytes" {
			t.Errorf("symlink target = %q", m.Entries.At(i).Target)
		}
	}
	if res := baseline.Compare(baseline.BaseOf(m.Entries), walkTree(t, root, rules), rules); !res.Clean() {
		t.Errorf("decoded manifest differs from the tree: %v", summary(res))
	}
}

func TestUnreadableDirectoryIsUnverifiedNotRemoved(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, matrixTree)
	rules := mustRules(t, matrixRules)
	base := walkTree(t, root, rules)
	observed := walkTree(t, root, rules)
	// Simulate what a listing failure leaves: the directory marked, its
	// children missing.
	var kept []baseline.Entry
	for _, e := range observed {
		if strings.HasPrefix(e.Path, "/data/sub/") {
			continue
		}
		if e.Path == "/data/sub" {
			e.Err = "list directory: permission denied"
		}
		kept = append(kept, e)
	}
	got := summary(baseline.Compare(baseline.BaseOf(baseline.Pack(base)), kept, rules))
	want := []string{"unverified /data/sub: list directory: permission denied"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// encodeDecode round-trips entries through a signed manifest.
func encodeDecode(t testing.TB, entries []baseline.Entry) *baseline.Manifest {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(nil)
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, &baseline.Manifest{Entries: baseline.Pack(entries)}, key); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(buf.Bytes(), pub)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
