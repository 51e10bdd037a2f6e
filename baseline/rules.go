package baseline

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Attr is a set of entry attributes that a rule compares.
type Attr uint16

// The attributes an entry carries. Type is always compared: a path that
// changed type has changed whatever a rule says.
const (
	AttrType Attr = 1 << iota
	AttrMode
	AttrUID
	AttrGID
	AttrSize
	AttrMtime
	AttrCtime
	AttrInode
	AttrNlink
	AttrContent
	AttrTarget
	AttrDev
	AttrXattrs
)

// attrNames is in report order: a finding lists its changes in this order.
var attrNames = []struct {
	attr Attr
	name string
}{
	{AttrType, "type"}, {AttrContent, "content"}, {AttrTarget, "target"},
	{AttrMode, "mode"}, {AttrUID, "uid"}, {AttrGID, "gid"}, {AttrSize, "size"},
	{AttrMtime, "mtime"}, {AttrCtime, "ctime"}, {AttrInode, "inode"},
	{AttrNlink, "nlink"}, {AttrDev, "dev"}, {AttrXattrs, "xattrs"},
}

// DefaultAttrs is what a rule compares unless it says otherwise: everything
// recorded except inode and ctime, which change on any restore or rename.
const DefaultAttrs = AttrType | AttrMode | AttrUID | AttrGID | AttrSize | AttrMtime |
	AttrNlink | AttrContent | AttrTarget | AttrDev | AttrXattrs

// ImageDiffAttrs is what `driftd diff` compares between two images: what a
// rebuild of the same content would not change.
const ImageDiffAttrs = AttrType | AttrMode | AttrUID | AttrGID | AttrSize |
	AttrContent | AttrTarget | AttrDev | AttrXattrs

// Names returns the attribute names in a, in report order.
func (a Attr) Names() []string {
	var names []string
	for _, n := range attrNames {
		if a&n.attr != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// ParseAttrs reads a rule's attribute list. A list of plain names replaces
// the default set; a list where every item starts with + or - adjusts it
// ("+inode", "-mtime").
func ParseAttrs(list []string) (Attr, error) {
	if list == nil {
		return DefaultAttrs, nil
	}
	relative := 0
	for _, s := range list {
		if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
			relative++
		}
	}
	if relative != 0 && relative != len(list) {
		return 0, fmt.Errorf("attributes %q mix +/- adjustments with plain names", list)
	}
	set := AttrType
	if relative > 0 {
		set = DefaultAttrs
	}
	for _, s := range list {
		op, name := byte(0), s
		if relative > 0 {
			op, name = s[0], s[1:]
		}
		a, ok := attrByName(name)
		if !ok {
			return 0, fmt.Errorf("unknown attribute %q (known: %s)", name, strings.Join(Attr(0xffff).Names(), ", "))
		}
		if op == '-' {
			if a == AttrType {
				return 0, fmt.Errorf("attribute type cannot be removed")
			}
			set &^= a
		} else {
			set |= a
		}
	}
	return set, nil
}

// AttrsFromNames is the inverse of Names: the set of exactly the attributes
// named.
func AttrsFromNames(names []string) (Attr, error) {
	var set Attr
	for _, n := range names {
		a, ok := attrByName(n)
		if !ok {
			return 0, fmt.Errorf("unknown attribute %q", n)
		}
		set |= a
	}
	return set, nil
}

func attrByName(name string) (Attr, bool) {
	for _, n := range attrNames {
		if n.name == name {
			return n.attr, true
		}
	}
	return 0, false
}

// Severity orders how bad a finding is.
type Severity uint8

// Severities from least to most urgent.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

// String is the severity as the config and the metrics name it.
func (s Severity) String() string { return severityNames[s] }

// ParseSeverity reads a severity name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (known: %s)", s, strings.Join(severityNames, ", "))
}

