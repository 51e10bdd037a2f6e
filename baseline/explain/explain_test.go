package explain

import (
	"context"
	"testing"

	"driftd/baseline"
)

func TestExplainRestoredFinding(t *testing.T) {
	base := &baseline.Manifest{Packages: []baseline.Package{{Manager: "dpkg", Name: "a", Version: "1"}}}
	x, err := New(context.Background(), t.TempDir(), base, []baseline.PackageFinding{{Kind: baseline.Removed, Before: base.Packages[0]}})
	if err != nil {
		t.Fatal(err)
	}
	f := baseline.Finding{Path: "/x", Kind: baseline.Removed} // known only by path, as restored from the state
	x.Explain(&f)
	if f.ByHand || f.ExplainedBy != nil {
		t.Errorf("a finding known only by path was judged: %+v", f)
	}
	f = baseline.Finding{Path: "/etc/x", Kind: baseline.Modified, Before: &baseline.Entry{Path: "/etc/x", Type: baseline.TypeRegular}, After: &baseline.Entry{Path: "/etc/x", Type: baseline.TypeRegular}}
	x.Explain(&f)
	if !f.ByHand {
		t.Errorf("a change no package accounts for is not by hand: %+v", f)
	}
}
