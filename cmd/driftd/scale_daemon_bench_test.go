package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// daemonFigures are the daemon's at a tree's scale.
type daemonFigures struct {
	idleRSS int64
	cpuPct  float64
	over    time.Duration
	watched int // directories watched

	// One file added deep in the tree: how long until it was reported,
	// and how it was found (watch: in real time).
	seen    time.Duration
	foundBy string

	// A storm of creations: how many, how long until all were reported,
	// and the peak RSS meanwhile.
	storm     int
	stormTook time.Duration
	stormPeak int64
}

// daemonAtScale runs the daemon on the fixture until its first full check
// is done, lets it settle, and measures its RSS and CPU while idle. Then,
// unless storm is 0, it adds a file in directory deep and a storm of files
// in a new directory, and measures how they are reported. What it adds it
// removes.
func daemonAtScale(b *testing.B, f *fixture, deep string, storm int) daemonFigures {
	d := startDaemon(b, f, b.TempDir(), "--baseline", f.manifest)
	s := awaitFullCheck(b, d)
	if len(s.Findings) > 0 {
		b.Fatalf("the daemon's first check of an unchanged tree found %d findings, first %s", len(s.Findings), s.Findings[0].Path)
	}
	time.Sleep(10 * time.Second)
	const over = 30 * time.Second
	pid := d.cmd.Process.Pid
	cpu0, _ := procStat(b, pid)
	time.Sleep(over)
	cpu1, rss := procStat(b, pid)
	out := daemonFigures{idleRSS: rss, cpuPct: 100 * (cpu1 - cpu0).Seconds() / over.Seconds(), over: over, watched: s.Watch.Directories}
	if storm == 0 { // not a tree of our own to write in
		d.cmd.Process.Kill()
		return out
	}

	out.seen, out.foundBy = reportedAdded(b, d, f.root, deep+"/driftd-bench-change", 5*time.Minute)

	dir := filepath.Join(f.root, "driftd-bench-storm")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out.storm, out.stormPeak = storm, rss
	done := make(chan error, 1)
	go func() {
		for i := range storm {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d", i)), nil, 0o644); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	start := time.Now()
	// The finding of the deep file stays; the storm's come on top.
	want := fmt.Sprintf(`driftd_drift_paths{category="system",severity="high"} %d`+"\n", storm+1)
	for !strings.Contains(d.metrics(), want) {
		_, rss := procStat(b, pid)
		out.stormPeak = max(out.stormPeak, rss)
		select {
		case <-d.exited:
			b.Fatalf("the daemon died in the storm\n%s", d.logs())
		default:
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("not all %d files reported after 10 minutes:\n%s", storm, grepMetrics(d.metrics(), "driftd_drift"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	out.stormTook = time.Since(start)
	d.cmd.Process.Kill()
	return out
}

// awaitFullCheck waits for the daemon's first full check and returns its
// status then.
func awaitFullCheck(b *testing.B, d *daemon) reporter.StatusJSON {
	start := time.Now()
	for {
		s, _ := d.status()
		if s.Scans["full"].Entries > 0 {
			return s
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatalf("no full check after 15 minutes\n%s", d.logs())
		}
		time.Sleep(time.Second)
	}
}

// reportedAdded adds the file path below root (removed again before it
// returns), and says how long the daemon took to report it and how it
// found it.
func reportedAdded(b *testing.B, d *daemon, root, path string, within time.Duration) (time.Duration, string) {
	p := filepath.Join(root, path)
	if err := os.WriteFile(p, []byte("drift\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(p)
	start := time.Now()
	for {
		for _, line := range strings.Split(d.events(), "\n") {
			var ev struct {
				Msg, Path string
				FoundBy   string `json:"found_by"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "drift" && ev.Path == path {
				return time.Since(start), ev.FoundBy
			}
		}
		if time.Since(start) > within {
			b.Fatalf("%s not reported after %v\n%s", p, within, d.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cappedDaemon runs the daemon with its watch capped at a tenth of the
// tree's directories and a fast scan every 15 s, and adds a file in the
// last directory of the tree: past the cap, the fast scan must find it.
func cappedDaemon(b *testing.B, f *fixture, dirs int, deep string) (seen time.Duration, foundBy string, s reporter.StatusJSON) {
	config, err := os.ReadFile(f.config)
	if err != nil {
		b.Fatal(err)
	}
	capped := *f
	capped.config = filepath.Join(f.dir, "capped.toml")
	text := strings.Replace(string(config), `fast_interval = "1h"`, `fast_interval = "15s"`, 1)
	text = fmt.Sprintf("[watch]\nmax_directories = %d\n", max(dirs/10, 1)) + text
	os.WriteFile(capped.config, []byte(text), 0o644)
	d := startDaemon(b, &capped, b.TempDir(), "--baseline", f.manifest)
	s = awaitFullCheck(b, d)
	seen, foundBy = reportedAdded(b, d, f.root, deep+"/driftd-bench-capped", 5*time.Minute)
	d.cmd.Process.Kill()
	return seen, foundBy, s
}