// RuleConfig is one [[rule]] table of the config file.
type RuleConfig struct {
	Paths      []string `toml:"paths"`
	Ignore     bool     `toml:"ignore"`
	Category   string   `toml:"category"`
	Severity   string   `toml:"severity"`
	Attributes []string `toml:"attributes"`
	// FirstBoot marks paths that may change until the host is sealed (host
	// keys, machine-id, the default user's keys): they are compared with
	// their state at the seal, not at the bake. A first_boot table without
	// a category only marks its paths; their rules come from the others.
	FirstBoot bool `toml:"first_boot"`
	// Diff, when set, says whether the bake keeps the content of the
	// table's text files, so a change shows as a diff (true), or never
	// shows their content (false: secrets). The last table that sets it
	// for a path wins. A diff table without a category only marks paths.
	Diff *bool `toml:"diff"`
}

// Rule is a compiled rule: what a matching path is, and what to compare.
type Rule struct {
	Pattern  string // the pattern that matched, as written
	Ignore   bool
	Category string
	Severity Severity
	Attrs    Attr
	index    int // position in the rule set; later rules win
}

// Rules is an ordered rule set. For each path the last matching rule wins,
// so a general rule comes first and its exceptions after it.
type Rules struct {
	rules     []Rule
	patterns  []pattern // parallel to rules
	firstBoot []pattern // the paths of first_boot tables
	diff      []diffMark
	digest    string
	// byDir indexes the patterns by the directory their literal prefix
	// lies in ("/etc/ssh/" for "/etc/ssh/**"), in ascending order: a path
	// need only try the patterns under its own ancestors. bySelf indexes
	// the "dir/**" patterns by the directory they name, which they match
	// too.
	byDir  map[string][]int
	bySelf map[string][]int
	// dirLens has bit n set when some byDir key is n bytes long (n < 256):
	// most ancestors of a path need no map lookup at all. selfLens is the
	// same for bySelf, whose lookup would hash every path whole.
	dirLens, selfLens keyLens
}

// keyLens has bit n set when some key of a map is n bytes long; keys of
// 255 bytes and more share the last bit.
type keyLens [4]uint64

func (k *keyLens) add(n int) {
	n = min(n, 255)
	k[n/64] |= 1 << (n % 64)
}

// may reports whether a key may be n bytes long.
func (k *keyLens) may(n int) bool {
	n = min(n, 255)
	return k[n/64]&(1<<(n%64)) != 0
}

// NoRule is returned for a path that no rule matches: such a path is out of
// scope, as if ignored.
var NoRule = &Rule{Pattern: "", Ignore: true, index: -1}

