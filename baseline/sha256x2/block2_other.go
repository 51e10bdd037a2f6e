//go:build !amd64

package sha256x2

// available is false off amd64: Blocks2 hashes one lane after the other.
var available = false

func blocks2(a, b *[8]uint32, pa, pb *byte, blocks int) {
	panic("sha256x2: no two-lane block function on this architecture")
}
