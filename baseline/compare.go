package baseline

import (
	"path"
	"slices"
	"strings"
)

// Kind says how a path drifted.
type Kind uint8

// The kinds of finding.
const (
	Added Kind = iota + 1
	Removed
	Modified
)

// String is the kind as reports and events name it.
func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Modified:
		return "modified"
	}
	return "unknown"
}

// Finding is one drifted path.
type Finding struct {
	Path    string
	Kind    Kind
	ByHand  bool  // no package change accounts for it (set by an Explainer)
	Changes Attr  // for Modified: what differs
	Rule    *Rule // the rule that governs the path
	Before  *Entry
	After   *Entry
	// Hash is what Before's and After's digests are by: the baseline's.
	Hash Hash
	// Owner is the package that installs the path, when known.
	Owner *Package
	// ExplainedBy is the package change that accounts for the change.
	ExplainedBy *Explanation
	// By is who made the change, when the daemon saw it made.
	By *Actor
	// Diff is the change of a text file's content as a unified diff, when
	// the baseline kept the baked content; DiffNote says why there is none
	// for a content change that has none ("" when none was expected).
	Diff     string
	DiffNote string
}

// SetHash records, in each finding, the hash its digests are by.
func (r *Result) SetHash(h Hash) {
	for i := range r.Findings {
		r.Findings[i].Hash = h
	}
}

// Unverified is a path whose state could not be established, so it can be
// neither clean nor drifted.
type Unverified struct {
	Path   string
	Reason string
}

// Result is the outcome of a comparison.
type Result struct {
	Findings   []Finding
	Unverified []Unverified
	// Accepted are paths that could not be read at bake time and that the
	// bake accepted as such (bake --allow-unreadable): known, not verified,
	// and said so, but no bar to a clean verdict.
	Accepted []Unverified
}

// Clean reports whether every path in scope was verified and none drifted.
func (r *Result) Clean() bool { return len(r.Findings) == 0 && len(r.Unverified) == 0 }

// Comparer compares observed entries, one at a time and in any order, with
// a baseline. It keeps only what it finds, so a check need not hold the
// observed tree: the walk feeds it as it goes.
type Comparer struct {
	base  *Base
	seek  *BaseSeeker
	rules *Rules
	// scope is, for each of the base's parts, the span the comparison
	// covers, and seen which of its entries were observed.
	scope []span
	seen  [][]bool // by index into the span: [lo, hi), then self
	// blind holds directories that could not be listed: what the baseline
	// had below them is unverified, not removed.
	blind map[string]bool
	// accepted are the paths the bake accepted as unreadable.
	accepted map[string]bool
	res      Result
}

// Accept takes paths the bake could not read, and accepted as such, as
// known: their unreadable baseline entry is reported as accepted, not
// unverified.
func (c *Comparer) Accept(paths []string) {
	if len(paths) == 0 {
		return
	}
	c.accepted = make(map[string]bool, len(paths))
	for _, p := range paths {
		c.accepted[p] = true
	}
}

// NewComparer starts a comparison of a whole tree with base.
func NewComparer(base *Base, rules *Rules) *Comparer {
	return NewScopedComparer(base, rules, "/")
}

// NewScopedComparer starts a comparison of one path and what is below it
// (as WalkPathFunc gives them) with base: baseline entries outside that
// scope are not taken as removed.
func NewScopedComparer(base *Base, rules *Rules, path string) *Comparer {
	c := &Comparer{base: base, seek: base.Seeker(), rules: rules, blind: map[string]bool{}}
	for _, p := range base.parts() {
		sp := scopeOf(p, path)
		c.scope = append(c.scope, sp)
		c.seen = append(c.seen, make([]bool, sp.hi-sp.lo+1))
	}
	return c
}

// span is the part of a sorted baseline that one path and its subtree
// cover: the path's own entry (self, or -1) and, since every path below it
// shares the prefix "path/", one contiguous run [lo, hi).
type span struct {
	self, lo, hi int
}

func scopeOf(base *Packed, path string) span {
	if path == "/" {
		return span{self: -1, lo: 0, hi: base.Len()}
	}
	sp := span{self: -1}
	if i, ok := base.Find(path); ok {
		sp.self = i
	}
	sp.lo, sp.hi = base.PrefixRange(path + "/")
	return sp
}