// CompileRules checks and compiles rule tables. Each pattern of a table
// becomes its own rule, in order.
func CompileRules(tables []RuleConfig) (*Rules, error) {
	rs := &Rules{}
	h := sha256.New()
	for i, t := range tables {
		if len(t.Paths) == 0 {
			return nil, fmt.Errorf("rule %d: paths is empty", i+1)
		}
		if t.Diff != nil {
			for _, p := range t.Paths {
				pat, err := compilePattern(p)
				if err != nil {
					return nil, fmt.Errorf("rule %d: %w", i+1, err)
				}
				rs.diff = append(rs.diff, diffMark{pat: pat, on: *t.Diff})
				fmt.Fprintf(h, "diff %q %t ", p, *t.Diff)
			}
			if !t.FirstBoot && !t.Ignore && t.Category == "" && t.Severity == "" && t.Attributes == nil {
				continue // it only marks the paths
			}
		}
		if t.FirstBoot {
			if t.Ignore {
				return nil, fmt.Errorf("rule %d (%s): first_boot paths cannot be ignored: they are compared once sealed", i+1, t.Paths[0])
			}
			for _, p := range t.Paths {
				pat, err := compilePattern(p)
				if err != nil {
					return nil, fmt.Errorf("rule %d: %w", i+1, err)
				}
				rs.firstBoot = append(rs.firstBoot, pat)
				fmt.Fprintf(h, "first_boot %q ", p)
			}
			if t.Category == "" && t.Severity == "" && t.Attributes == nil {
				continue // it only marks the paths
			}
		}
		var sev Severity
		var attrs Attr
		if !t.Ignore {
			if t.Category == "" {
				return nil, fmt.Errorf("rule %d (%s): category is empty", i+1, t.Paths[0])
			}
			var err error
			if sev, err = ParseSeverity(t.Severity); err != nil {
				return nil, fmt.Errorf("rule %d (%s): %w", i+1, t.Paths[0], err)
			}
			if attrs, err = ParseAttrs(t.Attributes); err != nil {
				return nil, fmt.Errorf("rule %d (%s): %w", i+1, t.Paths[0], err)
			}
		}
		for _, p := range t.Paths {
			pat, err := compilePattern(p)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i+1, err)
			}
			r := Rule{Pattern: p, Ignore: t.Ignore, Category: t.Category, Severity: sev, Attrs: attrs, index: len(rs.rules)}
			rs.rules = append(rs.rules, r)
			rs.patterns = append(rs.patterns, pat)
			fmt.Fprintf(h, "%q %t %q %d ", p, r.Ignore, r.Category, r.Severity)
			binary.Write(h, binary.BigEndian, uint16(r.Attrs))
		}
	}
	rs.digest = hex.EncodeToString(h.Sum(nil))
	rs.index()
	return rs, nil
}

// index builds byDir and bySelf. A path a pattern matches starts with the
// pattern's literal prefix (the whole glob, for a pattern without
// wildcards), so that prefix's directory is among the path's ancestors;
// or it is the directory a "dir/**" names.
func (rs *Rules) index() {
	rs.byDir, rs.bySelf = map[string][]int{}, map[string][]int{}
	for i := range rs.patterns {
		p := &rs.patterns[i]
		lit := p.prefix
		if p.exact {
			lit = p.glob
		}
		if p.self != "" && p.selfRe == nil {
			rs.bySelf[p.self] = append(rs.bySelf[p.self], i)
			rs.selfLens.add(len(p.self))
		}
		dir := lit[:strings.LastIndexByte(lit, '/')+1]
		if dir == "" {
			dir = "/" // "/**/x" keeps no literal slash: every path is under /
		}
		rs.byDir[dir] = append(rs.byDir[dir], i)
		rs.dirLens.add(len(dir))
	}
}

// Digest identifies the rule set; the manifest records it so that a check
// with other rules can say so.
func (rs *Rules) Digest() string { return rs.digest }

// Match returns the rule that governs path: the last one that matches.
// The rule is shared, not copied: a finding holds a pointer to it, which
// keeps a storm's 100k findings small.
func (rs *Rules) Match(path string) *Rule {
	best := -1
	try := func(cands []int) {
		for j := len(cands) - 1; j >= 0 && cands[j] > best; j-- {
			if rs.patterns[cands[j]].match(path) {
				best = cands[j]
				return
			}
		}
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && rs.dirLens.may(i+1) {
			try(rs.byDir[path[:i+1]])
		}
	}
	if rs.selfLens.may(len(path)) {
		try(rs.bySelf[path])
	}
	if best < 0 {
		return NoRule
	}
	return &rs.rules[best]
}

// diffMark is a pattern of a diff table: its paths' content is kept (on)
// or never shown.
type diffMark struct {
	pat pattern
	on  bool
}

// Diff reports whether the bake keeps the content of path, if it is a
// small text file, to show its changes as a diff (keep), and whether any
// diff table names it at all (marked: a path marked but not kept is a
// secret whose content is never shown). The last diff table that matches
// says.
func (rs *Rules) Diff(path string) (keep, marked bool) {
	for i := range rs.diff {
		if rs.diff[i].pat.match(path) {
			keep, marked = rs.diff[i].on, true
		}
	}
	return keep, marked
}

