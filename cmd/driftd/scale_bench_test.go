package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"

	"driftd/baseline"
	"driftd/baseline/manifest"
	"driftd/baseline/sha256x2"
	"driftd/baseline/walk"
	"driftd/reporter"
)

// BenchmarkScale measures driftd on two trees, each side by side with its
// peers in the same run on a warm page cache: this host's /usr
// (DRIFTD_BENCH_ROOT) and a generated tree of a million files in 100k
// directories (DRIFTD_BENCH_TREE, kept between runs; DRIFTD_BENCH_TREE_FILES
// makes it smaller, to try the benchmark out). For each it prints
// bake and full check against the read+SHA-256 floor and against AIDE,
// the fast scan against find -printf, peak RSS, the idle daemon's RSS per
// entry and CPU, load and verify time, and manifest bytes per entry.
func BenchmarkScale(b *testing.B) {
	usr := os.Getenv("DRIFTD_BENCH_ROOT")
	if usr == "" {
		usr = "/usr"
	}
	tree := os.Getenv("DRIFTD_BENCH_TREE")
	if tree == "" {
		tree = "/var/tmp/driftd-bench-tree"
	}
	files := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("DRIFTD_BENCH_TREE_FILES")); err == nil {
		files = n // a smaller tree, to try the benchmark out
	}
	b.Run("usr", func(b *testing.B) { benchScale(b, usr, false) })
	b.Run("1M", func(b *testing.B) {
		makeTree(b, tree, treeSpec{files: files, seed: 1})
		benchScale(b, tree, true)
	})
}

// The rule both driftd and AIDE are given: SHA-256 of every file, and
// permissions, inode, links, owner, size, mtime, ctime and xattrs (ACLs are
// xattrs to driftd).
const scaleRules = `[[rule]]
paths = ["/**"]
category = "system"
severity = "high"
attributes = ["+inode", "+ctime"]
`