// findEntry finds path in entries sorted by path: its index, or where it
// would go.
func findEntry(entries []Entry, path string) (int, bool) {
	return slices.BinarySearchFunc(entries, path, func(e Entry, p string) int { return strings.Compare(e.Path, p) })
}

// unseen calls f with each baseline entry the span covers that seen (its
// flags, as seenAt places them) says was not observed, and its index.
// Only those are decoded: a check of a million entries decoded every one
// again at its end, on one core, to find the few that were gone.
func (sp span) unseen(base *Packed, seen []bool, f func(i int, e *Entry)) {
	if sp.self >= 0 && !seen[sp.hi-sp.lo] {
		e := base.At(sp.self)
		f(sp.self, &e)
	}
	run := seen[:sp.hi-sp.lo]
	for k := 0; k < len(run); {
		lo := slices.Index(run[k:], false)
		if lo < 0 {
			return
		}
		lo += k
		hi := slices.Index(run[lo:], true)
		if hi < 0 {
			hi = len(run)
		} else {
			hi += lo
		}
		base.Range(sp.lo+lo, sp.lo+hi, func(i int, e *Entry) bool {
			f(i, e)
			return true
		})
		k = hi
	}
}

// seenAt is where the flag of entry i of a part's span is, or -1 for an
// entry outside the span.
func (sp span) seenAt(i int) int {
	switch {
	case i == sp.self:
		return sp.hi - sp.lo
	case i >= sp.lo && i < sp.hi:
		return i - sp.lo
	}
	return -1
}

// Observe compares one observed entry. It keeps a copy of o if o makes a
// finding, so o may be reused. Entries observed in path order are looked
// up fastest (see Seeker): a directory's at a time, sorted, is as good.
func (c *Comparer) Observe(o *Entry) {
	if o.Type == TypeDir && o.Err != "" {
		c.blind[o.Path] = true
	}
	base, i, found := c.seek.Lookup(o.Path)
	if found {
		c.markSeen(i)
	}
	rule := c.rules.Match(o.Path)
	if rule.Ignore {
		return
	}
	after := func() *Entry { cp := *o; return &cp }
	if !found {
		if o.Err != "" {
			c.res.Unverified = append(c.res.Unverified, Unverified{Path: o.Path, Reason: o.Err})
		}
		c.res.Findings = append(c.res.Findings, Finding{Path: o.Path, Kind: Added, Rule: rule, After: after()})
		return
	}
	b := &base
	switch {
	case o.Err != "":
		c.res.Unverified = append(c.res.Unverified, Unverified{Path: o.Path, Reason: o.Err})
	case b.Err != "" && rule.Attrs&AttrContent != 0 && c.accepted[b.Path]:
		c.res.Accepted = append(c.res.Accepted, Unverified{Path: b.Path, Reason: "not readable at bake time, accepted: " + b.Err})
	case b.Err != "" && rule.Attrs&AttrContent != 0:
		c.res.Unverified = append(c.res.Unverified, Unverified{Path: b.Path, Reason: "not readable at bake time: " + b.Err})
	}
	if o.Type == 0 || b.Type == 0 {
		return // nothing known to compare with
	}
	if d := b.Diff(o, rule.Attrs); d != 0 {
		before := base
		c.res.Findings = append(c.res.Findings, Finding{Path: o.Path, Kind: Modified, Changes: d, Rule: rule, Before: &before, After: after()})
	}
}

