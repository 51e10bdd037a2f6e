// Package packaging holds what ships besides the binary: the nfpm config
// and maintainer scripts, the default config, the systemd units' tests,
// the Prometheus rules, the Grafana dashboard and the examples. Its tests
// build the packages with `make package` and install them for real.
package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v2"
)

// run runs a command and returns its combined output, failing the test
// when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var (
	buildOnce        sync.Once
	debPath, rpmPath string
	buildErr         string
)

// packages builds the .deb and the .rpm once, with the Makefile's target.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	buildOnce.Do(func() {
		dist, err := os.MkdirTemp("", "driftd-dist")
		if err != nil {
			buildErr = err.Error()
			return
		}
		out, err := exec.Command("make", "-C", "..", "package", "DIST="+dist).CombinedOutput()
		if err != nil {
			buildErr = "make package: " + err.Error() + "\n" + string(out)
			return
		}
		debs, _ := filepath.Glob(filepath.Join(dist, "driftd_*_amd64.deb"))
		rpms, _ := filepath.Glob(filepath.Join(dist, "driftd-*.x86_64.rpm"))
		if len(debs) != 1 || len(rpms) != 1 {
			buildErr = "make package made " + strings.Join(append(debs, rpms...), ", ")
			return
		}
		debPath, rpmPath = debs[0], rpms[0]
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return debPath, rpmPath
}

