package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// driftdBin is the real binary, built once for all tests in this package.
var driftdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // the unprivileged test runs it too
	driftdBin = filepath.Join(dir, "driftd")
	build := append(append([]string{"build"}, raceBuild...), "-o", driftdBin, ".")
	if out, err := exec.Command("go", build...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build driftd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// driftd runs the binary; env entries are added to the environment.
func driftd(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return driftdCmd(t, exec.Command(driftdBin, args...), env)
}

func driftdCmd(t testing.TB, cmd *exec.Cmd, env []string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// fixture is a small image root with a key pair and a config, baked.
type fixture struct {
	dir, root, config, key, pub, manifest string
}

const testConfig = `[baseline]
path = "/etc/driftd/baseline.manifest"
public_key = "/etc/driftd/baseline.pub"

[[rule]]
paths = ["/**"]
category = "system"
severity = "medium"

[[rule]]
paths = ["/etc/**"]
category = "config"
severity = "high"

[[rule]]
paths = ["/etc/ssh/**"]
category = "ssh"
severity = "critical"

[[rule]]
paths = ["/etc/driftd/baseline.manifest", "/var/log/**"]
ignore = true
`

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{
		dir:    dir,
		root:   filepath.Join(dir, "root"),
		config: filepath.Join(dir, "driftd.toml"),
		key:    filepath.Join(dir, "k.key"),
		pub:    filepath.Join(dir, "k.pub"),
	}
	f.manifest = filepath.Join(f.root, "etc/driftd/baseline.manifest")
	files := map[string]string{
		"etc/hostname":         "web-1\n",
		"etc/ssh/sshd_config":  "PermitRootLogin no\n",
		"usr/bin/tool":         "#!/bin/sh\necho tool\n",
		"usr/share/doc/README": "docs\n",
		"var/log/syslog":       "noise\n",
	}
	for name, content := range files {
		p := filepath.Join(f.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(f.root, "etc/driftd"), 0o755)
	if err := os.WriteFile(f.config, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := driftd(t, nil, "keygen", "--out", filepath.Join(dir, "k")); r.code != 0 {
		t.Fatalf("keygen: %v", r)
	}
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	return f
}

func (f *fixture) bake(t testing.TB, out string, extra ...string) result {
	t.Helper()
	return driftd(t, []string{"SOURCE_DATE_EPOCH=1764201600"}, append([]string{"bake", "--config", f.config, "--root", f.root,
		"--key", f.key, "--out", out, "--label", "image=web", "--label", "version=2026.11.27"}, extra...)...)
}

// check runs driftd check on the fixture; args override the defaults.
func (f *fixture) check(t testing.TB, args ...string) result {
	t.Helper()
	return driftd(t, nil, append([]string{"check", "--config", f.config, "--root", f.root, "--pubkey", f.pub}, args...)...)
}

func checkJSON(t testing.TB, r result) map[string]any {
	t.Helper()
	var j map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("check output is not JSON: %v\n%v", err, r)
	}
	return j
}

func TestCheckCleanThenDrift(t *testing.T) {
	f := newFixture(t)
	r := f.check(t)
	if r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("untouched root: %v", r)
	}
	if r.stderr != "" { // stderr is a pipe here, not a terminal: no progress
		t.Errorf("check wrote to stderr: %q", r.stderr)
	}

	os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	os.WriteFile(filepath.Join(f.root, "var/log/syslog"), []byte("more noise\n"), 0o644) // ignored
	textfile := filepath.Join(f.dir, "driftd.prom")
	r = f.check(t, "--format", "json", "--textfile", textfile)
	if r.code != 1 {
		t.Fatalf("want exit 1 for drift: %v", r)
	}
	j := checkJSON(t, r)
	if j["status"] != "drift" || j["baseline_verified"] != true {
		t.Errorf("status %v verified %v", j["status"], j["baseline_verified"])
	}
	findings := j["findings"].([]any)
	if len(findings) != 1 {
		t.Fatalf("want one finding: %v", r)
	}
	got := findings[0].(map[string]any)
	if got["path"] != "/etc/ssh/sshd_config" || got["kind"] != "modified" || got["category"] != "ssh" ||
		got["severity"] != "critical" || fmt.Sprint(got["changes"]) != "[content size mtime]" {
		t.Errorf("finding = %v", got)
	}
	if got["before"].(map[string]any)["sha256"] == got["after"].(map[string]any)["sha256"] {
		t.Error("before and after digests are equal")
	}

	prom, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`driftd_drift_paths{category="ssh",severity="critical"} 1`,
		`driftd_baseline_verified 1`,
		`driftd_unverified_paths 0`,
		// The bake labels named by metrics.baseline_labels (the default's).
		`driftd_baseline_info{baseline_id="` + j["baseline_id"].(string) + `",image="web",version="2026.11.27"} 1`,
	} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("textfile lacks %q:\n%s", want, prom)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(f.dir, "*.tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestBakeIsDeterministic(t *testing.T) {
	f := newFixture(t)
	a, b := filepath.Join(f.dir, "a.manifest"), filepath.Join(f.dir, "b.manifest")
	f.bake(t, a)
	f.bake(t, b)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Error("two bakes of the same tree with SOURCE_DATE_EPOCH differ")
	}
	r := driftd(t, nil, "show", "--format", "json", "--pubkey", f.pub, a)
	var m struct {
		Verified bool `json:"verified"`
		Header   struct {
			Created int64             `json:"created"`
			Labels  map[string]string `json:"labels"`
		} `json:"header"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("show json: %v\n%v", err, r)
	}
	if !m.Verified || m.Header.Created != 1764201600 || m.Header.Labels["image"] != "web" {
		t.Errorf("show: %+v", m)
	}
}

// TestRawNamesInJSON: names with a newline or invalid UTF-8 come back
// exactly from the JSON output.
func TestRawNamesInJSON(t *testing.T) {
	f := newFixture(t)
	names := []string{"/etc/bad\xffname", "/etc/new\nline"} // sorted
	for _, n := range names {
		os.WriteFile(filepath.Join(f.root, n), []byte("x"), 0o644)
	}
	r := f.check(t, "--format", "json")
	var got []string
	for _, fi := range checkJSON(t, r)["findings"].([]any) {
		fm := fi.(map[string]any)
		p := fm["path"].(string)
		if b64, ok := fm["path_base64"].(string); ok {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			p = string(raw)
		}
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("paths from JSON = %q, want %q", got, names)
	}
	// The text report quotes them, so a newline cannot forge a line.
	r = f.check(t)
	if !strings.Contains(r.stdout, `"/etc/new\nline"`) || !strings.Contains(r.stdout, `"/etc/bad\xffname"`) {
		t.Errorf("text report does not quote raw names:\n%s", r.stdout)
	}
}

func TestDiff(t *testing.T) {
	f := newFixture(t)
	before := filepath.Join(f.dir, "before.manifest")
	f.bake(t, before)
	os.WriteFile(filepath.Join(f.root, "usr/bin/new-tool"), []byte("new"), 0o755)
	os.Chmod(filepath.Join(f.root, "usr/bin/tool"), 0o700)
	after := filepath.Join(f.dir, "after.manifest")
	f.bake(t, after)
	r := driftd(t, nil, "diff", before, after, "--format", "json", "--pubkey", f.pub, "--config", f.config)
	if r.code != exitDrift {
		t.Fatalf("diff of two images that differ: want exit 1: %v", r)
	}
	var d struct {
		Findings []struct {
			Path    string   `json:"path"`
			Kind    string   `json:"kind"`
			Changes []string `json:"changes"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(d.Findings)
	if want := "[{/usr/bin/new-tool added []} {/usr/bin/tool modified [mode]}]"; got != want {
		t.Errorf("diff = %s, want %s", got, want)
	}
	if r := driftd(t, nil, "diff", before, before); r.code != exitOK {
		t.Errorf("diff of an image with itself: want exit 0: %v", r)
	}
}

// TestBadInput: each gives exit 2 and a one-line error naming the file and
// the problem, and nothing says clean.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	good, err := os.ReadFile(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x20
		return b
	}
	// The layout: 8 bytes of magic, a 2-byte version, a 4-byte header length,
	// the header, an 8-byte length and the compressed metadata, an 8-byte
	// length and the digests, then a 64-byte signature.
	metaStart := 8 + 2 + 4 + int(binary.BigEndian.Uint32(good[10:14])) + 8
	older := bytes.Clone(good)
	older[9] = 1
	newer := bytes.Clone(good)
	newer[9] = 99 // the format version after the 8-byte magic
	if r := driftd(t, nil, "keygen", "--out", filepath.Join(f.dir, "other")); r.code != 0 {
		t.Fatal(r)
	}
	badConfig := func(name, old, new string) string {
		return write(name, []byte(strings.Replace(testConfig, old, new, 1)))
	}
	aFile := write("not-a-dir", []byte("x"))

	tests := []struct {
		name string
		args []string
		want []string // in the one error line
	}{
		{"truncated manifest", []string{"--baseline", write("truncated", good[:len(good)/2])},
			[]string{"truncated", "manifest is truncated"}},
		{"flipped byte in the header", []string{"--baseline", write("flip-header", flipped(40))},
			[]string{"flip-header"}},
		{"flipped byte in the entries", []string{"--baseline", write("flip-entries", flipped(metaStart+5))},
			[]string{"flip-entries", "signature does not verify"}},
		{"flipped byte in the digests", []string{"--baseline", write("flip-digests", flipped(len(good)-64-5))},
			[]string{"flip-digests", "signature does not verify"}},
		{"flipped byte in the signature", []string{"--baseline", write("flip-sig", flipped(len(good)-5))},
			[]string{"flip-sig", "signature does not verify"}},
		{"wrong public key", []string{"--pubkey", filepath.Join(f.dir, "other.pub")},
			[]string{f.manifest, "signed by another key"}},
		{"unsigned manifest", []string{"--baseline", write("unsigned", good[:len(good)-64])},
			[]string{"unsigned", "not signed"}},
		{"newer format", []string{"--baseline", write("newer", newer)},
			[]string{"newer", "format 99", "upgrade driftd"}},
		{"older format", []string{"--baseline", write("older", older)},
			[]string{"format 1", "bake the image again"}},
		{"config with an unknown key", []string{"--config", badConfig("unknown.toml", "[[rule]]\npaths = [\"/**\"]", "[[rule]]\npaths = [\"/**\"]\nseverty = \"low\"")},
			[]string{"unknown.toml", "line 7", "unknown key rule.severty"}},
		{"config with a wrong type", []string{"--config", badConfig("type.toml", `category = "system"`, `category = 7`)},
			[]string{"type.toml", "line 7", "rule.category"}},
		{"nonexistent root", []string{"--root", filepath.Join(f.dir, "nope")},
			[]string{filepath.Join(f.dir, "nope"), "no such file or directory"}},
		{"root is a file", []string{"--root", aFile},
			[]string{aFile, "not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.check(t, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2: %v", r.code, r)
			}
			msg := strings.TrimSuffix(r.stderr, "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("want one error line, got %q", r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(strings.ToLower(r.stdout), "clean") {
				t.Errorf("says clean: %q", r.stdout)
			}
		})
	}
	// A textfile still says so when the baseline does not verify, instead of
	// keeping the last good figures.
	textfile := filepath.Join(f.dir, "driftd.prom")
	os.WriteFile(textfile, []byte("driftd_baseline_verified 1\n"), 0o644)
	f.check(t, "--baseline", filepath.Join(f.dir, "flip-sig"), "--textfile", textfile)
	if prom, _ := os.ReadFile(textfile); !strings.Contains(string(prom), "driftd_baseline_verified 0") {
		t.Errorf("textfile after a failed verification:\n%s", prom)
	}
	// Nothing was lost: the good manifest still verifies.
	if r := f.check(t); r.code != 0 {
		t.Errorf("the good manifest no longer checks: %v", r)
	}
}

