package containers

import (
	"io/fs"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"driftd/baseline"
	"driftd/baseline/overlay"
	"driftd/reporter"
)

// Baked is a driftd baseline baked into a container's image (`driftd bake`
// in its Dockerfile), verified: its rules judge the container in place of
// the [containers] section's, and its first-boot paths may change for the
// first_boot window after the container starts, then are sealed.
type Baked struct {
	// Tables are the image's [[rule]] tables, those the manifest was baked
	// with (the reader checks the rules digest the manifest signs).
	Tables     []baseline.RuleConfig
	BaselineID string // the manifest's id
	KeyID      string // the key its signature verified with
	KeyFrom    string // "trusted_keys", or "image": the key the image ships
}

// BakedReader reads the baseline baked into an image: nil when the image
// has none, an error when it has one that cannot be verified.
type BakedReader func(image fs.FS) (*Baked, error)

// takeBaked reads the baseline baked into c's image, if any: its rules
// then judge c. One that cannot be verified leaves c unverified and judged
// by the [containers] section.
func (c *container) takeBaked(read BakedReader, cfg *Config, rec *record, now time.Time) {
	b, err := read(c.mount.Layers.Image())
	if err == nil && b == nil {
		return
	}
	var rules *baseline.Rules
	if err == nil {
		rules, err = cfg.compile(b.Tables)
	}
	if err != nil {
		c.bakedErr = "the baseline baked in its image: " + err.Error()
		return
	}
	c.baked, c.differ.Rules = b, rules
	c.firstBoot = newFirstBoot(cfg.FirstBoot.Duration, c.mount.Layers.Upper, rec, now)
}

func (c *container) rules() *baseline.Rules { return c.differ.Rules }

// firstBoot is a baked container's first-boot state: its first-boot paths
// may change until the window ends, and are compared with their state at
// the seal from then on.
type firstBoot struct {
	until  time.Time
	sealed *seal
	// unsealed: the window ended while driftd did not run, so there is no
	// seal: a first-boot path changed from the image cannot be verified.
	unsealed bool
}

// open reports whether first-boot paths may still change.
func (fb *firstBoot) open() bool { return fb != nil && fb.sealed == nil && !fb.unsealed }

// seal is the state of a container's first-boot paths at the end of its
// window: each one that differed from the image then. It is kept in the
// container's record, so a restarted daemon compares with it and not with
// the image.
type seal struct {
	At    time.Time             `json:"sealed_at"`
	Paths map[string]sealedPath `json:"paths"`
}

// sealedPath is one first-boot path as the seal found it.
type sealedPath struct {
	Kind   baseline.Kind   `json:"kind"`
	Before *baseline.Entry `json:"before,omitempty"` // the image's
	After  *baseline.Entry `json:"after,omitempty"`  // the container's then
}

// startedAt is when the container's upper directory was made: its start,
// for a runtime that makes it at start. Without a birth time it is now.
func startedAt(upper string, now time.Time) time.Time {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, upper, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &st); err != nil || st.Mask&unix.STATX_BTIME == 0 {
		return now
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
}

// newFirstBoot is the first-boot state of a container found at now: its
// seal read back from rec, or its window open, or no seal at all.
func newFirstBoot(window time.Duration, upper string, rec *record, now time.Time) *firstBoot {
	fb := &firstBoot{until: startedAt(upper, now).Add(window)}
	switch {
	case rec != nil && rec.Seal != nil:
		fb.sealed = rec.Seal
	case !fb.until.After(now):
		fb.unsealed = true
	}
	return fb
}

// judgeFirstBoot sorts findings under a baked baseline's first-boot
// paths: while the window is open, or where it closed unseen, they are
// pending; once sealed they are compared with the seal, and a sealed path
// no longer changed at all (within scope) is a change since the seal.
func (c *container) judgeFirstBoot(findings []baseline.Finding, scope string) (out, pending []baseline.Finding) {
	fb := c.firstBoot
	if fb == nil || !c.rules().HasFirstBoot() {
		return findings, nil
	}
	seen := map[string]bool{}
	for _, f := range findings {
		if !c.rules().FirstBoot(f.Path) {
			out = append(out, f)
			continue
		}
		if fb.sealed == nil {
			// Open: they may change. Unsealed: changed in a window no
			// daemon saw close, so they cannot be verified either way.
			pending = append(pending, f)
			continue
		}
		seen[f.Path] = true
		s, ok := fb.sealed.Paths[f.Path]
		if !ok {
			out = append(out, f) // unchanged at the seal: the image is its state
			continue
		}
		attrs := f.Rule.Attrs & overlay.Compared
		if f.Kind == s.Kind && sameEntry(f.After, s.After, attrs) {
			continue // as sealed
		}
		f.Before = s.After
		if f.After != nil && s.After != nil {
			f.Kind, f.Changes = baseline.Modified, f.After.Diff(s.After, attrs)
		}
		out = append(out, f)
	}
	if fb.sealed != nil {
		for p, s := range fb.sealed.Paths {
			if seen[p] || !within(p, scope) || s.Before == nil {
				continue
			}
			// Back to the image's state: changed since the seal.
			f := baseline.Finding{Path: p, Kind: baseline.Modified, Rule: c.rules().Match(p), Before: s.After, After: s.Before}
			if s.After != nil {
				f.Changes = s.Before.Diff(s.After, f.Rule.Attrs&overlay.Compared)
			} else {
				f.Kind = baseline.Added
			}
			out = append(out, f)
		}
	}
	return out, pending
}

// sealOf records the state of the first-boot paths among changes.
func (c *container) sealOf(changes []baseline.Finding, now time.Time) *seal {
	s := &seal{At: now, Paths: map[string]sealedPath{}}
	for _, f := range changes {
		if c.rules().FirstBoot(f.Path) {
			s.Paths[f.Path] = sealedPath{Kind: f.Kind, Before: f.Before, After: f.After}
		}
	}
	return s
}

func sameEntry(a, b *baseline.Entry, attrs baseline.Attr) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Err == "" && b.Err == "" && a.Diff(b, attrs) == 0
}

// firstBootState is where a baked container's first boot stands: none
// (its rules mark no first-boot paths), open, sealed, or unsealed.
func (c *container) firstBootState() string {
	fb := c.firstBoot
	switch {
	case fb == nil || !c.rules().HasFirstBoot():
		return "none"
	case fb.open():
		return "open"
	case fb.sealed != nil:
		return "sealed"
	}
	return "unsealed"
}

// bakedJSON is the baked baseline's part of c's report.
func (c *container) bakedJSON() *reporter.ContainerBaseline {
	if c.baked == nil {
		return nil
	}
	j := &reporter.ContainerBaseline{ID: c.baked.BaselineID, Key: c.baked.KeyID, KeyFrom: c.baked.KeyFrom, FirstBoot: c.firstBootState()}
	switch j.FirstBoot {
	case "open":
		j.FirstBootUntil = &c.firstBoot.until
	case "sealed":
		j.SealedAt = &c.firstBoot.sealed.At
	}
	for p := range c.pending {
		j.Pending = append(j.Pending, p)
	}
	slices.Sort(j.Pending)
	return j
}
