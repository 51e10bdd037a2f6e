package sha256x2

import "golang.org/x/sys/cpu"

//go:generate sh -c "go run gen.go > block2_amd64.s"

// available: SHA-NI (CPUID leaf 7, EBX bit 29) and the AVX the block
// function's unaligned loads use.
var available = cpu.X86.HasAVX && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3 && hasSHA()

func hasSHA() bool {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return false
	}
	_, b, _, _ := cpuid(7, 0)
	return b&(1<<29) != 0
}

//go:noescape
func blocks2(a, b *[8]uint32, pa, pb *byte, blocks int)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)
