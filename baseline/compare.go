package baseline

import (
	"path"
)

// Kind says how a path drifted.
type Kind uint8

// The kinds of finding.
const (
	Added Kind = iota + 1
	Removed
	Modified
)

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
	Changes Attr // for Modified: what differs
	Rule    Rule // the rule that governs the path
	Before  *Entry
	After   *Entry
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
}

// Clean reports whether every path in scope was verified and none drifted.
func (r *Result) Clean() bool { return len(r.Findings) == 0 && len(r.Unverified) == 0 }

// Compare returns how observed differs from base. Both are sorted by path,
// as Walk and Decode give them. Each path is judged by the rule that governs
// it now; paths that rule ignores are out of scope on both sides.
func Compare(base, observed []Entry, rules *Rules) Result {
	var res Result
	// Directories that could not be listed: what the baseline had below
	// them is unverified, not removed.
	blind := map[string]bool{}
	for i := range observed {
		if observed[i].Type == TypeDir && observed[i].Err != "" {
			blind[observed[i].Path] = true
		}
	}
	underBlind := func(p string) bool {
		if len(blind) == 0 {
			return false
		}
		for d := path.Dir(p); ; d = path.Dir(d) {
			if blind[d] {
				return true
			}
			if d == "/" || d == "." {
				return false
			}
		}
	}

	i, j := 0, 0
	for i < len(base) || j < len(observed) {
		switch {
		case j == len(observed) || (i < len(base) && base[i].Path < observed[j].Path):
			b := &base[i]
			i++
			rule := rules.Match(b.Path)
			if rule.Ignore || underBlind(b.Path) {
				continue
			}
			res.Findings = append(res.Findings, Finding{Path: b.Path, Kind: Removed, Rule: rule, Before: b})
		case i == len(base) || observed[j].Path < base[i].Path:
			o := &observed[j]
			j++
			rule := rules.Match(o.Path)
			if rule.Ignore {
				continue
			}
			if o.Err != "" {
				res.Unverified = append(res.Unverified, Unverified{Path: o.Path, Reason: o.Err})
			}
			res.Findings = append(res.Findings, Finding{Path: o.Path, Kind: Added, Rule: rule, After: o})
		default:
			b, o := &base[i], &observed[j]
			i++
			j++
			rule := rules.Match(o.Path)
			if rule.Ignore {
				continue
			}
			switch {
			case o.Err != "":
				res.Unverified = append(res.Unverified, Unverified{Path: o.Path, Reason: o.Err})
			case b.Err != "" && rule.Attrs&AttrContent != 0:
				res.Unverified = append(res.Unverified, Unverified{Path: b.Path, Reason: "not readable at bake time: " + b.Err})
			}
			if o.Type == 0 || b.Type == 0 {
				continue // nothing known to compare with
			}
			if d := diff(b, o, rule.Attrs); d != 0 {
				res.Findings = append(res.Findings, Finding{Path: o.Path, Kind: Modified, Changes: d, Rule: rule, Before: b, After: o})
			}
		}
	}
	return res
}

// imageDiffRules compares two images on what a rebuild of the same content
// keeps: everything but times, inodes and link counts.
var imageDiffRules = func() *Rules {
	rs, err := CompileRules([]RuleConfig{{
		Paths:      []string{"/**"},
		Category:   "image",
		Severity:   "info",
		Attributes: ImageDiffAttrs.Names(),
	}})
	if err != nil {
		panic(err)
	}
	return rs
}()

// Diff returns what changed from image a to image b.
func Diff(a, b *Manifest) Result {
	return Compare(a.Entries, b.Entries, imageDiffRules)
}
