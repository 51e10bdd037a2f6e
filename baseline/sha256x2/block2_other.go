//go:build !amd64

package sha256x2

const available = false

func blocks2(a, b *[8]uint32, pa, pb *byte, blocks int) { panic("unreachable") }