// TestUnreadableFileIsNotClean: a file the check cannot read is reported
// as unverified (exit 2), never skipped. Run unprivileged, since root reads
// everything.
func TestUnreadableFileIsNotClean(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run the check as nobody (make test and CI run as root)")
	}
	f := newFixture(t)
	secret := filepath.Join(f.root, "etc/hostname")
	os.Chmod(secret, 0)
	for p := f.root; p != "/"; p = filepath.Dir(p) {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(p, fi.Mode().Perm()|0o005)
		}
	}
	if err := os.Chmod(f.pub, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(driftdBin, "check", "--config", f.config, "--root", f.root, "--pubkey", f.pub, "--format", "json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := driftdCmd(t, cmd, nil)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2: %v", r.code, r)
	}
	j := checkJSON(t, r)
	if j["status"] != "unverified" {
		t.Errorf("status = %v", j["status"])
	}
	unverified := fmt.Sprint(j["unverified"])
	if !strings.Contains(unverified, "/etc/hostname") || !strings.Contains(unverified, "permission denied") {
		t.Errorf("unverified = %s", unverified)
	}
}

func TestLabelsAndFlags(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "x.manifest")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--label", "bad-key=1"}, "Prometheus label name"},
		{[]string{"--label", "novalue"}, "want key=value"},
		{[]string{"--label", "a=1", "--label", "a=2"}, "given twice"},
	} {
		r := f.bake(t, out, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("bake %v: %v", tt.args, r)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed bake wrote a manifest")
	}
	if r := driftd(t, nil, "keygen", "--out", filepath.Join(f.dir, "k")); r.code != 2 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("keygen over an existing key: %v", r)
	}
	if r := driftd(t, nil, "config", "default"); r.code != 0 || !strings.Contains(r.stdout, "[[rule]]") {
		t.Errorf("config default: %v", r)
	}
}

// TestProgressOnATerminal: on a terminal, bake draws its progress (entries,
// bytes, rate) on stderr; script(1) gives it a real pty. The quiet side, no
// progress when stderr is not a terminal, is in TestCheckCleanThenDrift.
func TestProgressOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("script(1) from util-linux is needed to give driftd a terminal")
	}
	f := newFixture(t)
	// /usr/share takes long enough to bake for the 200 ms progress ticks.
	cmdline := fmt.Sprintf("%s bake --config %s --root /usr/share --key %s --out %s",
		driftdBin, f.config, f.key, filepath.Join(f.dir, "share.manifest"))
	out, err := exec.Command(script, "-qec", cmdline, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !regexp.MustCompile(`bake: \d+ entries \(~\d+%(, ~[0-9hms]+ left)?\), [\d.]+ [KMG]?i?B hashed, [\d.]+ [KMG]?i?B/s`).Match(out) {
		t.Errorf("no progress line on the terminal:\n%q", out)
	}
}
