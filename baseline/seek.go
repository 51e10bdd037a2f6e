package baseline

import "bytes"

// Seeker looks paths up in a Packed, cheapest when they come in order: a
// lookup at or past the one before goes on from where that one stopped,
// where Lookup searches the blocks afresh and decodes its block from the
// start each time. A check looks up every path it walks, one directory's
// batch at a time; sorted, a batch's paths sit in a block or two, and a
// million binary searches were a tenth of a check's CPU.
//
// A Seeker is one goroutine's; any number may read one Packed.
type Seeker struct {
	p *Packed
	b int // the block c is in; -1: none yet
	c cursor
	// path is the last path c read. When pending, c is on that record's
	// fields (it sorted after the path looked for, which may yet come);
	// otherwise on the next record.
	path    []byte
	pending bool
}

// Seeker returns a Seeker on p.
func (p *Packed) Seeker() *Seeker { return &Seeker{p: p, b: -1} }

// Lookup is Packed.Lookup: path's entry and its index, the entry's Path
// being the caller's string.
func (s *Seeker) Lookup(path string) (Entry, int, bool) {
	p := s.p
	if p.Len() == 0 {
		return Entry{}, 0, false
	}
	b := s.block(path)
	if b < 0 {
		return Entry{}, 0, false
	}
	// Go on from the cursor only when nothing it has passed could be path.
	switch {
	case b != s.b:
		s.restart(b)
	case s.pending:
		switch cmp := bytes.Compare(s.path, stringBytes(path)); {
		case cmp == 0:
			return s.found(path)
		case cmp > 0:
			s.restart(b)
		default:
			s.c.fields(nil)
			s.pending = false
		}
	case s.c.i > b*PackBlock && bytes.Compare(s.path, stringBytes(path)) >= 0:
		s.restart(b)
	}
	end := min((b+1)*PackBlock, p.n)
	for s.c.i < end {
		s.path = s.c.nextPath(s.path)
		switch cmp := bytes.Compare(s.path, stringBytes(path)); {
		case cmp == 0:
			return s.found(path)
		case cmp > 0:
			s.pending = true
			return Entry{}, s.c.i, false
		}
		s.c.fields(nil)
	}
	return Entry{}, end, false
}

// found decodes the record the cursor is on, which is path's.
func (s *Seeker) found(path string) (Entry, int, bool) {
	i := s.c.i
	var e Entry
	s.c.fields(&e)
	s.pending = false
	e.Path = path
	return e, i, true
}

func (s *Seeker) restart(b int) {
	s.b, s.pending, s.path = b, false, s.path[:0]
	s.c.seek(s.p, b)
}

// block is the last block whose first path is at most path, or -1. The
// cursor's block and the one after it are tried before a search.
func (s *Seeker) block(path string) int {
	p := s.p
	holds := func(b int) bool {
		return p.firstPath(b) <= path && (b+1 == len(p.blocks) || path < p.firstPath(b+1))
	}
	for _, b := range [2]int{s.b, s.b + 1} {
		if b >= 0 && b < len(p.blocks) && holds(b) {
			return b
		}
	}
	return p.blockOf(path)
}
