package walk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	pathpkg "path"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// Progress counts what a walk has done so far; safe to read while it runs.
type Progress struct {
	Entries atomic.Int64
	Bytes   atomic.Int64 // content bytes hashed
}

// Walker records every path in scope under a root. It never follows
// symlinks, opens nothing but regular files and directories, and hands each
// per-path failure to the entry as Err instead of skipping the path.
type Walker struct {
	Root             string // host path of the tree to walk; "/" for this host
	Rules            *baseline.Rules
	Workers          int  // size of the stat and hash pool; at least 1
	CrossFilesystems bool // descend into other mounted filesystems
	Progress         *Progress
	// Known, when set, is asked about each entry once it is stat'ed and
	// before anything is read: when it reports true, it has filled in the
	// content digest, symlink target and xattrs (from a baseline whose
	// entry has the same size, mtime, ctime and inode), and the walk reads
	// nothing more. This is the fast scan.
	Known func(e *baseline.Entry) bool
	// BytesPerSecond limits the hashing rate; 0 means no limit.
	BytesPerSecond int64
	// BeforeList, when set, is called with each directory (root-relative)
	// before it is listed: a watch added then sees every change the
	// listing misses, where one added after the listing would not see
	// what was made in between.
	BeforeList func(dir string)
	// Hash digests contents and xattr values: the baseline's, for a walk
	// compared with one. The zero Hash is SHA-256.
	Hash baseline.Hash
}

// bigFile is the size from which a file is hashed as a job of its own, so
// that one large file does not hold up the rest of its directory, and can
// be hashed beside another (see hashBigPair). It is where mapping a file
// starts to pay.
const bigFile = mapMinBytes

// Walk returns the entries in scope, sorted by path bytes. Its error is for
// a root that cannot be walked at all; anything smaller is in an entry's Err.
func (w *Walker) Walk(ctx context.Context) ([]baseline.Entry, error) {
	var entries []baseline.Entry
	err := w.WalkFunc(ctx, func(batch []baseline.Entry) { entries = append(entries, batch...) })
	if err != nil {
		return nil, err
	}
	baseline.SortEntries(entries)
	return entries, nil
}

// WalkPacked is Walk for a tree held whole (the bake), packed. While the
// walk runs, its entries are held as records in chunks the GC does not
// scan (see held); then they are sorted by reference and packed, each
// step on every worker's core.
func (w *Walker) WalkPacked(ctx context.Context) (*baseline.Packed, error) {
	var h held
	err := w.WalkFunc(ctx, func(batch []baseline.Entry) {
		for i := range batch {
			h.add(&batch[i])
		}
	})
	if err != nil {
		return nil, err
	}
	refs := h.sortByPath(w.Workers)
	p, err := baseline.PackFunc(len(refs), w.Workers, func(i int, e *baseline.Entry) { h.entry(refs[i], e) })
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", w.Root, err)
	}
	return p, nil
}

// WalkFunc hands the entries in scope to visit in batches, in no particular
// order, one call at a time. A batch is reused after visit returns: keep
// copies, not pointers.
func (w *Walker) WalkFunc(ctx context.Context, visit func(batch []baseline.Entry)) error {
	return w.WalkPathFunc(ctx, "/", visit)
}

// WalkPathFunc is WalkFunc for one path below the root: the path itself
// and, for a directory, everything below it. A path that does not exist
// gives no entries.
func (w *Walker) WalkPathFunc(ctx context.Context, path string, visit func(batch []baseline.Entry)) error {
	rootfd, err := unix.Open(w.Root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("root %s is not a directory", w.Root)
		}
		return fmt.Errorf("open root %s: %w", w.Root, err)
	}
	defer unix.Close(rootfd)
	var st unix.Stat_t
	if err := unix.Fstat(rootfd, &st); err != nil {
		return fmt.Errorf("stat root %s: %w", w.Root, err)
	}
	wk := &walk{w: w, ctx: ctx, rootfd: rootfd, rootDev: st.Dev, visit: visit, pairs: w.pairs()}
	if w.BytesPerSecond > 0 {
		wk.limiter = &rateLimiter{rate: float64(w.BytesPerSecond)}
	}
	wk.cond = sync.NewCond(&wk.mu)
	stop := context.AfterFunc(ctx, func() {
		wk.mu.Lock()
		wk.cond.Broadcast()
		wk.mu.Unlock()
	})
	defer stop()

	if path == "/" {
		rule := w.Rules.Match("/")
		if !rule.Ignore || !w.Rules.CanPrune("/", rule) {
			wk.jobs = append(wk.jobs, job{entry: entryFromStat("/", &st), dir: true, record: !rule.Ignore})
		}
	} else {
		// The parent, listed for this one name, records it as any child.
		parent, name := pathpkg.Split(path)
		wk.jobs = append(wk.jobs, job{entry: baseline.Entry{Path: pathpkg.Clean(parent)}, dir: true, only: name})
	}
	var wg sync.WaitGroup
	for range max(w.Workers, 1) {
		wg.Go(wk.work)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("walk %s: %w", w.Root, err)
	}
	return nil
}

