package overlay

import (
	"context"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"driftd/baseline"
	"driftd/baseline/walk"
)

// Change is one path that differs from the image.
type Change struct {
	Path    string
	Kind    baseline.Kind
	Changes baseline.Attr   // for Modified: what differs
	Rule    *baseline.Rule  // the rule that governs the path
	Before  *baseline.Entry // the image's, for Modified and Removed
	After   *baseline.Entry // the container's, for Added and Modified
	// Executable: a regular file with an execute bit that the image did not
	// have as such: added, made executable, or its content changed.
	Executable bool
	// Opaque: a directory that replaced the image's whole (what the image
	// had below it and the container has not is removed).
	Opaque bool
}

// Compared is what a container's change is judged by, at most (a rule's
// attributes narrow it): what a rebuild of the image would keep, and the
// mtime (overlayfs keeps it on copy-up, so a touched file shows).
const Compared = baseline.ImageDiffAttrs | baseline.AttrMtime

// Differ reads the changes of one overlay root.
type Differ struct {
	Layers  Layers
	Rules   *baseline.Rules // what is in scope; ignored paths are not walked
	Workers int
	// BeforeList is called with each upper directory (root-relative)
	// before it is listed, for a watch that misses nothing.
	BeforeList func(dir string)
}

// Diff returns the changes at and below rel ("/" for the whole root),
// sorted by path. Its error is for an upper directory that cannot be read
// at all; a path that cannot be read is a change with the entry's Err set,
// never a clean one.
func (d *Differ) Diff(ctx context.Context, rel string) ([]Change, error) {
	w := walk.Walker{Root: d.Layers.Upper, Rules: d.Rules, Workers: max(d.Workers, 1), BeforeList: d.BeforeList}
	var mu sync.Mutex
	var changes []Change
	err := w.WalkPathFunc(ctx, rel, func(batch []baseline.Entry) {
		for i := range batch {
			c, ok := d.judge(ctx, batch[i])
			if ok {
				mu.Lock()
				changes = append(changes, c...)
				mu.Unlock()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if rel != "/" && !existsUpper(d.Layers.Upper, rel) {
		changes = append(changes, d.hiddenByOpaque(ctx, rel)...)
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return changes, nil
}

func existsUpper(upper, rel string) bool {
	_, err := os.Lstat(path.Join(upper, rel))
	return err == nil
}

// judge turns one upper entry into its changes: none for a copy-up that
// changed nothing, the directory and what it hid for an opaque one.
func (d *Differ) judge(ctx context.Context, up baseline.Entry) ([]Change, bool) {
	if up.Path == "/" {
		return nil, false // the root itself: its children say what changed
	}
	rule := d.Rules.Match(up.Path)
	lowerPath := d.Layers.lookupLower(up.Path)
	upperPath := path.Join(d.Layers.Upper, up.Path)
	if up.Type == baseline.TypeCharDevice && up.Rdev == 0 {
		if lowerPath == "" {
			return nil, false // a whiteout of nothing in the image
		}
		before := imageEntry(ctx, lowerPath, up.Path)
		return []Change{{Path: up.Path, Kind: baseline.Removed, Rule: rule, Before: &before}}, true
	}
	up.Xattrs = withoutOverlay(up.Xattrs)
	after := up
	if lowerPath == "" {
		return []Change{{Path: up.Path, Kind: baseline.Added, Rule: rule, After: &after, Executable: executable(&after)}}, true
	}
	before := imageEntry(ctx, lowerPath, up.Path)
	before.Xattrs = withoutOverlay(before.Xattrs)
	if after.Type == baseline.TypeRegular && hasXattr(upperPath, metacopyXattrs) {
		// A metadata-only copy-up: the content is still the image's.
		after.Digest, after.Size = before.Digest, before.Size
	}
	var out []Change
	diff := after.Diff(&before, Compared&rule.Attrs)
	if after.Err != "" || before.Err != "" {
		diff |= baseline.AttrContent // unread is never the same
	}
	opaque := after.Type == baseline.TypeDir && isOpaque(upperPath)
	if diff != 0 || opaque {
		out = append(out, Change{
			Path: up.Path, Kind: baseline.Modified, Changes: diff, Rule: rule, Before: &before, After: &after,
			Executable: executable(&after) && (!executable(&before) || diff&(baseline.AttrContent|baseline.AttrType) != 0),
			Opaque:     opaque,
		})
	}
	if opaque && before.Type == baseline.TypeDir {
		out = append(out, d.hidden(ctx, up.Path)...)
	}
	return out, len(out) > 0
}

// hidden is what the image has below the opaque directory rel and the
// container does not: each a removal.
func (d *Differ) hidden(ctx context.Context, rel string) []Change {
	var out []Change
	names, _ := d.Layers.Image().ReadDir(strings.TrimPrefix(rel, "/"))
	for _, n := range names {
		child := path.Join(rel, n.Name())
		if existsUpper(d.Layers.Upper, child) {
			continue // the upper entry reports itself
		}
		rule := d.Rules.Match(child)
		if rule.Ignore {
			continue
		}
		before := imageEntry(ctx, d.Layers.lookupLower(child), child)
		out = append(out, Change{Path: child, Kind: baseline.Removed, Rule: rule, Before: &before})
	}
	return out
}

// hiddenByOpaque is the removal of rel, which the upper layer has not,
// where an opaque upper directory above it hides the image's: the
// directory's own walk reports it so, and a walk of rel alone must too.
func (d *Differ) hiddenByOpaque(ctx context.Context, rel string) []Change {
	for dir := path.Dir(rel); dir != "/"; dir = path.Dir(dir) {
		if !existsUpper(d.Layers.Upper, dir) {
			continue
		}
		if !isOpaque(path.Join(d.Layers.Upper, dir)) {
			return nil // merged with the image below it
		}
		lower := d.Layers.lookupLower(rel)
		rule := d.Rules.Match(rel)
		if lower == "" || rule.Ignore {
			return nil
		}
		before := imageEntry(ctx, lower, rel)
		return []Change{{Path: rel, Kind: baseline.Removed, Rule: rule, Before: &before}}
	}
	return nil
}

// imageEntry records the image's copy of rel, at host path p, as a walk
// would. Image layers do not change; one that lost the file while it was
// read is an error entry, never a match.
func imageEntry(ctx context.Context, p, rel string) baseline.Entry {
	e, ok := walk.ReadEntry(ctx, p, rel)
	if !ok {
		return baseline.Entry{Path: rel, Err: "gone from the image layer while read"}
	}
	return e
}

// executable reports whether e is a regular file with an execute bit.
func executable(e *baseline.Entry) bool {
	return e.Type == baseline.TypeRegular && e.Mode&0o111 != 0
}

// withoutOverlay drops overlayfs's own xattrs, which say how a file is
// stored, not what it is.
func withoutOverlay(xs []baseline.Xattr) []baseline.Xattr {
	if !slices.ContainsFunc(xs, isOverlayXattr) {
		return xs
	}
	return slices.DeleteFunc(slices.Clone(xs), isOverlayXattr)
}

func isOverlayXattr(x baseline.Xattr) bool {
	return strings.HasPrefix(x.Name, "trusted.overlay.") || strings.HasPrefix(x.Name, "user.overlay.")
}
