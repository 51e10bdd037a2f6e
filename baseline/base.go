package baseline

// Base is what a comparison compares with: a manifest's entries, or, with
// a first-boot seal in force, those entries with the first-boot paths as
// the seal recorded them. The sealed view is not a copy: it keeps the
// manifest's entries, the seal's few, and a bit per entry for those the
// seal replaces, so a million-entry baseline is held once, sealed or not.
//
// A Base's indexes run over the manifest's entries, then the seal's.
type Base struct {
	entries *Packed
	sealed  *Packed  // nil: no seal
	shadow  []uint64 // bit i: the manifest's entry i is replaced by the seal
}

// BaseOf is the base of a manifest's entries, unsealed.
func BaseOf(entries *Packed) *Base { return &Base{entries: entries} }

// SealedBase is entries with the first-boot paths as a seal recorded them:
// the entries on the first-boot paths of rs are dropped, and the sealed
// entries (all first-boot paths) stand in their place. Neither is
// changed. Only the runs of entries under the first-boot patterns'
// literal prefixes are matched: a million entries matched one by one were
// a fifth of a second of every check before its walk began.
func SealedBase(entries, sealed *Packed, rs *Rules) *Base {
	b := &Base{entries: entries, sealed: sealed, shadow: make([]uint64, (entries.Len()+63)/64)}
	for _, prefix := range rs.FirstBootPrefixes() {
		lo, hi := entries.PrefixRange(prefix)
		entries.Range(lo, hi, func(i int, e *Entry) bool {
			if rs.FirstBoot(e.Path) {
				b.shadow[i/64] |= 1 << (i % 64)
			}
			return true
		})
	}
	sealed.All(func(_ int, e *Entry) bool {
		if i, ok := entries.Find(e.Path); ok {
			b.shadow[i/64] |= 1 << (i % 64)
		}
		return true
	})
	return b
}

func (b *Base) shadowed(i int) bool { return b.shadow != nil && b.shadow[i/64]&(1<<(i%64)) != 0 }

// Len is the size of the base's index space: the manifest's entries and
// the seal's, the replaced ones included.
func (b *Base) Len() int { return b.entries.Len() + b.sealed.Len() }

// Lookup returns path's entry and its index. The entry's Path is the
// caller's string.
func (b *Base) Lookup(path string) (Entry, int, bool) {
	if e, i, ok := b.entries.Lookup(path); ok && !b.shadowed(i) {
		return e, i, true
	}
	if b.sealed != nil {
		if e, i, ok := b.sealed.Lookup(path); ok {
			return e, b.entries.Len() + i, true
		}
	}
	return Entry{}, 0, false
}

// BaseSeeker is a Seeker on a base: Lookup, cheapest when the paths come
// in order. It is one goroutine's.
type BaseSeeker struct {
	b               *Base
	entries, sealed *Seeker
}

// Seeker returns a BaseSeeker on b.
func (b *Base) Seeker() *BaseSeeker {
	s := &BaseSeeker{b: b, entries: b.entries.Seeker()}
	if b.sealed != nil {
		s.sealed = b.sealed.Seeker()
	}
	return s
}

// Lookup is Base.Lookup.
func (s *BaseSeeker) Lookup(path string) (Entry, int, bool) {
	if e, i, ok := s.entries.Lookup(path); ok && !s.b.shadowed(i) {
		return e, i, true
	}
	if s.sealed != nil {
		if e, i, ok := s.sealed.Lookup(path); ok {
			return e, s.b.entries.Len() + i, true
		}
	}
	return Entry{}, 0, false
}

// parts are the packed lists behind the base, in index order.
func (b *Base) parts() []*Packed {
	if b.sealed == nil {
		return []*Packed{b.entries}
	}
	return []*Packed{b.entries, b.sealed}
}

// Entries is the base as one sorted list, decoded: for tests and small
// trees.
func (b *Base) Entries() []Entry {
	var out []Entry
	b.entries.All(func(i int, e *Entry) bool {
		if !b.shadowed(i) {
			out = append(out, *e)
		}
		return true
	})
	if b.sealed != nil {
		out = append(out, b.sealed.Unpack()...)
		SortEntries(out)
	}
	return out
}