// benchScale measures driftd on root. On a tree of its own (owned), it
// also writes: a file deep in the tree and a storm of files for the
// daemon, with its watch whole and capped.
func benchScale(b *testing.B, root string, owned bool) {
	if _, err := exec.LookPath("aide"); err != nil {
		b.Fatal("aide is not installed: make bench installs it")
	}
	dir := b.TempDir()
	config := filepath.Join(dir, "driftd.toml")
	os.WriteFile(config, []byte("[baseline]\npath = \"/unused\"\n[schedule]\nfast_interval = \"1h\"\nfull_interval = \"24h\"\n"+scaleRules), 0o644)
	timed(b, 0, driftdBin, "keygen", "--out", filepath.Join(dir, "k"))
	f := &fixture{dir: dir, root: root, config: config, key: filepath.Join(dir, "k.key"), pub: filepath.Join(dir, "k.pub"),
		manifest: filepath.Join(dir, "baseline.manifest")}
	bakeArgs := []string{"bake", "--config", config, "--root", root, "--key", f.key, "--out", f.manifest}
	checkArgs := []string{"check", "--config", config, "--root", root, "--baseline", f.manifest, "--pubkey", f.pub}
	// The same with BLAKE3, the hash a bake may choose where SHA-256's
	// floor is too slow for it.
	blake3Manifest := filepath.Join(dir, "blake3.manifest")
	bake3Args := []string{"bake", "--config", config, "--root", root, "--key", f.key, "--out", blake3Manifest, "--hash", "blake3"}
	check3Args := []string{"check", "--config", config, "--root", root, "--baseline", blake3Manifest, "--pubkey", f.pub}
	workers := runtime.NumCPU()
	peer := newAIDEBench(b, dir, root)

	b.ResetTimer()
	timed(b, 0, driftdBin, bakeArgs...) // warms the page cache for every side
	files := regularFiles(b, root)
	var bakes, checks, bakes3, checks3 []procRun
	var floors, fasts, finds []time.Duration
	for range 3 {
		floors = append(floors, hashFloor(files, workers))
		bakes = append(bakes, timed(b, 0, driftdBin, bakeArgs...))
		checks = append(checks, timed(b, 0, driftdBin, checkArgs...))
		bakes3 = append(bakes3, timed(b, 0, driftdBin, bake3Args...))
		checks3 = append(checks3, timed(b, 0, driftdBin, check3Args...))
		fasts = append(fasts, fastScan(b, f, workers))
		finds = append(finds, timed(b, 0, "sh", "-c", `find "$0" -printf '%p %s %T@ %C@ %i %m %U %G %n\n' >/dev/null`, root).wall)
		peer.init() // after the floor's ratios are timed, which it would stretch apart
	}
	bake, check, bake3, check3 := best(bakes), best(checks), best(bakes3), best(checks3)
	floor, fast, find := slices.Min(floors), slices.Min(fasts), slices.Min(finds)
	aide := peer.check() // before the daemon below writes into the tree

	m, err := manifest.Read(f.manifest, nil)
	if err != nil {
		b.Fatal(err)
	}
	counts := m.Header.Counts
	mfi, _ := os.Stat(f.manifest)
	load := loadTime(b, f)
	deep := lastDirectory(m.Entries)
	storm := 0
	if owned {
		storm = 100_000
	}
	idle := daemonAtScale(b, f, deep, storm)
	var capped struct {
		seen    time.Duration
		foundBy string
		status  reporter.StatusJSON
	}
	if owned {
		capped.seen, capped.foundBy, capped.status = cappedDaemon(b, f, counts.Dirs, deep)
	}
	b.StopTimer()

	mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }
	fmt.Printf("\n%s: %d entries (%d files, %.2f GB, %d directories), %d cores, warm page cache; driftd best of 3\n",
		root, counts.Entries, counts.Files, float64(counts.Bytes)/1e9, counts.Dirs, runtime.NumCPU())
	fmt.Printf("  read+SHA-256 floor, %d workers (files of 1 MiB or more mapped, two hashed at a time), best of 3: %6.2fs\n", workers, floor.Seconds())
	for _, a := range aide.runs {
		var inits []string
		for _, r := range a.inits {
			inits = append(inits, fmt.Sprintf("%.2fs", r.wall.Seconds()))
		}
		fmt.Printf("  aide num_workers=%d: init %s, one a round (peak RSS %s), check %6.2fs (peak RSS %s)\n",
			a.workers, strings.Join(inits, " / "), mib(best(a.inits).rss), a.check.wall.Seconds(), mib(a.check.rss))
	}
	fmt.Printf("  bake      %6.2fs = %.2fx the floor (target <= 1.25x); aide --init best %6.2fs: %5.1fx faster (target >= 10x); peak RSS %s\n",
		bake.wall.Seconds(), ratio(bake.wall, floor), aide.init.Seconds(), ratio(aide.init, bake.wall), mib(bake.rss))
	fmt.Printf("  check     %6.2fs = %.2fx the floor (target <= 1.25x); aide --check best %6.2fs: %5.1fx faster; peak RSS %s = %.2f of AIDE's\n",
		check.wall.Seconds(), ratio(check.wall, floor), aide.check.Seconds(), ratio(aide.check, check.wall), mib(check.rss),
		float64(check.rss)/float64(aide.checkRSS))
	for i := range bakes {
		fmt.Printf("  round %d: floor %.2fs, bake %.2fs (%.2fx the floor, %.1fx faster than AIDE's best), check %.2fs (%.2fx the floor, %.1fx AIDE's), fast scan %.2fs, find %.2fs\n",
			i+1, floors[i].Seconds(), bakes[i].wall.Seconds(), ratio(bakes[i].wall, floors[i]), ratio(aide.init, bakes[i].wall),
			checks[i].wall.Seconds(), ratio(checks[i].wall, floors[i]), ratio(aide.check, checks[i].wall), fasts[i].Seconds(), finds[i].Seconds())
	}
	fmt.Printf("  the floor alone is %.1fx faster than aide --init: with SHA-256, a bake at the floor would be no faster than that\n", ratio(aide.init, floor))
	fmt.Printf("  bake --hash blake3  %6.2fs = %.2fx the SHA-256 floor; aide --init best: %5.1fx faster (target >= 10x), rounds", bake3.wall.Seconds(), ratio(bake3.wall, floor), ratio(aide.init, bake3.wall))
	for _, r := range bakes3 {
		fmt.Printf(" %.1fx", ratio(aide.init, r.wall))
	}
	fmt.Printf("; peak RSS %s\n", mib(bake3.rss))
	fmt.Printf("  check of it         %6.2fs = %.2fx the SHA-256 floor; aide --check best: %5.1fx faster\n", check3.wall.Seconds(), ratio(check3.wall, floor), ratio(aide.check, check3.wall))
	fmt.Printf("  fast scan %6.2fs = %.2fx find -printf %.2fs (target <= 1.5x)\n", fast.Seconds(), ratio(fast, find), find.Seconds())
	fmt.Printf("  idle daemon, %d directories watched: RSS %s = 64 MiB + %.0f B/entry (target <= 100 B/entry), CPU %.3f%% of a core over %v; baseline held in %.0f B/entry\n",
		idle.watched, mib(idle.idleRSS), float64(idle.idleRSS-64<<20)/float64(counts.Entries), idle.cpuPct, idle.over, float64(m.Entries.Bytes())/float64(counts.Entries))
	if owned {
		fmt.Printf("  daemon: a file added in %s reported after %v, found by %s; a storm of %d creations reported in %v, peak RSS %s = %.2fx idle (target < 2x)\n",
			deep, idle.seen.Round(time.Millisecond), idle.foundBy, idle.storm, idle.stormTook.Round(time.Millisecond), mib(idle.stormPeak), float64(idle.stormPeak)/float64(idle.idleRSS))
		fmt.Printf("  daemon with its watch capped at %d of %d directories (%d unwatched), fast scan every 15s: the file added in %s reported after %v, found by %s\n",
			capped.status.Watch.Directories, counts.Dirs, capped.status.Watch.Unwatched, deep, capped.seen.Round(time.Millisecond), capped.foundBy)
	}
	fmt.Printf("  load and verify the manifest: %s, median of 7 (target < 1s at 1M entries); manifest %.1f B/entry, AIDE's database %.1f B/entry\n",
		load.Round(time.Millisecond), float64(mfi.Size())/float64(counts.Entries), float64(aide.db)/float64(counts.Entries))

	b.ReportMetric(ratio(bake.wall, floor), "bake/floor")
	b.ReportMetric(ratio(check.wall, floor), "check/floor")
	b.ReportMetric(ratio(aide.init, bake.wall), "x-bake-vs-aide")
	b.ReportMetric(ratio(aide.check, check.wall), "x-check-vs-aide")
	b.ReportMetric(ratio(aide.init, bake3.wall), "x-bake-blake3-vs-aide")
	b.ReportMetric(ratio(fast, find), "fast/find")
	b.ReportMetric(float64(idle.idleRSS-64<<20)/float64(counts.Entries), "idle-B/entry-over-64MiB")
	b.ReportMetric(float64(load.Milliseconds()), "load-verify-ms")
}

