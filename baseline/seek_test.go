package baseline

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestSeeker looks up present and absent paths through one Seeker, in
// order, shuffled and in short sorted runs (a walk's batches), and wants
// what Packed.Lookup gives for each.
func TestSeeker(t *testing.T) {
	for _, n := range []int{0, 1, PackBlock, PackBlock + 1, 5000} {
		entries := packTestEntries(n, uint64(n)+7)
		p := Pack(entries)
		var paths []string
		for _, e := range entries {
			paths = append(paths, e.Path, e.Path[:len(e.Path)-1], e.Path+"\x00", e.Path+"/x")
		}
		paths = append(paths, "", "/", "~", "/zzz")
		sorted := slices.Clone(paths)
		slices.Sort(sorted)
		shuffled := slices.Clone(paths)
		r := rand.New(rand.NewPCG(uint64(n), 2))
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var runs []string // sorted runs of up to 12 from the shuffled order
		for rest := slices.Clone(shuffled); len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(12))
			slices.Sort(rest[:k])
			runs, rest = append(runs, rest[:k]...), rest[k:]
		}
		for name, order := range map[string][]string{"sorted": sorted, "shuffled": shuffled, "runs": runs} {
			s := p.Seeker()
			for _, path := range order {
				e, i, ok := s.Lookup(path)
				we, wi, wok := p.Lookup(path)
				if ok != wok || ok && (i != wi || !reflect.DeepEqual(e, we)) {
					t.Fatalf("n=%d %s: Lookup(%q) = %d %v, want %d %v", n, name, path, i, ok, wi, wok)
				}
			}
		}
	}
}

// BenchmarkSeekerBatches looks up a 100k-entry baseline's paths as a check
// does: in batches of about a directory, each sorted, through a Seeker
// (the batches in random order, as the walk's workers take directories),
// beside Packed.Lookup on the same batches.
func BenchmarkSeekerBatches(b *testing.B) {
	entries := packTestEntries(100_000, 1)
	p := Pack(entries)
	var batches [][]string
	for i := 0; i < len(entries); i += 10 {
		var batch []string
		for _, e := range entries[i:min(i+10, len(entries))] {
			batch = append(batch, e.Path)
		}
		batches = append(batches, batch)
	}
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	for _, way := range []string{"Lookup", "Seeker"} {
		b.Run(way, func(b *testing.B) {
			k := 0
			for b.Loop() {
				s := p.Seeker()
				for _, path := range batches[k%len(batches)] {
					var ok bool
					if way == "Seeker" {
						_, _, ok = s.Lookup(path)
					} else {
						_, _, ok = p.Lookup(path)
					}
					if !ok {
						b.Fatal("not found")
					}
				}
				k++
			}
		})
	}
}
