package manifest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"driftd/baseline"
)

// The contents section (format 3): the baked contents the bake kept for
// diffs, each already compressed, so stored as is, in entry order.

// encodeContents writes the kept contents in entry order: the entry's
// index and the compressed bytes, each with its length.
func encodeContents(m *baseline.Manifest) []byte {
	var out []byte
	if len(m.Contents) == 0 {
		return out
	}
	m.Entries.All(func(i int, e *baseline.Entry) bool {
		if c, ok := m.Contents[e.Path]; ok {
			out = binary.AppendUvarint(out, uint64(i))
			out = binary.AppendUvarint(out, uint64(len(c)))
			out = append(out, c...)
		}
		return true
	})
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
