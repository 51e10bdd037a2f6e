package sha256x2

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
)

// sum2 hashes a and b with Blocks2 over their common whole blocks, in
// steps of step blocks, then finishes each with Resume; a step that covers
// all is Sum2.
func sum2(a, b []byte, step int) ([32]byte, [32]byte) {
	if step >= len(a)/BlockSize && step >= len(b)/BlockSize {
		return Sum2(a, b)
	}
	da, db := New(), New()
	common := min(len(a), len(b)) / BlockSize * BlockSize
	for off := 0; off < common; off += step * BlockSize {
		end := min(off+step*BlockSize, common)
		Blocks2(&da, &db, a[off:end], b[off:end])
	}
	ha, hb := da.Resume(), db.Resume()
	ha.Write(a[common:])
	hb.Write(b[common:])
	var sa, sb [32]byte
	ha.Sum(sa[:0])
	hb.Sum(sb[:0])
	return sa, sb
}

func TestBlocks2MatchesCryptoSHA256(t *testing.T) {
	for _, impl := range []struct {
		name string
		on   bool
	}{{"sha-ni", available}, {"generic", false}} {
		t.Run(impl.name, func(t *testing.T) {
			if impl.name == "sha-ni" && !available {
				t.Skip("no SHA-NI on this CPU: the generic run covers Blocks2") // never the case on the CI machines, which have it
			}
			defer func(was bool) { available = was }(available)
			available = impl.on
			rng := rand.New(rand.NewPCG(1, 2))
			lengths := []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 1 << 16}
			for range 40 {
				lengths = append(lengths, rng.IntN(1<<17))
			}
			for i, la := range lengths {
				lb := lengths[(i*7+3)%len(lengths)]
				a, b := make([]byte, la), make([]byte, lb)
				for i := range a {
					a[i] = byte(rng.Uint32())
				}
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				for _, step := range []int{1, 3, 1 << 20} {
					sa, sb := sum2(a, b, step)
					if sa != sha256.Sum256(a) || sb != sha256.Sum256(b) {
						t.Fatalf("lengths %d and %d, %d blocks a call: digests differ from crypto/sha256", la, lb, step)
					}
				}
			}
		})
	}
}

// TestBlocks2LanesIndependent hashes the same message in both lanes and in
// one lane beside another message: a lane must not see the other's words.
func TestBlocks2LanesIndependent(t *testing.T) {
	m := make([]byte, 64*50)
	for i := range m {
		m[i] = byte(i * 31)
	}
	zero := make([]byte, len(m))
	s1, s2 := sum2(m, m, 1<<20)
	s3, _ := sum2(m, zero, 1<<20)
	_, s4 := sum2(zero, m, 1<<20)
	want := sha256.Sum256(m)
	for i, s := range [][32]byte{s1, s2, s3, s4} {
		if s != want {
			t.Errorf("case %d: %x, want %x", i, s, want)
		}
	}
}

func TestBlocks2RefusesUnevenInput(t *testing.T) {
	for _, c := range [][2]int{{64, 128}, {65, 65}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Blocks2 of %d and %d bytes did not panic", c[0], c[1])
				}
			}()
			a, b := New(), New()
			Blocks2(&a, &b, make([]byte, c[0]), make([]byte, c[1]))
		}()
	}
}

// BenchmarkPair hashes two 4 MiB messages, with Blocks2 and with
// crypto/sha256 one after the other; the speedup is the ratio of the two.
func BenchmarkPair(b *testing.B) {
	a, c := make([]byte, 4<<20), make([]byte, 4<<20)
	var one, two float64
	b.Run("crypto-sha256", func(b *testing.B) {
		b.SetBytes(int64(2 * len(a)))
		for b.Loop() {
			sha256.Sum256(a)
			sha256.Sum256(c)
		}
		one = b.Elapsed().Seconds() / float64(b.N)
	})
	b.Run("blocks2", func(b *testing.B) {
		b.SetBytes(int64(2 * len(a)))
		for b.Loop() {
			da, dc := New(), New()
			Blocks2(&da, &dc, a, c)
		}
		two = b.Elapsed().Seconds() / float64(b.N)
	})
	if two > 0 {
		fmt.Printf("blocks2 hashes two messages %.2fx as fast as crypto/sha256 one after the other\n", one/two)
	}
}
