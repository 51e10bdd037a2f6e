package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"driftd/baseline/manifest"
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

// BenchmarkVsAIDE bakes and fully checks one tree with driftd and with AIDE
// (Debian's package), side by side in one run on a warm page cache, and
// prints both sides' figures and the ratios. The tree is DRIFTD_BENCH_ROOT,
// default /usr. AIDE runs once per worker setting (1 to the core count) and
// is credited with its best; driftd gets its best of three.
func BenchmarkVsAIDE(b *testing.B) {
	root := os.Getenv("DRIFTD_BENCH_ROOT")
	if root == "" {
		root = "/usr"
	}
	aide, err := exec.LookPath("aide")
	if err != nil {
		b.Fatal("aide is not installed: make bench installs it")
	}
	dir := b.TempDir()
	driftdConfig := filepath.Join(dir, "driftd.toml")
	// The same attributes as the AIDE rule below: both hash with SHA-256 and
	// record permissions, inode, links, owner, size, mtime, ctime, xattrs and
	// ACLs (ACLs are xattrs to driftd).
	os.WriteFile(driftdConfig, []byte(`[baseline]
path = "/unused"
[[rule]]
paths = ["/**"]
category = "system"
severity = "high"
attributes = ["+inode", "+ctime"]
`), 0o644)
	timed(b, 0, driftdBin, "keygen", "--out", filepath.Join(dir, "k"))
	manifestPath := filepath.Join(dir, "baseline.manifest")
	bakeArgs := []string{"bake", "--config", driftdConfig, "--root", root, "--key", filepath.Join(dir, "k.key"), "--out", manifestPath}
	checkArgs := []string{"check", "--config", driftdConfig, "--root", root, "--baseline", manifestPath, "--pubkey", filepath.Join(dir, "k.pub")}

	b.ResetTimer()
	timed(b, 0, driftdBin, bakeArgs...) // warms the page cache for both sides
	var bakes, checks []procRun
	for range 3 {
		bakes = append(bakes, timed(b, 0, driftdBin, bakeArgs...))
		checks = append(checks, timed(b, 0, driftdBin, checkArgs...))
	}
	bake, check := best(bakes), best(checks)
	m, err := manifest.Read(manifestPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	entries := m.Header.Counts.Entries
	mfi, _ := os.Stat(manifestPath)

	// Loading and verifying the manifest, as check and run do: the median of 7.
	pub, err := manifest.LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		b.Fatal(err)
	}
	var loads []time.Duration
	for range 7 {
		start := time.Now()
		if _, err := manifest.Read(manifestPath, pub); err != nil {
			b.Fatal(err)
		}
		loads = append(loads, time.Since(start))
	}
	slices.Sort(loads)
	load := loads[len(loads)/2]

	type aideRun struct {
		workers     int
		init, check procRun
		db          int64
		entries     int
	}
	var aides []aideRun
	for workers := 1; workers <= runtime.NumCPU(); workers++ {
		conf := filepath.Join(dir, fmt.Sprintf("aide-%d.conf", workers))
		db := filepath.Join(dir, fmt.Sprintf("aide-%d.db.gz", workers))
		os.WriteFile(conf, fmt.Appendf(nil, `database_in=file:%[1]s
database_out=file:%[1]s.new
gzip_dbout=yes
num_workers=%[2]d
report_url=stdout
Driftd = p+i+n+u+g+s+m+c+xattrs+acl+sha256
%[3]s Driftd
`, db, workers, root), 0o644)
		a := aideRun{workers: workers}
		a.init = timed(b, 0, aide, "--config", conf, "--init")
		if err := os.Rename(db+".new", db); err != nil {
			b.Fatal(err)
		}
		a.check = timed(b, 0, aide, "--config", conf, "--check")
		fi, _ := os.Stat(db)
		a.db = fi.Size()
		if m := regexp.MustCompile(`Number of entries:\s+(\d+)`).FindStringSubmatch(a.init.out); m != nil {
			a.entries, _ = strconv.Atoi(m[1])
		}
		aides = append(aides, a)
	}
	b.StopTimer()

	aideInit := best(func() (r []procRun) {
		for _, a := range aides {
			r = append(r, a.init)
		}
		return
	}())
	aideCheck := best(func() (r []procRun) {
		for _, a := range aides {
			r = append(r, a.check)
		}
		return
	}())
	// AIDE's smallest peak RSS over its settings, so the ratio is the
	// conservative one.
	aideRSS := slices.MinFunc(aides, func(x, y aideRun) int { return int(x.check.rss - y.check.rss) }).check.rss
	aideDB := aides[0].db
	mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

	fmt.Printf("\ndriftd vs AIDE on %s (%d entries; AIDE counts %d, %s of files hashed), warm page cache, %d cores\n",
		root, entries, aides[0].entries, mib(m.Header.Counts.Bytes), runtime.NumCPU())
	for _, a := range aides {
		fmt.Printf("  aide num_workers=%d: init %6.2fs (peak RSS %s), check %6.2fs (peak RSS %s)\n",
			a.workers, a.init.wall.Seconds(), mib(a.init.rss), a.check.wall.Seconds(), mib(a.check.rss))
	}
	fmt.Printf("  driftd bake  %6.2fs  vs aide --init best %6.2fs: %5.2fx faster (target 10x)\n",
		bake.wall.Seconds(), aideInit.wall.Seconds(), aideInit.wall.Seconds()/bake.wall.Seconds())
	fmt.Printf("  driftd check %6.2fs  vs aide --check best %6.2fs: %5.2fx faster (target 10x)\n",
		check.wall.Seconds(), aideCheck.wall.Seconds(), aideCheck.wall.Seconds()/check.wall.Seconds())
	fmt.Printf("  peak RSS during check: driftd %s, aide %s: %.2f of AIDE's (target < 0.5)\n",
		mib(check.rss), mib(aideRSS), float64(check.rss)/float64(aideRSS))
	fmt.Printf("  peak RSS during bake: driftd %s, aide --init %s\n", mib(bake.rss), mib(aideInit.rss))
	fmt.Printf("  manifest %s = %.1f bytes/entry vs AIDE gzip database %s = %.1f bytes/entry: %.2f of AIDE's (target < 1)\n",
		mib(mfi.Size()), float64(mfi.Size())/float64(entries), mib(aideDB), float64(aideDB)/float64(entries),
		float64(mfi.Size())/float64(aideDB))
	fmt.Printf("  load and verify the manifest: %s median of 7 (target < 200ms)\n", load.Round(time.Millisecond))

	b.ReportMetric(aideInit.wall.Seconds()/bake.wall.Seconds(), "x-bake-vs-aide")
	b.ReportMetric(aideCheck.wall.Seconds()/check.wall.Seconds(), "x-check-vs-aide")
	b.ReportMetric(float64(check.rss)/float64(aideRSS), "check-rss/aide")
	b.ReportMetric(float64(mfi.Size())/float64(entries), "manifest-B/entry")
	b.ReportMetric(float64(aideDB)/float64(entries), "aide-db-B/entry")
	b.ReportMetric(float64(load.Milliseconds()), "load-verify-ms")
}
