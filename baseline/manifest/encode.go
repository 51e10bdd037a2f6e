package manifest

import (
	"encoding/binary"

	"driftd/baseline"
)

// encodePackages appends the package inventory and the owners: each
// package's manager, name, version and architecture, then the owned
// entries as (entry index delta, package index) pairs.
func encodePackages(meta []byte, pkgs []baseline.Package, owners []int32) []byte {
	str := func(s string) {
		meta = binary.AppendUvarint(meta, uint64(len(s)))
		meta = append(meta, s...)
	}
	meta = binary.AppendUvarint(meta, uint64(len(pkgs)))
	for _, p := range pkgs {
		str(p.Manager)
		str(p.Name)
		str(p.Version)
		str(p.Arch)
	}
	n := 0
	for _, o := range owners {
		if o >= 0 {
			n++
		}
	}
	meta = binary.AppendUvarint(meta, uint64(n))
	prev := 0
	for i, o := range owners {
		if o >= 0 {
			meta = binary.AppendUvarint(meta, uint64(i-prev))
			meta = binary.AppendUvarint(meta, uint64(o))
			prev = i
		}
	}
	return meta
}