// TestDeb installs the .deb on this machine with dpkg, runs driftd from
// /usr/bin, checks the installed files against the package (dpkg -V),
// verifies the installed units and rates the daemon's sandbox, then purges
// it and checks nothing is left.
func TestDeb(t *testing.T) {
	deb, _ := packages(t)
	if out, err := exec.Command("dpkg-query", "-W", "driftd").CombinedOutput(); err == nil {
		t.Fatalf("driftd is installed on this machine already (%s): the test would replace it", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("dpkg", "--purge", "driftd").Run() })
	run(t, "dpkg", "-i", deb)

	version := run(t, "/usr/bin/driftd", "version")
	if want := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(deb), "driftd_"), "_amd64.deb"); !strings.HasPrefix(version, "driftd "+want+" ") {
		t.Errorf("/usr/bin/driftd version: %q, want driftd %s", version, want)
	}
	if out := run(t, "dpkg", "-V", "driftd"); out != "" {
		t.Errorf("dpkg -V driftd is not clean:\n%s", out)
	}
	files := run(t, "dpkg", "-L", "driftd")
	for _, f := range []string{
		"/usr/bin/driftd", "/etc/driftd/driftd.toml",
		"/usr/lib/systemd/system/driftd.service", "/usr/lib/systemd/system/driftd-check.service", "/usr/lib/systemd/system/driftd-check.timer",
		"/usr/share/doc/driftd/README.md", "/usr/share/doc/driftd/prometheus/driftd-alerts.yml", "/usr/share/doc/driftd/grafana/driftd-dashboard.json",
		"/usr/share/doc/driftd/examples/packer/driftd.pkr.hcl", "/usr/share/doc/driftd/examples/imagebuilder/driftd-component.yml",
		"/usr/share/doc/driftd/examples/docker/Dockerfile",
		"/usr/share/man/man1/driftd.1", "/usr/share/man/man1/driftd-check.1", "/usr/share/man/man1/driftd-taint-clear.1",
		"/usr/share/bash-completion/completions/driftd", "/usr/share/zsh/vendor-completions/_driftd",
		"/usr/share/fish/vendor_completions.d/driftd.fish",
	} {
		if !slices.Contains(strings.Split(files, "\n"), f) {
			t.Errorf("the package lacks %s", f)
		}
	}
	if conffiles := run(t, "dpkg-query", "-W", "-f", "${Conffiles}", "driftd"); !strings.Contains(conffiles, "/etc/driftd/driftd.toml") {
		t.Errorf("driftd.toml is not a conffile: %q", conffiles)
	}
	if data, _ := os.ReadFile("/etc/driftd/driftd.toml"); string(data) != string(mustRead(t, "driftd.toml")) {
		t.Error("the installed config is not the default config")
	}

	units := []string{"/usr/lib/systemd/system/driftd.service", "/usr/lib/systemd/system/driftd-check.service", "/usr/lib/systemd/system/driftd-check.timer"}
	if out, err := exec.Command("systemd-analyze", append([]string{"verify"}, units...)...).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for unit, max := range map[string]float64{"driftd.service": 2.0, "driftd-check.service": 2.0} {
		out := run(t, "systemd-analyze", "security", "--offline=true", "/usr/lib/systemd/system/"+unit)
		m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unit) + `: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level for %s:\n%s", unit, out)
		}
		level, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("%s: exposure %.1f", unit, level)
		if level > max {
			t.Errorf("%s: exposure %.1f, want %.1f or lower", unit, level, max)
		}
	}

	run(t, "dpkg", "--purge", "driftd")
	for _, p := range []string{"/usr/bin/driftd", "/etc/driftd", "/usr/lib/systemd/system/driftd.service", "/usr/share/doc/driftd"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after the purge", p)
		}
	}
	if err := exec.Command("dpkg-query", "-W", "driftd").Run(); err == nil {
		t.Error("dpkg still knows driftd after the purge")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRpm installs the .rpm into a temporary root with the rpm tool. The
// root gets a shell (dash and its libraries), so that the maintainer
// scripts run there as on a host without systemd, and must succeed.
func TestRpm(t *testing.T) {
	_, rpm := packages(t)
	root := t.TempDir()
	shell, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	copyIn := func(p string) {
		dst := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		run(t, "cp", "-L", p, dst)
	}
	copyIn(shell)
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	if shell != "/bin/sh" {
		os.Symlink(shell, filepath.Join(root, "bin/sh"))
	}
	for _, lib := range regexp.MustCompile(`(/[^ ]+\.so[^ ]*) `).FindAllStringSubmatch(run(t, "ldd", shell)+" ", -1) {
		copyIn(lib[1])
	}
	run(t, "rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
	out, err := exec.Command("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", rpm).CombinedOutput()
	if err != nil || strings.Contains(string(out), "scriptlet failed") {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	list := strings.Split(run(t, "rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-ql", "driftd"), "\n")
	for _, f := range []string{"/usr/bin/driftd", "/etc/driftd/driftd.toml", "/usr/lib/systemd/system/driftd.service", "/usr/share/doc/driftd/prometheus/driftd-alerts.yml"} {
		if !slices.Contains(list, f) {
			t.Errorf("rpm -ql lacks %s:\n%s", f, strings.Join(list, "\n"))
		}
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("%s not installed: %v", f, err)
		}
	}
	if cfg := run(t, "rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-qc", "driftd"); strings.TrimSpace(cfg) != "/etc/driftd/driftd.toml" {
		t.Errorf("rpm config files: %q", cfg)
	}
	if v := run(t, filepath.Join(root, "usr/bin/driftd"), "version"); !strings.HasPrefix(v, "driftd ") {
		t.Errorf("driftd version from the rpm: %q", v)
	}
}

// TestAlertRules checks the alerting rules with promtool and runs their
// unit tests.
func TestAlertRules(t *testing.T) {
	out := run(t, "promtool", "check", "rules", "prometheus/driftd-alerts.yml")
	if !strings.Contains(out, "SUCCESS: 17 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	cmd := exec.Command("promtool", "test", "rules", "driftd-alerts_test.yml")
	cmd.Dir = "prometheus"
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
	// Every alert the issue names is there, and each has a unit test.
	rules, tests := string(mustRead(t, "prometheus/driftd-alerts.yml")), string(mustRead(t, "prometheus/driftd-alerts_test.yml"))
	for _, a := range []string{"DriftDetected", "SSHDrift", "SSHLogin", "HostReplacementRequired", "BaselineUnverified", "DriftAgentDown", "ScanStale", "CheckStale", "WatchDegraded", "PackageDrift", "TaintCleared", "BaselineChanged", "ConfigReloadFailed", "DriftdTampered", "ContainerDrift", "ContainerReplacementRequired", "ContainerUnverified"} {
		if !strings.Contains(rules, "alert: "+a+"\n") {
			t.Errorf("no alert %s", a)
		}
		if !regexp.MustCompile(`alertname: ` + a + `\n\s+exp_alerts:`).MatchString(tests) {
			t.Errorf("no unit test where %s fires", a)
		}
	}
}

// contract is the metrics table of design.md, and what the issues added to
// it (the README's Metrics table): what rules and dashboards may rely on.
var contract = []string{
	"driftd_build_info", "driftd_baseline_info", "driftd_baseline_verified", "driftd_drift_paths",
	"driftd_drift_events_total", "driftd_package_drift", "driftd_ssh_sessions", "driftd_ssh_logins_total",
	"driftd_replacement_required", "driftd_last_scan_timestamp_seconds", "driftd_scan_duration_seconds",
	"driftd_scan_errors_total", "driftd_watch_directories", "driftd_watch_overflows_total",
	// Tamper evidence: every step of a cover-up is counted.
	"driftd_taint_clears_total", "driftd_baseline_changes_total", "driftd_config_reload_failures_total",
	"driftd_config_last_reload_successful",
	// Who changed it: the running attribution backend.
	"driftd_attribution_info", "driftd_attribution_overflows_total",
	// Containers: per container, gone with it (README, Metrics).
	"driftd_containers", "driftd_container_info", "driftd_container_drift_paths", "driftd_container_unverified",
	"driftd_container_replacement_required", "driftd_container_hook_runs_total",
}

// TestDashboardAndRulesUseTheContract: the dashboard and the alert rules
// use only contract metrics (and Prometheus's up), and the dashboard is
// valid JSON with a query in every panel.
func TestDashboardAndRulesUseTheContract(t *testing.T) {
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	data := mustRead(t, "grafana/driftd-dashboard.json")
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.Title == "" || len(dash.Panels) < 10 {
		t.Errorf("dashboard %q with %d panels", dash.Title, len(dash.Panels))
	}
	metric := regexp.MustCompile(`\b(driftd_[a-z_]+|up)\b`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue // a row only heads the panels below it
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range metric.FindAllString(q.Expr, -1) {
				used[m] = true
			}
		}
	}
	for _, m := range metric.FindAllString(string(mustRead(t, "prometheus/driftd-alerts.yml")), -1) {
		used[m] = true
	}
	for m := range used {
		if m != "up" && !slices.Contains(contract, m) {
			t.Errorf("%s is not a contract metric", m)
		}
	}
	if len(used) < 12 {
		t.Errorf("only %d metrics used: %v", len(used), used)
	}
}

// TestExamples checks what can be checked here of the image pipeline
// examples (Packer, Docker and Image Builder cannot run on this machine):
// in each, driftd bake is the last step, the builder's SSH key is removed
// before it, and the private key never lands on the image's disk.
func TestExamples(t *testing.T) {
	packer := string(mustRead(t, "examples/packer/driftd.pkr.hcl"))
	for _, build := range strings.Split(packer, "\nbuild {")[1:] {
		steps := regexp.MustCompile(`(?m)^\s+(provisioner|post-processor) "`).FindAllStringIndex(build, -1)
		last := build[steps[len(steps)-1][0]:]
		if !strings.Contains(last, "driftd bake") {
			t.Errorf("a Packer build does not bake last:\n%s", last)
		}
		if strings.Contains(build, `source.amazon-ebs`) {
			if i, j := strings.Index(last, "authorized_keys"), strings.Index(last, "driftd bake"); i < 0 || i > j {
				t.Error("amazon-ebs: the builder's SSH key is not removed before the bake")
			}
			if !strings.Contains(build, `destination = "/dev/shm/driftd.key"`) || !strings.Contains(last, "shred -u /dev/shm/driftd.key") {
				t.Error("amazon-ebs: the signing key is not kept in RAM and shredded")
			}
		}
		if strings.Contains(build, `source.amazon-chroot`) && !strings.Contains(last, `provisioner "shell-local"`) {
			t.Error("amazon-chroot: the bake does not run on the build host")
		}
	}

	var component struct {
		Name          string
		Description   string
		SchemaVersion string `yaml:"schemaVersion"`
		Parameters    []map[string]struct {
			Type        string
			Default     string
			Description string
		}
		Phases []struct {
			Name  string
			Steps []struct {
				Name   string
				Action string
				Inputs struct{ Commands []string }
			}
		}
	}
	if err := yaml.UnmarshalStrict(mustRead(t, "examples/imagebuilder/driftd-component.yml"), &component); err != nil {
		t.Fatalf("Image Builder component: %v", err)
	}
	build := component.Phases[0]
	cmds := build.Steps[len(build.Steps)-1].Inputs.Commands
	if build.Name != "build" || !strings.Contains(strings.Join(cmds, "\n"), "driftd bake") || !strings.HasPrefix(cmds[len(cmds)-1], "shred -u /dev/shm/") {
		t.Errorf("Image Builder: the build phase does not end with the bake and the key's shredding: %q", cmds)
	}

	docker := string(mustRead(t, "examples/docker/Dockerfile"))
	instr := regexp.MustCompile(`(?m)^(RUN|COPY|ADD|ENV|USER|WORKDIR)\b.*$`).FindAllString(docker, -1)
	if last := instr[len(instr)-1]; !strings.HasPrefix(last, "RUN --mount=type=secret,id=driftd_key") {
		t.Errorf("Dockerfile: the last instruction is %q, want the bake with the key as a secret", last)
	}
}