// Result ends the comparison: baseline entries never observed are removed,
// unless out of scope now or below a directory that could not be listed.
// Findings and unverified paths come sorted by path.
func (c *Comparer) Result() Result {
	for part, p := range c.base.parts() {
		c.scope[part].unseen(p, c.seen[part], func(i int, b *Entry) {
			if part == 0 && c.base.shadowed(i) {
				return
			}
			c.removed(b)
		})
	}
	slices.SortFunc(c.res.Findings, func(a, b Finding) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(c.res.Unverified, func(a, b Unverified) int { return strings.Compare(a.Path, b.Path) })
	return c.res
}

// removed records baseline entry b, never observed, as removed, unless it
// is out of scope now or below a directory that could not be listed.
func (c *Comparer) removed(b *Entry) {
	rule := c.rules.Match(b.Path)
	if rule.Ignore || c.underBlind(b.Path) {
		return
	}
	before := *b
	c.res.Findings = append(c.res.Findings, Finding{Path: b.Path, Kind: Removed, Rule: rule, Before: &before})
}

func (c *Comparer) markSeen(i int) {
	part := 0
	if n := c.base.entries.Len(); i >= n {
		part, i = 1, i-n
	}
	if k := c.scope[part].seenAt(i); k >= 0 {
		c.seen[part][k] = true
	}
}

func (c *Comparer) underBlind(p string) bool {
	if len(c.blind) == 0 {
		return false
	}
	for d := path.Dir(p); ; d = path.Dir(d) {
		if c.blind[d] {
			return true
		}
		if d == "/" || d == "." {
			return false
		}
	}
}

// Compare returns how observed differs from base. Each path is judged by
// the rule that governs it now; paths that rule ignores are out of scope
// on both sides.
func Compare(base *Base, observed []Entry, rules *Rules) Result {
	c := NewComparer(base, rules)
	for i := range observed {
		c.Observe(&observed[i])
	}
	return c.Result()
}

// KnownFrom is the fast scan's Walker.Known for a sorted baseline: an entry
// whose type, size, mtime, ctime and inode match its baseline entry takes
// the digest, symlink target and xattrs recorded there. Any write, chmod,
// chown or xattr change moves the ctime, so such an entry is read again.
func KnownFrom(base *Base) func(e *Entry) bool {
	return func(e *Entry) bool {
		b, _, ok := base.Lookup(e.Path)
		if !ok {
			return false
		}
		if b.Type != e.Type || b.Size != e.Size || b.Mtime != e.Mtime || b.Ctime != e.Ctime || b.Inode != e.Inode || b.Err != "" {
			return false
		}
		e.Digest, e.Target, e.Xattrs = b.Digest, b.Target, b.Xattrs
		return true
	}
}

// Diff returns what changed from image a to image b, each path judged by
// rules (its category and severity) but compared on what a rebuild of the
// same content keeps: everything but times, inodes and link counts. Each
// finding is explained as ExplainDiff says; managerDirs names a package
// manager's own database directories. The two digest by the same hash.
func Diff(a, b *Manifest, rules *Rules, managerDirs func(manager string) []string) Result {
	res := Compare(BaseOf(a.Entries), b.Entries.Unpack(), rules.forImageDiff())
	res.SetHash(a.Header.ContentHash())
	ExplainDiff(a, b, res.Findings, DiffPackages(a, b), managerDirs)
	return res
}

// forImageDiff is the rules with each rule's attributes narrowed to what
// two bakes of the same content share.
func (rs *Rules) forImageDiff() *Rules {
	out := *rs
	out.rules = slices.Clone(rs.rules)
	for i := range out.rules {
		out.rules[i].Attrs &= ImageDiffAttrs
	}
	return &out
}

// ExplainDiff fills in each finding's package and whether the package
// changes between the two images account for it: the package that owns
// the path (in b, else in a) was added, removed or changed, or the path
// is in the database of a manager whose packages changed. Pure: the
// owners are in the manifests.
func ExplainDiff(a, b *Manifest, findings []Finding, pkgs []PackageFinding, managerDirs func(manager string) []string) {
	changed := map[string]*PackageFinding{}
	for i := range pkgs {
		changed[pkgs[i].Package().Key()] = &pkgs[i]
	}
	owner := func(m *Manifest, p string) *Package {
		if i, ok := m.Find(p); ok {
			return m.Owner(i)
		}
		return nil
	}
	for i := range findings {
		f := &findings[i]
		f.Owner = owner(b, f.Path)
		if f.Owner == nil {
			f.Owner = owner(a, f.Path)
		}
		var by *PackageFinding
		if f.Owner != nil {
			by = changed[f.Owner.Key()]
		}
		for j := 0; by == nil && j < len(pkgs); j++ {
			if Under(f.Path, managerDirs(pkgs[j].Package().Manager)) {
				by = &pkgs[j] // the manager's own database changed with its packages
			}
		}
		f.ExplainedBy, f.ByHand = nil, by == nil
		if by != nil {
			f.ExplainedBy = &Explanation{Manager: by.Package().Manager, Package: by.Package().Name, Before: by.Before.Version, After: by.After.Version}
		}
	}
}

// Under reports whether path p is one of dirs or lies below one.
func Under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
