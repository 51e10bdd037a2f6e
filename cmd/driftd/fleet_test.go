package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// startServer runs a server process for the test's length and waits until
// url answers 200.
func startServer(t *testing.T, url string, name string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("%s does not answer %s: %v\n%s", name, url, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firing returns the hosts for which alertname is active in Alertmanager.
func firing(t *testing.T, am, alertname string) []string {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		t.Fatalf("alertmanager: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(body, &alerts); err != nil {
		t.Fatalf("alertmanager alerts: %v\n%s", err, body)
	}
	var hosts []string
	for _, a := range alerts {
		if a.Labels["alertname"] == alertname {
			hosts = append(hosts, a.Labels["host"])
		}
	}
	sort.Strings(hosts)
	return hosts
}

// TestFleetAlerts runs three daemons, each on its own root and port, a
// real Prometheus (Debian's) scraping them every second and evaluating the
// shipped alert rules, and a real Alertmanager receiving. An SSH change on
// host 2 fires SSHDrift for host 2 alone within 60 s; stopping host 3 fires
// DriftAgentDown for host 3 alone.
func TestFleetAlerts(t *testing.T) {
	t.Parallel() // most of its minute is waiting for the rule's 1m
	dir := t.TempDir()

	amPort := freePort(t)
	am := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	amConfig := filepath.Join(dir, "alertmanager.yml")
	writeTree(t, dir, map[string]string{"alertmanager.yml": `route:
  receiver: fleet
  group_by: [alertname, host]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: fleet
`})
	startServer(t, am+"/-/ready", "/usr/bin/prometheus-alertmanager", "--config.file="+amConfig,
		"--storage.path="+filepath.Join(dir, "am"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")

	hosts := make([]*daemon, 3)
	roots := make([]string, 3)
	var targets strings.Builder
	for i := range hosts {
		f := newDaemonFixture(t, "")
		hosts[i], roots[i] = startDaemon(t, f, t.TempDir()), f.root
		fmt.Fprintf(&targets, "      - targets: [%q]\n        labels: {host: host%d}\n", hosts[i].addr, i+1)
	}
	prom := startPrometheus(t, fmt.Sprintf("127.0.0.1:%d", amPort), targets.String())

	// All three scraped and clean.
	waitFor(t, 30*time.Second, "Prometheus scrapes the three daemons", func() bool {
		resp, err := http.Get(prom + `/api/v1/query?query=count(up{job="driftd"}==1)`)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `"value":[`) && strings.Contains(string(body), `,"3"]`)
	})

	start := time.Now()
	os.WriteFile(filepath.Join(roots[1], "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	waitFor(t, 60*time.Second, "SSHDrift fires for host 2", func() bool { return len(firing(t, am, "SSHDrift")) > 0 })
	t.Logf("SSHDrift in Alertmanager %v after the change", time.Since(start).Round(100*time.Millisecond))
	if got := firing(t, am, "SSHDrift"); strings.Join(got, ",") != "host2" {
		t.Errorf("SSHDrift fires for %q, want host2 alone", got)
	}

	start = time.Now()
	hosts[2].stop()
	waitFor(t, 120*time.Second, "DriftAgentDown fires for host 3", func() bool { return len(firing(t, am, "DriftAgentDown")) > 0 })
	t.Logf("DriftAgentDown in Alertmanager %v after the stop (the rule waits 1m)", time.Since(start).Round(100*time.Millisecond))
	if got := firing(t, am, "DriftAgentDown"); strings.Join(got, ",") != "host3" {
		t.Errorf("DriftAgentDown fires for %q, want host3 alone", got)
	}
	if got := firing(t, am, "SSHDrift"); strings.Join(got, ",") != "host2" {
		t.Errorf("SSHDrift now fires for %q, want host2 alone", got)
	}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// startPrometheus runs Debian's Prometheus with the shipped alert rules,
// scraping targets (static_configs entries) every second as job driftd and
// sending alerts to alertmanager (host:port; empty: none). It returns its URL.
func startPrometheus(t *testing.T, alertmanager, targets string) string {
	t.Helper()
	rules, err := filepath.Abs("../../packaging/prometheus/driftd-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	alerting := ""
	if alertmanager != "" {
		alerting = fmt.Sprintf("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", alertmanager)
	}
	promPort := freePort(t)
	prom := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	writeTree(t, dir, map[string]string{"prometheus.yml": fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
%sscrape_configs:
  - job_name: driftd
    static_configs:
%s`, rules, alerting, targets)})
	startServer(t, prom+"/-/ready", "/usr/bin/prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prom"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	return prom
}

// promAlerts returns the state of each alert Prometheus holds now, by name.
func promAlerts(t *testing.T, prom string) map[string]string {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/alerts")
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("prometheus alerts: %v", err)
	}
	out := map[string]string{}
	for _, a := range body.Data.Alerts {
		out[a.Labels["alertname"]] = a.State
	}
	return out
}

// promQuery returns the result of an instant query, as Prometheus's JSON.
func promQuery(t *testing.T, prom, query string) string {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// SSH drift held across a daemon restart keeps SSHDrift firing: restored
// findings are exported with their category from the first scrape, and
// the rule outlasts the scrapes missed while the daemon restarts.
func TestAlertsHoldThroughRestart(t *testing.T) {
	t.Parallel()
	// A big file and a slow full scan make the first scan after the
	// restart take seconds, as on a real host.
	f := newDaemonFixture(t, "full_scan_bytes_per_second = 1000000\n")
	writeTree(t, f.root, map[string]string{"usr/share/big": strings.Repeat("x", 3<<20)})
	if r := f.bake(t, f.manifest); r.code != 0 {
		t.Fatal(r)
	}
	state := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startDaemon(t, f, state, "--web.listen-address", addr)
	prom := startPrometheus(t, "", fmt.Sprintf("      - targets: [%q]\n", addr))
	os.WriteFile(filepath.Join(f.root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644)
	waitFor(t, 30*time.Second, "SSHDrift fires", func() bool { return promAlerts(t, prom)["SSHDrift"] == "firing" })

	d.stop()
	stopped := time.Now()
	time.Sleep(3 * time.Second) // systemd's RestartSec: scrapes fail meanwhile
	startDaemon(t, f, state, "--web.listen-address", addr)
	// Watch Prometheus's view through the restart and well past it.
	for time.Since(stopped) < 15*time.Second {
		if s := promAlerts(t, prom)["SSHDrift"]; s != "firing" {
			t.Fatalf("SSHDrift is %q %v after the daemon stopped, want firing throughout", s, time.Since(stopped).Round(time.Millisecond))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := promQuery(t, prom, `count(driftd_drift_paths{category=""})`); strings.Contains(got, `"value"`) {
		t.Errorf("a series with an empty category was exported: %s", got)
	}
}
