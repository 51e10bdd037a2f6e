package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	pathpkg "path"
	"slices"
	"strings"
	"time"

	"driftd/baseline"
	"driftd/baseline/atomicfile"
	"driftd/baseline/check"
)

// tracked is a finding the daemon holds now, and when it was first seen.
type tracked struct {
	baseline.Finding
	FirstSeen time.Time
	// restored is a finding loaded from the state dir, known by path,
	// kind, changes and rule until the first comparison fills it in.
	restored bool
}

// Change is what one comparison did to the findings state.
type Change struct {
	Event     Event // EventDrift (new), EventChanged or EventReverted
	Finding   baseline.Finding
	FirstSeen time.Time
}

// findings is the current drift, keyed by path. The daemon's loop owns it;
// it is not safe for concurrent use.
type findings struct {
	current    map[string]*tracked
	unverified map[string]string
	// pending are changed first-boot paths while the host is not sealed:
	// neither drift nor clean.
	pending map[string]*baseline.Finding
}

func newFindings() *findings {
	return &findings{current: map[string]*tracked{}, unverified: map[string]string{}, pending: map[string]*baseline.Finding{}}
}

// classes counts the current findings by class.
func (s *findings) classes() map[baseline.Class]int {
	counts := map[baseline.Class]int{}
	for _, t := range s.current {
		counts[baseline.Class{Category: t.Rule.Category, Severity: t.Rule.Severity}]++
	}
	return counts
}

// scopes is a set of paths, each standing for itself and what is below it.
type scopes map[string]bool

// covers reports whether path is one of the scopes or below one.
func (sc scopes) covers(path string) bool {
	for p := path; ; p = pathpkg.Dir(p) {
		if sc[p] {
			return true
		}
		if p == "/" || p == "." {
			return false
		}
	}
}

// apply replaces what the state holds within the scopes by res, the
// comparison of those scopes, and returns the changes. A finding that
// persists keeps its first-seen time.
func (s *findings) apply(scope scopes, res check.Result, now time.Time) []Change {
	var changes []Change
	fresh := make(map[string]*baseline.Finding, len(res.Findings))
	for i := range res.Findings {
		fresh[res.Findings[i].Path] = &res.Findings[i]
	}
	for path, t := range s.current {
		if !scope.covers(path) {
			continue
		}
		if _, still := fresh[path]; !still {
			delete(s.current, path)
			changes = append(changes, Change{Event: EventReverted, Finding: t.Finding, FirstSeen: t.FirstSeen})
		}
	}
	for path, f := range fresh {
		t, had := s.current[path]
		switch {
		case !had:
			s.current[path] = &tracked{Finding: *f, FirstSeen: now}
			changes = append(changes, Change{Event: EventDrift, Finding: *f, FirstSeen: now})
		case t.restored && t.Kind == f.Kind && t.Changes == f.Changes:
			by := t.By
			t.Finding, t.restored = *f, false // the drift seen before the restart: not news
			t.By = by
		case t.restored || t.Kind != f.Kind || t.Changes != f.Changes || afterDiffers(t.After, f.After):
			t.Finding, t.restored = *f, false
			changes = append(changes, Change{Event: EventChanged, Finding: *f, FirstSeen: t.FirstSeen})
		default:
			by := t.By // who made the drift, seen when it was
			t.Finding = *f
			t.By = by
		}
	}
	for path := range s.unverified {
		if scope.covers(path) {
			delete(s.unverified, path)
		}
	}
	for _, u := range res.Unverified {
		s.unverified[u.Path] = u.Reason
	}
	for path := range s.pending {
		if scope.covers(path) {
			delete(s.pending, path)
		}
	}
	for i := range res.Pending {
		f := res.Pending[i]
		s.pending[f.Path] = &f
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Finding.Path, b.Finding.Path) })
	return changes
}