// DiffPrefixes are the literal beginnings of the diff patterns that keep
// content ("/etc" for "/etc/**"), sorted, none under another: every path
// Diff keeps starts with one of them, so a bake looks for text files to
// keep there and not among the million other paths of the tree.
func (rs *Rules) DiffPrefixes() []string {
	var keeping []pattern
	for _, d := range rs.diff {
		if d.on {
			keeping = append(keeping, d.pat)
		}
	}
	return coveringPrefixes(keeping)
}

// FirstBootPrefixes are the literal beginnings of the first-boot
// patterns, as DiffPrefixes: every path FirstBoot reports starts with one.
func (rs *Rules) FirstBootPrefixes() []string { return coveringPrefixes(rs.firstBoot) }

// coveringPrefixes are the patterns' covering literals, sorted, none
// under another.
func coveringPrefixes(pats []pattern) []string {
	var all []string
	for i := range pats {
		all = append(all, pats[i].covering())
	}
	slices.Sort(all)
	var out []string
	for _, p := range all {
		if len(out) == 0 || !strings.HasPrefix(p, out[len(out)-1]) {
			out = append(out, p)
		}
	}
	return out
}

// FirstBoot reports whether path may change until the host is sealed.
func (rs *Rules) FirstBoot(path string) bool {
	for i := range rs.firstBoot {
		if rs.firstBoot[i].match(path) {
			return true
		}
	}
	return false
}

// SplitFirstBoot separates the findings on first-boot paths from the
// rest, for a host not sealed yet: those paths may change until the seal,
// so they are pending, neither drift nor clean.
func (rs *Rules) SplitFirstBoot(findings []Finding) (rest, firstBoot []Finding) {
	if !rs.HasFirstBoot() {
		return findings, nil
	}
	for _, f := range findings {
		if rs.FirstBoot(f.Path) {
			firstBoot = append(firstBoot, f)
		} else {
			rest = append(rest, f)
		}
	}
	return rest, firstBoot
}

// HasFirstBoot reports whether any rule marks first-boot paths.
func (rs *Rules) HasFirstBoot() bool { return len(rs.firstBoot) > 0 }

// FirstBootRules is the rule set a seal walks: only the first-boot paths,
// so that the walk descends nowhere else.
func (rs *Rules) FirstBootRules() *Rules {
	out := &Rules{digest: rs.digest}
	for i, pat := range rs.firstBoot {
		out.rules = append(out.rules, Rule{Pattern: pat.glob, Category: "first_boot", Severity: SeverityInfo, Attrs: DefaultAttrs, index: i})
		out.patterns = append(out.patterns, pat)
	}
	out.index()
	return out
}

// CanPrune reports whether the walk may skip everything below dir, given the
// rule that governs dir: true when that rule ignores it and no later rule
// could match anything beneath it.
func (rs *Rules) CanPrune(dir string, r *Rule) bool {
	if !r.Ignore {
		return false
	}
	for i := r.index + 1; i < len(rs.patterns); i++ {
		if rs.patterns[i].mayMatchBelow(dir) {
			return false
		}
	}
	return true
}

// Class is a category and a severity: what a finding is counted by.
type Class struct {
	Category string
	Severity Severity
}

// Classes lists the classes the rules can give a finding, sorted, each
// once: with the derived SSH paths' class, which any root may produce.
func (rs *Rules) Classes() []Class {
	sshSeverity, _ := ParseSeverity(SSHSeverity)
	seen := map[Class]bool{{SSHCategory, sshSeverity}: true}
	for i := range rs.rules {
		if r := &rs.rules[i]; !r.Ignore {
			seen[Class{r.Category, r.Severity}] = true
		}
	}
	out := slices.Collect(maps.Keys(seen))
	slices.SortFunc(out, func(a, b Class) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), cmp.Compare(a.Severity, b.Severity))
	})
	return out
}