// floorFile is a regular file for the floor, with its size.
type floorFile struct {
	path string
	size int64
}

// regularFiles lists the regular files below root, for the floor.
func regularFiles(b *testing.B, root string) []floorFile {
	var files []floorFile
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files = append(files, floorFile{p, fi.Size()})
			}
		}
		return nil
	})
	if len(files) == 0 {
		b.Fatalf("no files below %s", root)
	}
	return files
}

// floorMapBytes is the size from which the floor maps a file instead of
// reading it, and hashes it beside another where it can: what the walk
// does from the same size, so that the floor is the fastest SHA-256 this
// driftd knows and a bake gains nothing against it from the hash alone.
const floorMapBytes = 1 << 20

// hashFloor is the floor any integrity checker has: every file opened,
// read and hashed with SHA-256 by workers goroutines, and nothing else: no
// listing (the files are given), no stat, no metadata. A small file is
// read with raw syscalls into one 128 KiB buffer per worker; the large
// ones are mapped and hashed two at a time with sha256x2 (largest first,
// neighbours in size together), where the CPU can.
func hashFloor(files []floorFile, workers int) time.Duration {
	var big, small []floorFile
	for _, f := range files {
		if f.size >= floorMapBytes {
			big = append(big, f)
		} else {
			small = append(small, f)
		}
	}
	slices.SortFunc(big, func(a, b floorFile) int { return cmp.Compare(b.size, a.size) })
	start := time.Now()
	next := make(chan []floorFile, 1024)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 128<<10)
			h := sha256.New()
			for batch := range next {
				if batch[0].size >= floorMapBytes {
					floorMapped(batch)
					continue
				}
				fd, err := unix.Open(batch[0].path, unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
				if err != nil {
					continue
				}
				h.Reset()
				for {
					n, err := unix.Read(fd, buf)
					if n <= 0 || err != nil {
						break
					}
					h.Write(buf[:n])
				}
				h.Sum(nil)
				unix.Close(fd)
			}
		})
	}
	for len(big) > 0 {
		n := 1
		if len(big) >= 2 && sha256x2.Available() {
			n = 2
		}
		next <- big[:n]
		big = big[n:]
	}
	for i := range small {
		next <- small[i : i+1]
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}

// floorMapped hashes one or two large files from whole-file mappings, two
// side by side.
func floorMapped(batch []floorFile) {
	var maps [][]byte
	for _, f := range batch {
		fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		m, err := unix.Mmap(fd, 0, int(f.size), unix.PROT_READ, unix.MAP_SHARED)
		unix.Close(fd)
		if err == nil {
			maps = append(maps, m)
		}
	}
	switch len(maps) {
	case 2:
		sha256x2.Sum2(maps[0], maps[1])
	case 1:
		sha256.Sum256(maps[0])
	}
	for _, m := range maps {
		unix.Munmap(m)
	}
}

