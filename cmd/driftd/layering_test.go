package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// imports maps each non-test Go file of the module to what it imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", p)
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			out[rel] = append(out[rel], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayering fails when an import goes against the layering: cmd →
// agent → baseline, reporter beside them, baseline importing none of the
// others; baseline's core (the model: Entry, Rules, Manifest, Finding,
// compare) pure, with no file system, process or syscall access; os/exec
// only where a command is the feature; `driftd check` independent of the
// daemon.
func TestLayering(t *testing.T) {
	execAllowed := map[string]bool{
		"baseline/pkgdb/rpm.go":    true, // rpm, where only its tool reads the database
		"agent/policy/hook.go":     true, // the replacement hook
		"agent/sshdlog_journal.go": true, // journalctl, the journal's reader
	}
	for file, imps := range imports(t) {
		dir := filepath.ToSlash(filepath.Dir(file))
		for _, imp := range imps {
			switch {
			case strings.HasPrefix(dir, "baseline") && (strings.HasPrefix(imp, "driftd/agent") || strings.HasPrefix(imp, "driftd/reporter") || strings.HasPrefix(imp, "driftd/cmd")):
				t.Errorf("%s imports %s: baseline imports none of agent, reporter, cmd", file, imp)
			case strings.HasPrefix(dir, "reporter") && (strings.HasPrefix(imp, "driftd/agent") || strings.HasPrefix(imp, "driftd/cmd")):
				t.Errorf("%s imports %s: reporter imports neither agent nor cmd", file, imp)
			case strings.HasPrefix(dir, "agent") && strings.HasPrefix(imp, "driftd/cmd"):
				t.Errorf("%s imports %s", file, imp)
			case (dir == "baseline/check" || dir == "agent/policy" || dir == "agent/config") && imp == "driftd/agent":
				t.Errorf("%s imports the daemon (driftd/agent): check and the policy must not need it", file)
			case dir == "baseline" && (imp == "os" || imp == "os/exec" || imp == "golang.org/x/sys/unix" || imp == "net" || imp == "syscall"):
				t.Errorf("%s imports %s: baseline's core is the pure model; I/O lives in its leaf packages", file, imp)
			case strings.HasPrefix(imp, "driftd/") && !strings.HasPrefix(dir, "cmd") && layer(dir) < layer(strings.TrimPrefix(imp, "driftd/")):
				t.Errorf("%s imports %s, a layer above it", file, imp)
			case imp == "os/exec" && !execAllowed[filepath.ToSlash(file)]:
				t.Errorf("%s runs processes (os/exec): only the package databases, the hook and the journal's reader do", file)
			case filepath.ToSlash(file) == "cmd/driftd/cmd_check.go" && imp == "driftd/agent":
				t.Errorf("driftd check imports the daemon (driftd/agent)")
			}
		}
	}
}

// layer orders the packages: a package may import only its own layer or
// those below (baseline's core 0, its leaves 1, reporter 2, agent's
// leaves 3, the daemon 4).
func layer(dir string) int {
	switch {
	case dir == "baseline":
		return 0
	case strings.HasPrefix(dir, "baseline/"):
		return 1
	case strings.HasPrefix(dir, "reporter"):
		return 2
	case strings.HasPrefix(dir, "agent/"):
		return 3
	}
	return 4
}
