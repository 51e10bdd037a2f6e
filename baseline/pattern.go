package baseline

import (
	"fmt"
	"regexp"
	"strings"
)

// pattern is a compiled path glob: * matches within one path segment, **
// across segments, ? one byte that is not a slash. A pattern ending in /**
// also matches the directory it names. Globs compile to RE2 expressions,
// which match in linear time whatever the pattern.
type pattern struct {
	glob    string
	prefix  string         // the literal part before the first wildcard
	exact   bool           // no wildcard at all
	anyRest bool           // the glob is prefix + "**": the prefix decides
	rest    *regexp.Regexp // the glob after prefix, anchored
	suffix  string         // for "prefix/**/*lit": lit, which decides without rest
	self    string         // for "dir/**": "dir", which the pattern also matches
	selfRe  *regexp.Regexp // self after prefix, when self has wildcards
}

func compilePattern(p string) (pattern, error) {
	if !strings.HasPrefix(p, "/") {
		return pattern{}, fmt.Errorf("pattern %q is not an absolute path", p)
	}
	if strings.Contains(p, "***") {
		return pattern{}, fmt.Errorf("pattern %q has ***: use ** to match across directories", p)
	}
	pat := pattern{glob: p}
	i := strings.IndexAny(p, "*?")
	if i < 0 {
		pat.prefix, pat.exact = p, true
		return pat, nil
	}
	pat.prefix = p[:i]
	rest := p[i:]
	if strings.HasPrefix(rest, "**/") && strings.HasSuffix(pat.prefix, "/") {
		// "/a/**/b" must match "/a/b": the slash before ** belongs to the glob.
		pat.prefix, rest = pat.prefix[:len(pat.prefix)-1], "/"+rest
	}
	pat.anyRest = rest == "**"
	pat.rest = regexp.MustCompile(globRegexp(rest))
	// "/**/*.key" and the like match by the name's end: a regexp per path
	// was a tenth of a bake's CPU.
	if lit, ok := strings.CutPrefix(rest, "/**/*"); ok && lit != "" && !strings.ContainsAny(lit, "*?/") {
		pat.suffix = lit
	}
	if strings.HasSuffix(p, "/**") {
		pat.self = p[:len(p)-3]
		if pat.self == "" {
			pat.self = "/"
		}
		if len(pat.self) > len(pat.prefix) {
			pat.selfRe = regexp.MustCompile(globRegexp(pat.self[len(pat.prefix):]))
		}
	}
	return pat, nil
}

// covering is the literal that every path the pattern matches starts
// with: its prefix, but for a "dir/**", which matches dir too, the part
// its prefix and dir share.
func (p *pattern) covering() string {
	n := len(p.prefix)
	if p.self != "" {
		n = 0
		for n < len(p.prefix) && n < len(p.self) && p.prefix[n] == p.self[n] {
			n++
		}
	}
	return p.prefix[:n]
}

// globRegexp translates a glob to an anchored regexp that matches raw
// bytes, newlines included. "/**/" also matches a single slash.
func globRegexp(glob string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for len(glob) > 0 {
		switch {
		case strings.HasPrefix(glob, "/**/"):
			b.WriteString(`/(?:.*/)?`)
			glob = glob[4:]
		case strings.HasPrefix(glob, "**"):
			b.WriteString(`.*`)
			glob = glob[2:]
		case glob[0] == '*':
			b.WriteString(`[^/]*`)
			glob = glob[1:]
		case glob[0] == '?':
			b.WriteString(`[^/]`)
			glob = glob[1:]
		default:
			j := strings.IndexAny(glob[1:], "*?/") + 1
			if j == 0 {
				j = len(glob)
			}
			b.WriteString(regexp.QuoteMeta(glob[:j]))
			glob = glob[j:]
		}
	}
	b.WriteString(`$`)
	return b.String()
}

func (p *pattern) match(path string) bool {
	if p.exact {
		return path == p.glob
	}
	if p.self != "" && p.matchSelf(path) {
		return true
	}
	if !strings.HasPrefix(path, p.prefix) {
		return false
	}
	if p.suffix != "" {
		rest := path[len(p.prefix):]
		return len(rest) > len(p.suffix) && rest[0] == '/' && strings.HasSuffix(rest, p.suffix)
	}
	return p.anyRest || p.rest.MatchString(path[len(p.prefix):])
}

// matchSelf reports whether path is the directory a "dir/**" pattern names.
func (p *pattern) matchSelf(path string) bool {
	if p.selfRe == nil {
		return path == p.self // the wildcards are all in the trailing /**
	}
	return strings.HasPrefix(path, p.prefix) && p.selfRe.MatchString(path[len(p.prefix):])
}

// mayMatchBelow reports whether the pattern could match some path under dir.
// It may answer true where no such path exists; it never answers false where
// one does.
func (p *pattern) mayMatchBelow(dir string) bool {
	below := dir + "/"
	if dir == "/" {
		below = "/"
	}
	if p.exact {
		return strings.HasPrefix(p.glob, below)
	}
	// Either the literal prefix lies inside dir, or dir lies inside the
	// prefix's reach (the wildcard part may extend below dir).
	return strings.HasPrefix(p.prefix, below) || strings.HasPrefix(below, p.prefix)
}
