package manifest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"driftd/baseline"
)

// The contents section (format 3): the baked contents the bake kept for
// diffs, each already compressed, so stored as is, in entry order.

// encodeContents writes the kept contents in entry order: the entry's
// index and the compressed bytes, each with its length. The kept paths are
// found by a search each, not by a pass over every entry.
func encodeContents(m *baseline.Manifest) []byte {
	var out []byte
	type kept struct {
		i    int
		data []byte
	}
	var ks []kept
	for path, c := range m.Contents {
		if i, ok := m.Entries.Find(path); ok {
			ks = append(ks, kept{i, c})
		}
	}
	slices.SortFunc(ks, func(a, b kept) int { return a.i - b.i })
	for _, k := range ks {
		out = binary.AppendUvarint(out, uint64(k.i))
		out = binary.AppendUvarint(out, uint64(len(k.data)))
		out = append(out, k.data...)
	}
	return out
}

func decodeContents(data []byte, entries *baseline.Packed) (map[string][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	last := -1
	for len(data) > 0 {
		i, n := binary.Uvarint(data)
		if n <= 0 || i >= uint64(entries.Len()) || int(i) <= last {
			return nil, fmt.Errorf("bad entry index")
		}
		data = data[n:]
		path := entries.At(int(i)).Path
		l, n := binary.Uvarint(data)
		if n <= 0 || l > uint64(len(data)-n) {
			return nil, fmt.Errorf("bad length for %s", path)
		}
		data = data[n:]
		out[path] = bytes.Clone(data[:l]) // not a view: the file's bytes can go
		data = data[l:]
		last = int(i)
	}
	return out, nil
}
