package sha256x2

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
)

// BlockSize is the size of SHA-256's block: Blocks2 takes whole blocks.
const BlockSize = 64

// A Digest is SHA-256's state after a whole number of blocks.
type Digest struct {
	h [8]uint32
	n uint64 // bytes hashed
}

// New returns the state of SHA-256 before any byte.
func New() Digest {
	return Digest{h: [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}}
}

// Available reports whether this CPU hashes two messages at once. Where it
// does not, Blocks2 still works, one message after the other, and is no
// faster than crypto/sha256.
func Available() bool { return available }

// Blocks2 hashes pa into a and pb into b. The two must be the same length,
// a multiple of BlockSize.
func Blocks2(a, b *Digest, pa, pb []byte) {
	if len(pa) != len(pb) || len(pa)%BlockSize != 0 {
		panic(fmt.Sprintf("sha256x2: Blocks2 of %d and %d bytes: want the same whole number of blocks", len(pa), len(pb)))
	}
	if len(pa) == 0 {
		return
	}
	if available {
		blocks2(&a.h, &b.h, &pa[0], &pb[0], len(pa)/BlockSize)
		a.n += uint64(len(pa))
		b.n += uint64(len(pb))
		return
	}
	a.blocksGeneric(pa)
	b.blocksGeneric(pb)
}

// Len is the number of bytes hashed into d.
func (d *Digest) Len() uint64 { return d.n }

// Resume returns crypto/sha256's hash, carrying on from d: what is written
// to it follows the bytes d has hashed, and its Sum is the SHA-256 of all.
func (d *Digest) Resume() hash.Hash {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(d.marshal()); err != nil {
		// crypto/sha256's state format is fixed by its compatibility promise;
		// the tests would see it move first.
		panic("sha256x2: crypto/sha256 refused a state: " + err.Error())
	}
	return h
}

// marshal writes d in crypto/sha256's MarshalBinary format: magic, state,
// a block's buffer (empty, as d holds whole blocks), length.
func (d *Digest) marshal() []byte {
	b := make([]byte, 0, 4+8*4+BlockSize+8)
	b = append(b, "sha\x03"...)
	for _, w := range d.h {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	b = append(b, make([]byte, BlockSize)...)
	return binary.BigEndian.AppendUint64(b, d.n)
}

// blocksGeneric hashes p into d with crypto/sha256, one message at a time.
func (d *Digest) blocksGeneric(p []byte) {
	h := d.Resume()
	h.Write(p)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("sha256x2: crypto/sha256 state: " + err.Error())
	}
	for i := range d.h {
		d.h[i] = binary.BigEndian.Uint32(state[4+4*i:])
	}
	d.n += uint64(len(p))
}

// Sum2 returns the SHA-256 digests of a and b, hashed side by side to the
// end of the shorter.
func Sum2(a, b []byte) (sa, sb [32]byte) {
	da, db := New(), New()
	common := min(len(a), len(b)) &^ (BlockSize - 1)
	Blocks2(&da, &db, a[:common], b[:common])
	ha, hb := da.Resume(), db.Resume()
	ha.Write(a[common:])
	hb.Write(b[common:])
	ha.Sum(sa[:0])
	hb.Sum(sb[:0])
	return sa, sb
}
