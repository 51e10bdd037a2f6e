package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procRun is one timed process: wall time and peak RSS.
type procRun struct {
	wall time.Duration
	rss  int64 // bytes
	out  string
}

func timed(b *testing.B, wantExit int, name string, args ...string) procRun {
	b.Helper()
	// The peak RSS comes from GNU time, which forks: a child that Go
	// starts itself shares this process's memory until its exec (vfork),
	// and the kernel carries that memory's peak into the child's maxrss,
	// so every child would report at least the benchmark's own peak.
	rssFile := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, name}, args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			b.Fatalf("%s: %v (make bench installs GNU time)", name, err)
		}
	}
	if code != wantExit {
		b.Fatalf("%s %s: exit %d, want %d\n%s", name, strings.Join(args, " "), code, wantExit, out)
	}
	data, _ := os.ReadFile(rssFile)
	fields := strings.Fields(string(data)) // "Command exited with non-zero status 1" comes first
	var kib int64
	if len(fields) > 0 {
		kib, err = strconv.ParseInt(fields[len(fields)-1], 10, 64)
	}
	if len(fields) == 0 || err != nil {
		b.Fatalf("GNU time's peak RSS for %s: %q", name, data)
	}
	return procRun{wall: wall, rss: kib * 1024, out: string(out)}
}

// best is the run with the least wall time.
func best(runs []procRun) procRun {
	return slices.MinFunc(runs, func(a, b procRun) int { return int(a.wall - b.wall) })
}
