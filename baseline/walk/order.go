package walk

import (
	"slices"
	"strings"
	"sync"
)

// sortByPath returns h's records in path order, put in order as a tree:
// the records of each directory sorted by name, the directories on every
// worker, then the tree visited depth first with each directory's subtree
// where "name/" sorts among its siblings' names. That is byte order: the
// paths below a directory are exactly those that begin with its path and
// "/", so they are a run of their own, and that run falls among the
// siblings where "name/" does ("a" < "a.b" < "a/..." < "a0").
//
// A sort of the whole list took both cores 0.2-0.3 s at the end of a bake
// of a million entries, comparing paths that share most of their bytes;
// the walk hands the records over a directory at a time, so finding each
// one's directory costs a comparison with the last one's, and a directory
// holds a dozen names to sort.
//
// The lists are of records' places alone, which hold no pointers. As
// lists of places and paths (a string each), they were most of what the
// GC had to scan while the bake sorted and packed a million entries, and
// with the GC off that took two fifths less CPU.
func (h *held) sortByPath(workers int) []heldAt {
	refs, dirs, rootRecords := h.byDirectory()
	h.at, h.tree = nil, heldTree{}
	parts := max(1, min(workers, len(dirs)/64))
	var wg sync.WaitGroup
	for k := range parts {
		wg.Go(func() {
			var scratch []heldRef
			for _, d := range dirs[k*len(dirs)/parts : (k+1)*len(dirs)/parts] {
				scratch = d.sort(h, refs, scratch)
			}
		})
	}
	wg.Wait()
	out := append(make([]heldAt, 0, len(refs)+len(rootRecords)), rootRecords...) // "/" comes first
	return dirs[0].emit(h, out, refs)
}

// heldDir is a directory of the tree being ordered: its records are
// refs[lo:hi] of byDirectory's list, each named by its path past prefix
// bytes.
type heldDir struct {
	path    string
	index   int // in byDirectory's list of directories
	prefix  int
	lo, hi  int
	records int // how many
	subdirs []subdir
}

// subdir is a directory with records below it, under the name it has in
// its parent.
type subdir struct {
	name string
	dir  *heldDir
}

// heldTree is the directories of the records held, found as each record
// is added, while the path is at hand: found after the walk, reading each
// record's path back out of the chunks, it was a tenth of a second on one
// core at the end of a bake of a million entries.
type heldTree struct {
	dirs   []*heldDir          // the root first
	byPath map[string]*heldDir // the same
	last   *heldDir            // the last record's directory
	in     []int32             // each record's directory: an index in dirs, or -1 for "/"
}

// add notes the directory of the record of path, added last.
func (t *heldTree) add(path string) {
	t.init()
	if path == "/" {
		t.in = append(t.in, -1)
		return
	}
	// The walk hands records over a directory at a time, so finding each
	// one's directory costs a comparison with the last one's.
	if parent := parentDir(path); parent != t.last.path {
		t.last = t.dirOf(parent)
	}
	t.in = append(t.in, int32(t.last.index))
	t.last.records++
}

// init makes the root directory, once.
func (t *heldTree) init() {
	if t.dirs == nil {
		root := &heldDir{path: "/", prefix: 1}
		t.dirs, t.byPath, t.last = []*heldDir{root}, map[string]*heldDir{"/": root}, root
	}
}

// dirOf is the directory of path, made if it is new. Its path is a copy:
// cut from a record's path, it would keep that whole string alive, which
// is garbage once the record is held.
func (t *heldTree) dirOf(path string) *heldDir {
	d := t.byPath[path]
	if d == nil {
		path = strings.Clone(path)
		d = &heldDir{path: path, index: len(t.dirs), prefix: len(path) + 1}
		t.byPath[path] = d
		t.dirs = append(t.dirs, d)
	}
	return d
}

// byDirectory lists h's records grouped by directory, and the
// directories, the root first, each linked into its parent's subdirs; and
// the root's own record, "/", which is in no directory.
func (h *held) byDirectory() (grouped []heldAt, dirs []*heldDir, rootRecords []heldAt) {
	t := &h.tree
	t.init() // with no records, the root alone
	// Each directory's run of the list, filled in the walk's order.
	next := 0
	for _, d := range t.dirs {
		d.lo, d.hi = next, next
		next += d.records
	}
	grouped = make([]heldAt, next)
	for i, in := range t.in {
		if in < 0 {
			rootRecords = append(rootRecords, h.at[i])
			continue
		}
		d := t.dirs[in]
		grouped[d.hi] = h.at[i]
		d.hi++
	}
	// Link each directory into its parent, making the parents that hold
	// no records of their own (out of scope, yet walked through).
	for k := 1; k < len(t.dirs); k++ { // dirs grows as parents are made
		d := t.dirs[k]
		parent := t.dirOf(parentDir(d.path))
		parent.subdirs = append(parent.subdirs, subdir{name: d.path[parent.prefix:], dir: d})
	}
	return grouped, t.dirs, rootRecords
}

// parentDir is the directory of path, which is absolute and not "/".
func parentDir(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// sort sorts d's records by name, their paths read out of h (into
// scratch, which it returns for the next directory), and its
// subdirectories by name and "/": "a.b/" sorts before "a/".
func (d *heldDir) sort(h *held, refs []heldAt, scratch []heldRef) []heldRef {
	scratch = scratch[:0]
	for _, at := range refs[d.lo:d.hi] {
		scratch = append(scratch, heldRef{path: h.path(at), heldAt: at})
	}
	p := d.prefix
	slices.SortFunc(scratch, func(a, b heldRef) int { return strings.Compare(a.path[p:], b.path[p:]) })
	for k, r := range scratch {
		refs[d.lo+k] = r.heldAt
	}
	slices.SortFunc(d.subdirs, func(a, b subdir) int { return compareSubtrees(a.name, b.name) })
	return scratch
}

// compareSubtrees compares a+"/" with b+"/".
func compareSubtrees(a, b string) int {
	switch {
	case len(a) < len(b) && b[:len(a)] == a:
		return strings.Compare("/", b[len(a):len(a)+1])
	case len(b) < len(a) && a[:len(b)] == b:
		return strings.Compare(a[len(b):len(b)+1], "/")
	}
	return strings.Compare(a, b)
}

// emit appends d's records and, depth first, its subdirectories', in path
// order.
func (d *heldDir) emit(h *held, out, refs []heldAt) []heldAt {
	own, subs := refs[d.lo:d.hi], d.subdirs
	for len(own) > 0 || len(subs) > 0 {
		if len(subs) == 0 || (len(own) > 0 && beforeSubtree(h.path(own[0])[d.prefix:], subs[0].name)) {
			out, own = append(out, own[0]), own[1:]
			continue
		}
		out, subs = subs[0].dir.emit(h, out, refs), subs[1:]
	}
	return out
}

// beforeSubtree reports whether the name sorts before the paths below the
// sibling directory dir, which all begin with dir+"/".
func beforeSubtree(name, dir string) bool {
	if len(name) > len(dir) && name[:len(dir)] == dir {
		return name[len(dir)] < '/'
	}
	return name <= dir // a name that dir begins with, or one that differs within both
}
