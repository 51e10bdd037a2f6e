package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIntruderPlaybook plays the steps of a cover-up by root on a drifted
// host, with Debian's Prometheus scraping the daemon every second under
// the shipped rules. Each step must raise its alert within 5 s, and the
// host must never be exported as clean.
func TestIntruderPlaybook(t *testing.T) {
	t.Parallel()
	// A host with a first-boot path (so it is sealed at the start) and
	// driftd's own config in the image.
	f := newDaemonFixture(t, "\n[[rule]]\npaths = [\"/etc/hostname\"]\nfirst_boot = true\n")
	writeTree(t, f.root, map[string]string{"etc/driftd/driftd.toml": "# the image's driftd config\n"})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatal(r)
	}
	state := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startDaemon(t, f, state, "--web.listen-address", addr)
	prom := startPrometheus(t, "", fmt.Sprintf("      - targets: [%q]\n", addr))
	waitFor(t, 30*time.Second, "Prometheus scrapes driftd", func() bool {
		return strings.Contains(promQuery(t, prom, `up{job="driftd"}`), `"1"]`)
	})

	// The intrusion: a changed sshd config, which taints.
	os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	waitFor(t, 30*time.Second, "SSHDrift and the taint", func() bool {
		a := promAlerts(t, prom)
		return a["SSHDrift"] == "firing" && a["HostReplacementRequired"] == "firing"
	})

	// step times an intruder's step until Prometheus sees what it must:
	// an alert firing, or (seen) a query with a result.
	var table []string
	step := func(name, seen string, do func()) {
		t.Helper()
		start := time.Now()
		do()
		defer func() {
			if t.Failed() {
				t.Logf("driftd's metrics:\n%s", grepMetrics(d.metrics(), "driftd_drift_paths")+grepMetrics(d.metrics(), "driftd_baseline_verified"))
			}
		}()
		waitFor(t, 5*time.Second, seen+" after: "+name, func() bool {
			if strings.ContainsAny(seen, "{(") {
				return strings.Contains(promQuery(t, prom, seen), `"value"`)
			}
			return promAlerts(t, prom)[seen] == "firing"
		})
		took := time.Since(start).Round(100 * time.Millisecond)
		table = append(table, fmt.Sprintf("%-50s %-60s %v", name, seen, took))
		if clean := promQuery(t, prom, `sum(driftd_drift_paths) == 0 and on() driftd_replacement_required == 0`); strings.Contains(clean, `"value"`) {
			t.Errorf("after %s the host is exported as clean: %s", name, clean)
		}
	}

	step("driftd taint clear --reason routine", "TaintCleared", func() {
		if r := driftd(t, nil, "taint", "clear", "--state-dir", state, "--reason", "routine"); r.code != 0 {
			t.Fatal(r)
		}
	})
	if ev := d.events(); !strings.Contains(ev, `"msg":"taint_cleared"`) || !strings.Contains(ev, `"by":{"pid":`) || !strings.Contains(ev, `"uid":0}`) {
		t.Errorf("the taint_cleared event does not name who asked:\n%s", ev)
	}
	driftdFindings := func(n int) string {
		return fmt.Sprintf(`driftd_drift_paths{category="driftd",severity="critical"} >= %d`, n)
	}
	step("edit driftd's config", "DriftdTampered", func() {
		writeTree(t, f.root, map[string]string{"etc/driftd/driftd.toml": "[policy]\nmin_severity = \"none\"\n"})
	})
	step("replace the seal with a seal of the drifted host", driftdFindings(2), func() {
		forged := t.TempDir()
		if r := driftd(t, nil, "seal", "--config", f.config, "--root", f.root, "--state-dir", forged); r.code != 0 {
			t.Fatal(r)
		}
		copyFile(t, filepath.Join(forged, "seal.manifest"), filepath.Join(state, "seal.manifest"))
	})
	step("plant a file in the state dir", driftdFindings(3), func() {
		writeTree(t, state, map[string]string{"findings.json.bak": "{}"})
	})
	// A new key and a baseline of the drifted host, put in place.
	newKey := filepath.Join(t.TempDir(), "evil")
	if r := driftd(t, nil, "keygen", "--out", newKey); r.code != 0 {
		t.Fatal(r)
	}
	step("re-bake the drifted host with a new key, over the baseline file", "BaselineChanged", func() {
		if r := driftd(t, nil, "bake", "--config", f.config, "--root", f.root, "--key", newKey+".key", "--out", f.manifest); r.code != 0 {
			t.Fatal(r)
		}
	})
	copyFile(t, newKey+".pub", f.pub)
	step("replace the public key, SIGHUP", "ConfigReloadFailed", func() {
		d.cmd.Process.Signal(syscall.SIGHUP)
	})
	waitFor(t, 5*time.Second, "the refused baseline taints again", func() bool {
		a := promAlerts(t, prom)
		return a["HostReplacementRequired"] == "firing" && a["ConfigReloadFailed"] == "firing"
	})
	if code, body := d.get("/healthz"); code != 503 {
		t.Errorf("after the refused baseline /healthz %d %s", code, body)
	}
	if s, _ := d.status(); s.BaselineID == "" || !s.Taint.Tainted {
		t.Errorf("after the refused baseline: baseline %q, tainted %v", s.BaselineID, s.Taint.Tainted)
	}

	// A second daemon on the same state dir touches nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := driftdCmd(t, exec.CommandContext(ctx, driftdBin, "run", "--config", f.config, "--root", f.root, "--pubkey", f.pub,
		"--state-dir", state, "--web.listen-address", "127.0.0.1:0"), nil)
	if second.code != exitUnverified {
		t.Errorf("a second daemon: %v", second)
	}

	// Restart with the new key, the seal deleted: refused at start, the
	// seal missing, the host stays marked.
	d.stop()
	os.Remove(filepath.Join(state, "seal.manifest"))
	step("restart with the new key and baseline", `driftd_drift_paths{category="driftd",severity="critical"} >= 1 and on() driftd_baseline_verified == 0`, func() {
		d = startDaemon(t, f, state, "--web.listen-address", addr)
	})
	// The rules evaluate a second after the scrape that shows the restart.
	waitFor(t, 5*time.Second, "BaselineChanged and HostReplacementRequired after the restart", func() bool {
		a := promAlerts(t, prom)
		return a["BaselineChanged"] == "firing" && a["HostReplacementRequired"] == "firing"
	})
	if code, _ := d.get("/healthz"); code != 503 {
		t.Errorf("after the restart onto another baseline /healthz %d", code)
	}
	s, _ := d.status()
	var tampered []string
	for _, f := range s.Findings {
		if f.Category == "driftd" {
			tampered = append(tampered, f.Path+" "+f.Rule)
		}
	}
	if len(tampered) < 1 || !strings.Contains(strings.Join(tampered, "\n"), "(pinned baseline)") {
		t.Errorf("after the restart, driftd findings: %q", tampered)
	}
	t.Logf("cover-up step, alert, seconds to firing:\n%s", strings.Join(table, "\n"))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
