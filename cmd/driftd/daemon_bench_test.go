package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"driftd/reporter"
)

// localClient talks to a daemon's unix socket.
func localClient(stateDir string) *http.Client {
	socket := filepath.Join(stateDir, "driftd.sock")
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
}

// localStatus asks the local API for the status (of one path, when set).
func localStatus(b testing.TB, c *http.Client, path string) reporter.StatusJSON {
	u := "http://driftd/v1/status"
	if path != "" {
		u += "?path=" + url.QueryEscape(path)
	}
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var s reporter.StatusJSON
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

// lookup asks the local API for one path's finding.
func lookup(b testing.TB, c *http.Client, path string) bool {
	return len(localStatus(b, c, path).Findings) > 0
}

// BenchmarkDetectionLatency: from a write to the finding in the local API,
// over 1000 changes (targets: median under 100 ms, p99 under 500 ms).
func BenchmarkDetectionLatency(b *testing.B) {
	f := newDaemonFixture(b, "")
	state := b.TempDir()
	d := startDaemon(b, f, state)
	c := localClient(state)
	os.Mkdir(filepath.Join(f.root, "etc/bench"), 0o755)
	d.eventually(5*time.Second, "the bench directory", func() bool { return lookup(b, c, "/etc/bench") })
	time.Sleep(200 * time.Millisecond)

	const changes = 1000
	lat := make([]time.Duration, 0, changes)
	b.ResetTimer()
	for i := range changes {
		p := fmt.Sprintf("/etc/bench/f%04d", i)
		start := time.Now()
		if err := os.WriteFile(f.root+p, []byte("change"), 0o644); err != nil {
			b.Fatal(err)
		}
		for !lookup(b, c, p) {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("change %d not seen after 10s\n%s", i, d.logs())
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	median, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	fmt.Printf("\ndetection latency over %d changes: median %v, p99 %v, max %v (targets: median < 100ms, p99 < 500ms)\n",
		changes, median.Round(time.Millisecond/10), p99.Round(time.Millisecond/10), lat[len(lat)-1].Round(time.Millisecond))
	b.ReportMetric(float64(median.Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// procStat reads a process's CPU time (user+system) and its resident set.
func procStat(b testing.TB, pid int) (cpu time.Duration, rss int64) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime 14 and stime 15, in clock ticks (100 a second).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(status); m != nil {
		rss, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, rss * 1024
}

// BenchmarkIdleAndStorm runs the daemon on a /usr-sized baseline (this
// host's /usr, plus an empty directory for the storm): idle for 60 s
// (targets: under 0.5% of one core, RSS under 64 MiB), then 100k files
// created in a watched directory (targets: no crash, RSS under twice the
// idle figure, every file reported).
func BenchmarkIdleAndStorm(b *testing.B) {
	dir := b.TempDir()
	storm := filepath.Join(dir, "storm")
	os.Mkdir(storm, 0o755)
	config := filepath.Join(dir, "driftd.toml")
	os.WriteFile(config, fmt.Appendf(nil, `[baseline]
path = "/unused"
[schedule]
fast_interval = "1h"
full_interval = "24h"
[[rule]]
paths = ["/usr/**", %q]
category = "system"
severity = "high"
`, storm+"/**"), 0o644)
	f := &fixture{dir: dir, root: "/", config: config, key: filepath.Join(dir, "k.key"), pub: filepath.Join(dir, "k.pub"),
		manifest: filepath.Join(dir, "baseline.manifest")}
	driftd(b, nil, "keygen", "--out", filepath.Join(dir, "k"))
	if r := driftd(b, nil, "bake", "--config", config, "--root", "/", "--key", f.key, "--out", f.manifest); r.code != 0 {
		b.Fatal(r)
	}
	state := b.TempDir()
	b.ResetTimer()
	d := startDaemon(b, f, state, "--baseline", f.manifest)
	pid := d.cmd.Process.Pid
	s, _ := d.status()
	time.Sleep(5 * time.Second) // let the first check's garbage go

	const idle = 60 * time.Second
	cpu0, _ := procStat(b, pid)
	time.Sleep(idle)
	cpu1, idleRSS := procStat(b, pid)
	cpuPct := 100 * float64(cpu1-cpu0) / float64(idle)
	fmt.Printf("\nidle daemon, %d entries, %d directories watched, %v: %.3f%% of one core, RSS %.1f MiB (targets: < 0.5%%, < 64 MiB)\n",
		s.Scans["full"].Entries, s.Watch.Directories, idle, cpuPct, float64(idleRSS)/(1<<20))

	const files = 100_000
	peak := idleRSS
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range files {
			if err := os.WriteFile(filepath.Join(storm, fmt.Sprintf("f%06d", i)), nil, 0o644); err != nil {
				panic(err)
			}
		}
	}()
	start := time.Now()
	want := fmt.Sprintf(`driftd_drift_paths{category="system",severity="high"} %d`, files)
	for {
		_, rss := procStat(b, pid)
		peak = max(peak, rss)
		select {
		case <-d.exited:
			b.Fatalf("the daemon died in the storm\n%s", d.logs())
		default:
		}
		if strings.Contains(d.metrics(), want+"\n") {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("not all %d files reported after 5 minutes:\n%s", files, grepMetrics(d.metrics(), "driftd_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-done
	took := time.Since(start)
	final, _ := d.status()
	reported := 0
	for _, fi := range final.Findings {
		if strings.HasPrefix(fi.Path, storm+"/") && fi.Kind == "added" {
			reported++
		}
	}
	overflows := regexp.MustCompile(`driftd_watch_overflows_total (\d+)`).FindStringSubmatch(d.metrics())
	b.StopTimer()
	fmt.Printf("storm of %d creations: %d reported as added in %v (watch overflows: %s), peak RSS %.1f MiB = %.2fx idle (target < 2x)\n",
		files, reported, took.Round(time.Millisecond), overflows[1], float64(peak)/(1<<20), float64(peak)/float64(idleRSS))
	if reported != files {
		b.Errorf("%d of %d files reported", reported, files)
	}
	b.ReportMetric(cpuPct, "idle-cpu-%")
	b.ReportMetric(float64(idleRSS)/(1<<20), "idle-rss-MiB")
	b.ReportMetric(float64(peak)/float64(idleRSS), "storm-rss/idle")
}

// BenchmarkStatusDuringRecheck: how long `driftd status` (the local API)
// takes while the daemon re-checks a 100k-file subtree whose directory was
// chmod'ed (every file below it is walked and hashed again), against the
// same requests on an idle daemon in the same run (target: under 50 ms).
func BenchmarkStatusDuringRecheck(b *testing.B) {
	f := newDaemonFixture(b, "")
	big := filepath.Join(f.root, "usr/share/big")
	for d := range 100 {
		dir := filepath.Join(big, fmt.Sprintf("d%03d", d))
		os.MkdirAll(dir, 0o755)
		for i := range 1000 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte(strings.Repeat("x", i)), 0o644)
		}
	}
	if r := f.bake(b, f.manifest); r.code != 0 {
		b.Fatal(r)
	}
	// The WATCHDOG pings' gaps during the re-check.
	conn := notifySocket(b)
	var pingMu sync.Mutex
	var pings []time.Time
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "WATCHDOG=1" {
				pingMu.Lock()
				pings = append(pings, time.Now())
				pingMu.Unlock()
			}
		}
	}()
	state := b.TempDir()
	d := startDaemon(b, f, state)
	c := localClient(state)
	// timeStatus asks for the status and times the answer; it reports
	// whether a re-check of more than 100k entries has been committed.
	timeStatus := func() (time.Duration, bool) {
		start := time.Now()
		s := localStatus(b, c, "")
		took := time.Since(start)
		sc, ok := s.Scans["watch"]
		return took, ok && sc.Entries > 100000
	}
	var idle []time.Duration
	for range 20 {
		took, _ := timeStatus()
		idle = append(idle, took)
	}
	b.ResetTimer()
	busyFrom := time.Now()
	os.Chmod(big, 0o700)
	// Ask until the re-check has been committed (the watch scan's entries
	// show it), timing each answer meanwhile.
	var busy []time.Duration
	deadline := time.Now().Add(2 * time.Minute)
	for {
		took, done := timeStatus()
		busy = append(busy, took)
		if done {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the re-check did not finish in 2 minutes\n%s", d.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	busyTo := time.Now()
	var maxGap time.Duration
	pingMu.Lock()
	for i := 1; i < len(pings); i++ {
		if pings[i].After(busyFrom) && pings[i-1].Before(busyTo) {
			maxGap = max(maxGap, pings[i].Sub(pings[i-1]))
		}
	}
	pingMu.Unlock()
	fmt.Printf("\nWATCHDOG pings during the re-check: longest gap %v (period 100ms)", maxGap.Round(time.Millisecond))
	slices.Sort(idle)
	slices.Sort(busy)
	fmt.Printf("\nstatus during a 100k-file re-check: median %v, max %v over %d requests; idle median %v (target < 50ms)\n",
		busy[len(busy)/2].Round(time.Millisecond/10), busy[len(busy)-1].Round(time.Millisecond/10), len(busy), idle[len(idle)/2].Round(time.Millisecond/10))
	b.ReportMetric(float64(busy[len(busy)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(maxGap.Microseconds())/1000, "watchdog-gap-ms")
}
