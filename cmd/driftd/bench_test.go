package main

import (
	"os/exec"
	"slices"
	"strings"
	"syscall"
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
	cmd := exec.Command(name, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			b.Fatalf("%s: %v", name, err)
		}
	}
	if code != wantExit {
		b.Fatalf("%s %s: exit %d, want %d\n%s", name, strings.Join(args, " "), code, wantExit, out)
	}
	return procRun{wall: wall, rss: cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024, out: string(out)}
}

// best is the run with the least wall time.
func best(runs []procRun) procRun {
	return slices.MinFunc(runs, func(a, b procRun) int { return int(a.wall - b.wall) })
}