// job is a directory to list, or a large file to hash. A directory's entry
// comes from its parent's lstat and is recorded by the job that lists it,
// so that a listing error lands on the directory's own entry. A large
// file's entry has its path and the size it had when listed.
type job struct {
	entry  baseline.Entry
	dir    bool
	record bool   // false for an ignored directory walked for what is below it
	only   string // list this one name of the directory, not the whole of it
	// unstated: the entry is only the directory's path and type, from its
	// parent's listing; listDir stats it once open.
	unstated bool
}

// walk is the state of one WalkFunc: a LIFO of directories and a queue of
// large files, shared by the pool. Each job hands its batch of entries to
// visit, one batch at a time, and outside the queue's lock.
type walk struct {
	w       *Walker
	ctx     context.Context
	rootfd  int
	rootDev uint64
	visit   func([]baseline.Entry)
	visitMu sync.Mutex   // visit is called one batch at a time
	limiter *rateLimiter // nil: no limit
	pairs   bool         // hash large files two at a time

	mu   sync.Mutex
	cond *sync.Cond
	jobs []job // directories
	bigs []job // large files, smallest first
	busy int
}

func (wk *walk) work() {
	bufs := getBufs(wk.w.Hash)
	defer func() {
		bufs.dropRing() // a ring is a descriptor and mappings: not kept in the pool
		// A big directory's batch and listing are not worth keeping; the
		// listing can be big while the batch is not (names all ignored).
		if cap(bufs.batch) > 1024 {
			bufs.batch = nil
		}
		if cap(bufs.dents) > 1024 {
			bufs.dents, bufs.names = nil, nil
		}
		bufPool.Put(bufs)
	}()
	for {
		wk.mu.Lock()
		for len(wk.jobs)+len(wk.bigs) == 0 && wk.busy > 0 && wk.ctx.Err() == nil {
			wk.cond.Wait()
		}
		if len(wk.jobs)+len(wk.bigs) == 0 || wk.ctx.Err() != nil {
			wk.cond.Broadcast()
			wk.mu.Unlock()
			return
		}
		j, partner := wk.take()
		wk.busy++
		wk.mu.Unlock()

		var more []job
		switch {
		case j.dir:
			more = wk.listDir(j, bufs)
		case partner != nil:
			wk.hashBigPair(j.entry.Path, partner.entry.Path, bufs)
		default:
			wk.hashBigFile(j.entry.Path, bufs)
		}

		wk.mu.Lock()
		for _, m := range more {
			if m.dir {
				wk.jobs = append(wk.jobs, m)
			} else {
				i, _ := slices.BinarySearchFunc(wk.bigs, m.entry.Size, func(b job, size int64) int { return cmp.Compare(b.entry.Size, size) })
				wk.bigs = slices.Insert(wk.bigs, i, m)
			}
		}
		wk.cond.Broadcast()
		wk.mu.Unlock()
		wk.hand(bufs)
		wk.mu.Lock()
		wk.busy--
		wk.cond.Broadcast()
		wk.mu.Unlock()
	}
}

// take takes the next job off the queues, with wk.mu held. With pairs,
// the directories come first, so that the large files are all queued, in
// order of size, when they are taken: then the two largest go together
// while that leaves the other workers a file each, and the rest alone.
// Pairs of near sizes hash side by side to the end of the smaller (taken
// as they were listed, a file of 146 MB went with one of 1 MB, and a
// seventh of a bake of /usr was the longer files' tails hashed alone);
// largest first, so that the walk does not end on one long file. Without
// pairs, a large file is taken as soon as it is listed.
func (wk *walk) take() (j job, partner *job) {
	n := len(wk.bigs)
	switch {
	case len(wk.jobs) > 0 && (wk.pairs || n == 0):
		j = wk.jobs[len(wk.jobs)-1]
		wk.jobs = wk.jobs[:len(wk.jobs)-1]
		return j, nil
	case wk.pairs && n >= 2 && n-2 >= wk.w.Workers-1:
		j, p := wk.bigs[n-1], wk.bigs[n-2]
		wk.bigs = wk.bigs[:n-2]
		return j, &p
	}
	j = wk.bigs[n-1]
	wk.bigs = wk.bigs[:n-1]
	return j, nil
}

// maxBatch is the most entries a batch holds: a directory of 100,000
// files is handed over in parts, not as one batch of 20 MB grown by
// doubling (on every rescan of it, in the daemon).
const maxBatch = 1024

// hand gives the worker's batch to visit, its ring reads done first, and
// empties it. The visitor may make syscalls of its own (the daemon adds
// watches): it runs under its own lock, one call at a time, while the
// other workers go on taking jobs.
func (wk *walk) hand(bufs *workerBufs) {
	wk.flushReads(bufs)
	if len(bufs.batch) > 0 {
		wk.visitMu.Lock()
		wk.visit(bufs.batch)
		wk.visitMu.Unlock()
	}
	bufs.batch = bufs.batch[:0]
}