// afterDiffers reports whether a drifted path changed again: a new content
// digest, mode or owner is a new event even if the same attributes differ
// from the baseline.
func afterDiffers(a, b *baseline.Entry) bool {
	if a == nil || b == nil {
		return a != b
	}
	return a.Digest != b.Digest || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID ||
		a.Target != b.Target || a.Type != b.Type || a.Size != b.Size
}

// sorted returns the current findings in path order.
func (s *findings) sorted() []*tracked {
	out := make([]*tracked, 0, len(s.current))
	for _, t := range s.current {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tracked) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// stateFile is what the state dir keeps of the findings, so a restart
// neither forgets when a finding was first seen nor announces it again,
// and exports each with its class from the first scrape.
type stateFile struct {
	BaselineID string                    `json:"baseline_id"`
	Findings   []savedEntry              `json:"findings"`
	Packages   []baseline.PackageFinding `json:"packages,omitempty"`
}

type savedEntry struct {
	Path      []byte    `json:"path"` // base64: paths are raw bytes
	Kind      string    `json:"kind"`
	Changes   []string  `json:"changes,omitempty"`
	Rule      string    `json:"rule"`
	Category  string    `json:"category"`
	Severity  string    `json:"severity"`
	FirstSeen time.Time `json:"first_seen"`
	// By is who made it, when seen: a restart must not forget it.
	By *baseline.Actor `json:"by,omitempty"`
}

// save writes the findings and the package findings to path atomically,
// one entry at a time: the state of a storm's 100k findings is never built
// in memory whole.
func (s *findings) save(path, baselineID string, pkgs []baseline.PackageFinding) error {
	return atomicfile.Write(path, 0o600, func(w io.Writer) error {
		id, _ := json.Marshal(baselineID)
		p, err := json.Marshal(pkgs)
		if err != nil {
			return fmt.Errorf("encode state: %w", err)
		}
		fmt.Fprintf(w, `{"baseline_id":%s,"packages":%s,"findings":[`, id, p)
		enc := json.NewEncoder(w)
		for i, t := range s.sorted() {
			if i > 0 {
				io.WriteString(w, ",")
			}
			e := savedEntry{Path: []byte(t.Path), Kind: t.Kind.String(), Changes: t.Changes.Names(), FirstSeen: t.FirstSeen,
				Rule: t.Rule.Pattern, Category: t.Rule.Category, Severity: t.Rule.Severity.String(), By: t.By}
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("encode state: %w", err)
			}
		}
		_, err = io.WriteString(w, "]}\n")
		return err
	})
}

// load restores the findings saved for this baseline, each with the rule
// that governs its path under rules (or, where no rule does now, the
// class it was saved with), and returns the saved package findings. A
// missing file is a first start; a file for another baseline is ignored:
// the host now answers to another image.
func (s *findings) load(path, baselineID string, rules *baseline.Rules) ([]baseline.PackageFinding, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var sf stateFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if sf.BaselineID != baselineID {
		return nil, nil
	}
	for _, e := range sf.Findings {
		kind := map[string]baseline.Kind{"added": baseline.Added, "removed": baseline.Removed, "modified": baseline.Modified}[e.Kind]
		changes, err := baseline.AttrsFromNames(e.Changes)
		if err != nil {
			return nil, fmt.Errorf("state %s: %s: %w", path, e.Path, err)
		}
		rule := rules.Match(string(e.Path))
		if rule.Ignore {
			sev, err := baseline.ParseSeverity(e.Severity)
			if err != nil || e.Category == "" {
				continue // out of scope now, and saved without a class: the first scan decides
			}
			rule = &baseline.Rule{Pattern: e.Rule, Category: e.Category, Severity: sev}
		}
		s.current[string(e.Path)] = &tracked{
			Finding:   baseline.Finding{Path: string(e.Path), Kind: kind, Changes: changes, Rule: rule, By: e.By},
			FirstSeen: e.FirstSeen,
			restored:  true,
		}
	}
	return sf.Packages, nil
}