// fastScan times the daemon's fast scan of the fixture's root, in this
// process: every entry stat'ed and compared, content read again only where
// size, mtime, ctime or inode moved (here: nowhere).
func fastScan(b *testing.B, f *fixture, workers int) time.Duration {
	pub, err := manifest.LoadPublicKey(f.pub)
	if err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Read(f.manifest, pub)
	if err != nil {
		b.Fatal(err)
	}
	rules := scaleCompiledRules(b)
	base := baseline.BaseOf(m.Entries)
	start := time.Now()
	w := &walk.Walker{Root: f.root, Rules: rules, Workers: workers, Known: baseline.KnownFrom(base)}
	res, n, err := walk.Compare(context.Background(), w, base, "/")
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if !res.Clean() || n != m.Header.Counts.Entries {
		b.Fatalf("fast scan of an unchanged tree: %d findings, %d unverified, %d of %d entries",
			len(res.Findings), len(res.Unverified), n, m.Header.Counts.Entries)
	}
	return took
}

// scaleCompiledRules are scaleRules, compiled, for what runs in this
// process.
func scaleCompiledRules(b *testing.B) *baseline.Rules {
	var c struct {
		Rule []baseline.RuleConfig `toml:"rule"`
	}
	if _, err := toml.Decode(scaleRules, &c); err != nil {
		b.Fatal(err)
	}
	rules, err := baseline.CompileRules(c.Rule)
	if err != nil {
		b.Fatal(err)
	}
	return rules
}

// loadTime is how long reading and verifying the manifest takes, as check
// and run do: the median of 7.
func loadTime(b *testing.B, f *fixture) time.Duration {
	pub, err := manifest.LoadPublicKey(f.pub)
	if err != nil {
		b.Fatal(err)
	}
	var loads []time.Duration
	for range 7 {
		runtime.GC()
		start := time.Now()
		if _, err := manifest.Read(f.manifest, pub); err != nil {
			b.Fatal(err)
		}
		loads = append(loads, time.Since(start))
	}
	slices.Sort(loads)
	return loads[len(loads)/2]
}

// aideRun is AIDE at one worker setting, with its config and database:
// its inits, one a round, and one check.
type aideRun struct {
	workers  int
	conf, db string
	inits    []procRun
	check    procRun
}

type aideFigures struct {
	runs        []aideRun
	init, check time.Duration // the best of the runs
	checkRSS    int64         // the least peak RSS of the checks
	db          int64
}

// aideBench runs AIDE on one tree at each worker setting from 1 to the
// core count.
type aideBench struct {
	b    *testing.B
	runs []aideRun
}

func newAIDEBench(b *testing.B, dir, root string) *aideBench {
	a := &aideBench{b: b}
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
`, db, workers, regexp.QuoteMeta(root)), 0o644)
		a.runs = append(a.runs, aideRun{workers: workers, conf: conf, db: db})
	}
	return a
}

// init runs aide --init once at each worker setting. It runs in every
// round, beside driftd's: a shared VM's speed moves by a third within
// minutes, and AIDE timed only after every round of driftd's was timed at
// another moment (once 7.8-9.2x against an init of 22.2 s while the floor
// went from 2.68 to 2.04 s).
func (a *aideBench) init() {
	for k := range a.runs {
		r := &a.runs[k]
		r.inits = append(r.inits, timed(a.b, 0, "aide", "--config", r.conf, "--init"))
		if err := os.Rename(r.db+".new", r.db); err != nil {
			a.b.Fatal(err)
		}
	}
}

// check runs aide --check once at each worker setting, against the
// database of its last init, and credits AIDE with its best init and
// check.
func (a *aideBench) check() aideFigures {
	out := aideFigures{runs: a.runs}
	for k := range out.runs {
		r := &out.runs[k]
		r.check = timed(a.b, 0, "aide", "--config", r.conf, "--check")
		fi, _ := os.Stat(r.db)
		out.db = fi.Size()
		os.Remove(r.db)
		init := best(r.inits).wall
		if out.init == 0 || init < out.init {
			out.init = init
		}
		if out.check == 0 || r.check.wall < out.check {
			out.check = r.check.wall
		}
		if out.checkRSS == 0 || r.check.rss < out.checkRSS {
			out.checkRSS = r.check.rss
		}
	}
	return out
}

// lastDirectory is the tree's last directory in walk order: as far from
// the root's first listing as the tree goes.
func lastDirectory(entries *baseline.Packed) string {
	last := "/"
	entries.All(func(_ int, e *baseline.Entry) bool {
		if e.Type == baseline.TypeDir {
			last = e.Path
		}
		return true
	})
	return last
}