// openBeneath opens a root-relative path without following any symlink on
// the way, so a component swapped for a symlink mid-walk cannot lead outside.
func (wk *walk) openBeneath(path string, flags int) (int, error) {
	rel := "."
	if path != "/" {
		rel = path[1:]
	}
	fd, err := unix.Openat2(wk.rootfd, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return unix.Openat(wk.rootfd, rel, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	return fd, err
}

// listDir records the directory of job j and its children, and returns the
// jobs they make.
func (wk *walk) listDir(j job, bufs *workerBufs) []job {
	w, dir, self := wk.w, j.entry.Path, j.entry
	fd, err := wk.openBeneath(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone since its parent was listed
		}
		self.Err = "list directory: " + err.Error()
		if j.record {
			bufs.record(w.Progress, self)
		}
		return nil
	}
	defer unix.Close(fd)
	defer wk.flushReads(bufs) // before the batch goes to visit
	// recordSelf records the directory itself, with its xattrs unless it
	// has an error or a fast scan knows it unchanged.
	recordSelf := func() {
		if !j.record {
			return
		}
		if self.Err == "" && (w.Known == nil || !w.Known(&self)) {
			self.Xattrs, self.Err = bufs.xattrsFd(fd)
		}
		bufs.record(w.Progress, self)
	}
	if j.unstated {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			self.Err = "fstat: " + err.Error()
			recordSelf()
			return nil
		}
		self = entryFromStat(dir, &st)
		if !w.CrossFilesystems && st.Dev != wk.rootDev { // a mount point: recorded, not entered
			recordSelf()
			return nil
		}
	}
	if w.BeforeList != nil && j.only == "" {
		w.BeforeList(dir)
	}
	// The listing gives each name's type from the directory itself
	// (d_type), so a regular file is opened at once and stat'ed once,
	// through its fd.
	var dents []dirent
	if j.only != "" {
		dents = bufs.one(j.only) // type unknown: lstat it
	} else {
		var err error
		dents, err = bufs.readDir(fd)
		if err != nil {
			self.Err = "list directory: " + err.Error()
		}
		recordSelf()
		if err != nil {
			return nil
		}
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	procDir := "/proc/self/fd/" + strconv.Itoa(fd) + "/"

	var more []job
	for _, d := range dents {
		if wk.ctx.Err() != nil {
			return nil
		}
		if len(bufs.batch) >= maxBatch {
			wk.hand(bufs)
		}
		name := d.name
		path := prefix + name
		rule := w.Rules.Match(path)
		if d.dtype == unix.DT_REG && !rule.Ignore && w.Known == nil {
			if size := wk.recordFile(fd, path, d, bufs); size > 0 {
				more = append(more, job{entry: baseline.Entry{Path: path, Size: size}})
			}
			continue
		}
		if d.dtype == unix.DT_DIR { // stat'ed once listed, through its fd: a path lookup fewer
			if !rule.Ignore || !w.Rules.CanPrune(path, rule) {
				more = append(more, job{entry: baseline.Entry{Path: path, Type: baseline.TypeDir}, dir: true, record: !rule.Ignore, unstated: true})
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.ENOENT) && !rule.Ignore {
				bufs.record(w.Progress, baseline.Entry{Path: path, Err: "lstat: " + err.Error()})
			}
			continue
		}
		e := entryFromStat(path, &st)
		switch {
		case e.Type == baseline.TypeDir && (wk.w.CrossFilesystems || st.Dev == wk.rootDev):
			if !rule.Ignore || !w.Rules.CanPrune(path, rule) {
				more = append(more, job{entry: e, dir: true, record: !rule.Ignore})
			}
			continue
		case rule.Ignore:
			continue
		case w.Known != nil && w.Known(&e):
			bufs.record(w.Progress, e)
			continue
		case e.Type == baseline.TypeRegular: // d_type was unknown, or a fast scan found it changed
			if size := wk.recordFile(fd, path, d, bufs); size > 0 {
				more = append(more, job{entry: baseline.Entry{Path: path, Size: size}})
			}
			continue
		case e.Type == baseline.TypeSymlink:
			e.Target, e.Err = bufs.readlink(fd, name)
		}
		if e.Err == "" {
			e.Xattrs, e.Err = bufs.xattrsPath(procDir + name)
		}
		bufs.record(w.Progress, e) // including a mount point, not entered
	}
	return more
}

// dirent is a name in a directory and the type the directory gives it.
// The name is in the worker's listing (see readDir).
type dirent struct {
	name  string
	cname *byte // the name's first byte, NUL-terminated: for a system call, as it is
	dtype byte  // d_type: unix.DT_REG, DT_DIR, ..., or DT_UNKNOWN where the filesystem does not say
}
