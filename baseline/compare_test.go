package baseline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestComparerRemoved: every baseline entry not observed is removed, and
// no other, whatever the runs of them: at the start and the end, across
// blocks, alone; for the whole tree and for a subtree whose own entry is
// gone too.
func TestComparerRemoved(t *testing.T) {
	rules, err := CompileRules([]RuleConfig{{Paths: []string{"/**"}, Category: "c", Severity: "low"}})
	if err != nil {
		t.Fatal(err)
	}
	var base []Entry
	for d := range 8 {
		base = append(base, Entry{Path: fmt.Sprintf("/d%d", d), Type: TypeDir})
		for f := range 30 {
			base = append(base, Entry{Path: fmt.Sprintf("/d%d/f%02d", d, f), Type: TypeRegular})
		}
	}
	SortEntries(base)
	packed := Pack(base)
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		gone := map[string]bool{base[0].Path: round%2 == 0, base[len(base)-1].Path: round%3 == 0}
		for range r.IntN(40) {
			at := r.IntN(len(base))
			for k := range 1 + r.IntN(20) {
				if at+k < len(base) {
					gone[base[at+k].Path] = true
				}
			}
		}
		for _, scope := range []string{"/", "/d3"} {
			c := NewScopedComparer(BaseOf(packed), rules, scope)
			var want []string
			for i := range base {
				p := base[i].Path
				if scope != "/" && p != scope && !strings.HasPrefix(p, scope+"/") {
					continue
				}
				if gone[p] {
					want = append(want, p)
					continue
				}
				c.Observe(&base[i])
			}
			var got []string
			for _, f := range c.Result().Findings {
				if f.Kind != Removed {
					t.Fatalf("%s: %s %s", scope, f.Kind, f.Path)
				}
				got = append(got, f.Path)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, scope %s: removed %v\nwant %v", round, scope, got, want)
			}
		}
	}
}
